//! tessera's domain core: no HTTP, no SQL.
//!
//! The layers, from the outside in:
//! - front ends (the HTTP dialects in `tessera-server`, the CLI in `tessera`) parse requests into
//!   the types of this crate and render its answers and errors in their own wire format;
//! - [`issue::Issuer`] authenticates clients against the in-memory [`directory::Directory`] and
//!   signs RFC 9068 tokens with the [`keyring::Keyring`]'s current key; it never waits on storage;
//! - [`admin::Admin`] reads tenants, applications and secrets through the [`store::Store`] port,
//!   and changes them only as an [`admin::ActingAdmin`], which audits each change in the name of
//!   the [`audit::Actor`] the front end names;
//! - every node follows the store's change feed, so the directory and key ring reflect changes made
//!   anywhere (the CLI, another node) within a second.
//!
//! Secrets are digested with HMAC-SHA-256, not a password hash; [`secret`] explains why.

pub mod admin;
pub mod audit;
pub mod clock;
pub mod context;
pub mod directory;
pub mod error;
pub mod ids;
pub mod issue;
pub mod keyring;
pub mod keys;
pub mod master;
pub mod model;
pub mod people;
pub mod role;
pub mod secret;
pub mod store;
pub mod throttle;
pub mod usage;
pub mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{AuthFailure, CoreError, TokenError};
pub use tessera_proto as proto;
