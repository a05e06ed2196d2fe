//! The configuration: a TOML file and `TESSERA_*` variables, as an operator (or a config
//! management tool fed by someone else) may write them. The input is the file's text, then a NUL,
//! then `NAME=VALUE` lines as the environment. Whatever the bytes, `FileConfig::parse` answers
//! with a configuration or an error; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use tessera::config::FileConfig;

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let vars: Vec<(OsString, OsString)> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    // Parsing includes the checks `serve` relies on (`FileConfig::validate`).
    let _ = FileConfig::parse(Some(("fuzz.toml", text)), vars.clone());
    let _ = FileConfig::parse(None, vars);
});
