//! Small typed readers over `serde_json::Value` that record every problem as a located
//! diagnostic and keep going, so `check` reports all problems in one run.

use serde_json::{Map, Value};

use super::diag::Diagnostic;
use super::source::SourceFile;
use crate::jsonpath::JsonPath;

pub struct Reader<'a> {
    pub src: &'a SourceFile,
    pub diags: &'a mut Vec<Diagnostic>,
}

pub use crate::hints::{did_you_mean, json_kind};

impl<'a> Reader<'a> {
    pub fn new(src: &'a SourceFile, diags: &'a mut Vec<Diagnostic>) -> Self {
        Reader { src, diags }
    }

    pub fn error(&mut self, path: JsonPath, msg: impl Into<String>) {
        self.diags.push(self.src.error(path, msg));
    }

    pub fn warn(&mut self, path: JsonPath, msg: impl Into<String>) {
        self.diags.push(self.src.warning(path, msg));
    }

    /// An object whose keys must all be in `allowed`; unknown keys are reported with a
    /// suggestion. `$schema` is always allowed at the top of a file (editor support).
    pub fn object<'v>(
        &mut self,
        path: &JsonPath,
        v: &'v Value,
        allowed: &[&str],
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.error(
                path.clone(),
                format!("expected {what} (an object), found {}", json_kind(v)),
            );
            return None;
        };
        for key in map.keys() {
            if allowed.contains(&key.as_str()) || (path.is_root() && key == "$schema") {
                continue;
            }
            let hint = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => format!("; did you mean \"{s}\"?"),
                None => format!("; expected one of: {}", allowed.join(", ")),
            };
            self.error(
                path.key(key.as_str()),
                format!("unknown field \"{key}\" in {what}{hint}"),
            );
        }
        Some(map)
    }

    pub fn required<'v>(
        &mut self,
        path: &JsonPath,
        map: &'v Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Option<&'v Value> {
        let v = map.get(key);
        if v.is_none() {
            self.error(
                path.clone(),
                format!("missing required field \"{key}\" in {what}"),
            );
        }
        v
    }

    pub fn string(&mut self, path: &JsonPath, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(
                    path.clone(),
                    format!("expected a string, found {}", json_kind(other)),
                );
                None
            }
        }
    }

    pub fn choice(&mut self, path: &JsonPath, v: &Value, choices: &[&str]) -> Option<String> {
        let s = self.string(path, v)?;
        if choices.contains(&s.as_str()) {
            return Some(s);
        }
        let hint = did_you_mean(&s, choices.iter().copied())
            .map(|c| format!(" (did you mean \"{c}\"?)"))
            .unwrap_or_default();
        self.error(
            path.clone(),
            format!("\"{s}\" is not one of {}{hint}", quote_list(choices)),
        );
        None
    }

    pub fn boolean(&mut self, path: &JsonPath, v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(
                    path.clone(),
                    format!("expected true or false, found {}", json_kind(other)),
                );
                None
            }
        }
    }

    /// A whole number no smaller than `min`.
    pub fn integer(&mut self, path: &JsonPath, v: &Value, min: i64) -> Option<i64> {
        match v.as_i64() {
            Some(n) if n >= min => Some(n),
            Some(n) => {
                self.error(path.clone(), format!("{n} is less than the minimum {min}"));
                None
            }
            None => {
                self.error(
                    path.clone(),
                    format!("expected a whole number, found {}", describe(v)),
                );
                None
            }
        }
    }
}

pub fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as a reader would want it quoted in a message.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => json_kind(v).to_string(),
        other => other.to_string(),
    }
}
