//! Black-box tests: the real `tessera` binary, real SQLite, HTTP on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests fail by panicking"
)]

mod cli;
mod dialects;
mod guard;
mod harness;
mod jwt;
mod manage;
mod oauth;
mod robustness;
mod token;
