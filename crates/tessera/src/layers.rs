//! Where each setting comes from: flag > environment > config file > default.
//!
//! Every key of the config file can be set from a `TESSERA_*` variable: the key path in capitals,
//! sections joined by a double underscore (`tokens.ttl_seconds` is `TESSERA_TOKENS__TTL_SECONDS`,
//! `dialects.basiq.enabled` is `TESSERA_DIALECTS__BASIQ__ENABLED`). A value is read as the key's
//! type: text as is, numbers and booleans parsed, lists and tables as TOML (`["10.0.0.0/8"]`). A
//! `TESSERA_*` variable that names no key is an error, like an unknown key in the file.
//!
//! Written by hand rather than with figment: what is needed is an overlay of one JSON tree with
//! the source of each key, checked against the shape of the defaults; figment would bring a
//! second `toml` and a value model of its own for it.

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

/// The prefix of every tessera variable.
const PREFIX: &str = "TESSERA_";

/// Variables that are the command line's, not config keys: the global flags' (`--database`,
/// `--config`), the master key and the log filter.
pub const NOT_KEYS: &[&str] = &[
    "TESSERA_CONFIG",
    "TESSERA_DATABASE_URL",
    "TESSERA_MASTER_KEY",
    "TESSERA_LOG",
];

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// The config file at this path.
    File(String),
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {p}"),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// The source of each key that did not keep its default, by dotted path. A list or table set
/// as a whole has one entry for all of it.
#[derive(Debug, Default, Clone)]
pub struct Sources(BTreeMap<String, Source>);

impl Sources {
    /// The source of the setting at `path`: the entry for it or for the nearest enclosing key,
    /// else the default.
    pub fn of(&self, path: &str) -> Source {
        let mut p = path;
        loop {
            if let Some(s) = self.0.get(p) {
                return s.clone();
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return Source::Default,
            }
        }
    }

    /// Records `source` for `path`, replacing what was recorded for it and below it.
    pub fn set(&mut self, path: &str, source: Source) {
        let below = format!("{path}.");
        self.0.retain(|k, _| k != path && !k.starts_with(&below));
        self.0.insert(path.to_owned(), source);
    }

    /// Records `source` for every leaf of `tree` (a config file read as JSON).
    pub fn mark_leaves(&mut self, tree: &Value, source: &Source) {
        for (path, _) in leaves(tree) {
            self.set(&path, source.clone());
        }
    }
}

/// The leaves of a JSON tree by dotted path: scalars, lists and empty tables.
pub fn leaves(tree: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => out.push((prefix.to_owned(), v)),
        }
    }
    let mut out = Vec::new();
    walk("", tree, &mut out);
    out
}

/// One variable that sets a key.
#[derive(Debug)]
struct EnvSetting {
    var: String,
    path: Vec<String>,
    value: Value,
}

/// Sets every `TESSERA_*` variable of `vars` (except [`NOT_KEYS`]) into `tree`, checked against
/// `shape` (the defaults as JSON), and records them in `sources`. Returns the variables used.
pub fn apply_env(
    tree: &mut Value,
    shape: &Value,
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    sources: &mut Sources,
) -> Result<Vec<String>> {
    let mut settings = Vec::new();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) || NOT_KEYS.contains(&name) {
            continue;
        }
        let value = value
            .into_string()
            .map_err(|_| anyhow!("{name}: the value is not UTF-8"))?;
        settings.push(parse_var(name, &value, shape)?);
    }
    // Deterministic whatever the environment's order: a table before the keys inside it.
    settings.sort_by(|a, b| a.path.cmp(&b.path));
    let mut used = Vec::with_capacity(settings.len());
    for s in settings {
        set_at(tree, &s.path, s.value);
        sources.set(&s.path.join("."), Source::Env(s.var.clone()));
        used.push(s.var);
    }
    Ok(used)
}

