//! Wire dialects: one module per token API. Each parses its requests into core calls and renders
//! the core's answers and errors in its own shape, in one place.

pub mod rfc6749;
