//! The tessera binary: `tessera serve` runs the authorization server; the other commands
//! administer tenants, applications, secrets and keys directly through the core (never through
//! the HTTP layer). Every command prints JSON on stdout; errors go to stderr with a non-zero exit.

mod args;
// The configuration is the library half of this crate (fuzzed from there).
use tessera::{config, layers};
mod commands;
mod database;
mod line_batch;
mod master_key;
mod output;
mod settings;

use clap::Parser;
use clap::error::ErrorKind;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: per-thread heaps, so memory freed on another worker
/// thread does not contend for an arena lock, and freed pages go back to the system.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // A malformed id, duration or instant: one line, like every other refused input, rather
        // than clap's usage block.
        Err(e) if e.kind() == ErrorKind::ValueValidation => {
            let text = e.render().to_string();
            return output::fail(text.lines().next().unwrap_or("error: invalid value"));
        }
        Err(e) => e.exit(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return output::fail(&format!("error: cannot start the runtime: {e}")),
    };
    output::finish(rt.block_on(commands::run(cli)))
}