/// Reads one variable: its key path, checked against `shape`, and its value as that key's type.
fn parse_var(name: &str, raw: &str, shape: &Value) -> Result<EnvSetting> {
    let rest = &name[PREFIX.len()..];
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let unknown = || {
        anyhow!(
            "{name}: no config key {} (variables are TESSERA_ + the key path in capitals, sections joined by __)",
            path.join(".")
        )
    };
    if path.iter().any(String::is_empty) {
        return Err(unknown());
    }
    // Walk the defaults: a table with keys is a section (its keys are the only ones), an empty
    // table is an open map (dialect sections, per-application rates), checked when read.
    let mut at = Some(shape);
    for seg in &path {
        at = match at {
            Some(Value::Object(m)) if m.is_empty() => None,
            Some(Value::Object(m)) => Some(m.get(seg).ok_or_else(unknown)?),
            Some(_) => return Err(unknown()),
            None => None,
        };
    }
    let value = match at {
        Some(Value::String(_)) => Value::String(raw.to_owned()),
        Some(Value::Bool(_)) => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => bail!("{name}: expected true or false"),
        },
        Some(Value::Number(_)) => {
            let n = toml_value(raw).filter(Value::is_number);
            n.ok_or_else(|| anyhow!("{name}: expected a number"))?
        }
        Some(Value::Array(_)) => {
            let a = toml_value(raw).filter(Value::is_array);
            a.ok_or_else(|| anyhow!("{name}: expected a TOML list, such as [\"a\", \"b\"]"))?
        }
        Some(Value::Object(_)) => {
            let t = toml_value(raw).filter(Value::is_object);
            t.ok_or_else(|| anyhow!("{name}: expected a TOML inline table, such as {{ key = 1 }}"))?
        }
        // An optional key without a default, or inside an open map: TOML if it reads as a
        // value, else text (URLs, addresses and paths are not TOML).
        Some(Value::Null) | None => {
            toml_value(raw).unwrap_or_else(|| Value::String(raw.to_owned()))
        }
    };
    Ok(EnvSetting {
        var: name.to_owned(),
        path,
        value,
    })
}

/// `raw` read as one TOML value, as JSON.
fn toml_value(raw: &str) -> Option<Value> {
    let doc: toml::Table = toml::from_str(&format!("v = {raw}")).ok()?;
    if doc.len() != 1 {
        return None;
    }
    serde_json::to_value(doc.get("v")?).ok()
}

/// Puts `value` at `path` in `tree`, making the tables on the way.
fn set_at(tree: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = tree;
    for p in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        cur = m
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(m) = cur {
        m.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape() -> Value {
        json!({
            "issuer": null,
            "tokens": {"ttl_seconds": 3600, "algorithm": "ES256"},
            "limits": {"trusted_proxies": [], "app_token_rates": {}},
            "metrics": {"enabled": true},
            "dialects": {}
        })
    }

    fn env(vars: &[(&str, &str)]) -> Result<(Value, Sources)> {
        let mut tree = json!({});
        let mut sources = Sources::default();
        let vars = vars
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        apply_env(&mut tree, &shape(), vars, &mut sources)?;
        Ok((tree, sources))
    }

    #[test]
    fn variables_set_keys_as_their_types() {
        let (tree, sources) = env(&[
            ("TESSERA_TOKENS__TTL_SECONDS", "600"),
            ("TESSERA_TOKENS__ALGORITHM", "EdDSA"),
            ("TESSERA_ISSUER", "https://auth.example.com"),
            ("TESSERA_LIMITS__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]"),
            ("TESSERA_METRICS__ENABLED", "false"),
            ("TESSERA_DIALECTS__BASIQ__ENABLED", "false"),
            ("TESSERA_MASTER_KEY", "not a key"),
            ("OTHER", "x"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            tree,
            json!({
                "issuer": "https://auth.example.com",
                "tokens": {"ttl_seconds": 600, "algorithm": "EdDSA"},
                "limits": {"trusted_proxies": ["10.0.0.0/8"]},
                "metrics": {"enabled": false},
                "dialects": {"basiq": {"enabled": false}}
            })
        );
        assert_eq!(
            sources.of("tokens.ttl_seconds"),
            Source::Env("TESSERA_TOKENS__TTL_SECONDS".into())
        );
        assert_eq!(sources.of("keys.max_token_ttl_seconds"), Source::Default);
    }

    #[test]
    fn unknown_and_mistyped_variables_are_errors() {
        for (var, value, says) in [
            (
                "TESSERA_TOKENS__TTL_SECONDZ",
                "1",
                "no config key tokens.ttl_secondz",
            ),
            ("TESSERA_NOPE", "1", "no config key nope"),
            ("TESSERA_TOKENS", "1", "expected a TOML inline table"),
            ("TESSERA_TOKENS__TTL_SECONDS__X", "1", "no config key"),
            ("TESSERA_TOKENS__TTL_SECONDS", "soon", "expected a number"),
            ("TESSERA_METRICS__ENABLED", "yes", "expected true or false"),
            ("TESSERA_TOKENS____X", "1", "no config key"),
        ] {
            let err = env(&[(var, value)]).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains(var) && e.contains(says)),
                "{var}: {err:?}"
            );
        }
    }

    #[test]
    fn a_value_with_a_second_line_stays_text() {
        let (tree, _) =
            env(&[("TESSERA_ISSUER", "1\ntokens = 2")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tree["issuer"], json!("1\ntokens = 2"));
    }
}
