//! The tessera binary: `tessera serve` runs the authorization server; the other commands
//! administer tenants, applications, secrets and keys directly through the core (never through
//! the HTTP layer). Every command prints JSON on stdout; errors go to stderr with a non-zero exit.

mod cli;
mod config;
mod master_key;
mod serve;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
