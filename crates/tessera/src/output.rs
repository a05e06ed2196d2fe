//! What a command prints: its result as one JSON document on stdout, or one error line on stderr,
//! with the exit code to match.

use anyhow::{Context, Result};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use std::process::ExitCode;
use tessera_core::admin::CreatedSecret;

/// A value as JSON.
pub fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).context("cannot render JSON")
}

/// The JSON of a created secret: the only output that ever holds a secret value.
pub fn created_secret(s: &CreatedSecret) -> Result<Value> {
    let mut v = to_json(&s.meta)?;
    let pair = format!("{}:{}", s.meta.client_id, s.value.expose());
    v["secret"] = json!(s.value.expose());
    v["api_key"] = json!(base64::engine::general_purpose::STANDARD.encode(pair));
    Ok(v)
}

/// Prints a command's outcome and returns the exit code.
pub fn finish(outcome: Result<Option<Value>>) -> ExitCode {
    match outcome {
        Ok(Some(v)) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => fail(&error_line(&e)),
    }
}

/// Prints `line` on stderr and returns the failure exit code.
pub fn fail(line: &str) -> ExitCode {
    eprintln!("{line}");
    ExitCode::FAILURE
}

/// `error: ` and the error with its causes, outermost first, on one line. A cause whose text
/// the message before it already ends with is not repeated. No error here carries a secret: the
/// store redacts database URLs, and the config file's parse errors keep only their message.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = format!("error: {e}");
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_shows_each_cause_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(io).context("cannot create data directory x");
        assert_eq!(
            error_line(&e),
            "error: cannot create data directory x: disk full"
        );
        let e = anyhow::anyhow!("storage error: timeout").context("storage error: timeout");
        assert_eq!(error_line(&e), "error: storage error: timeout");
    }
}
