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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    fn source(text: &str) -> SourceFile {
        SourceFile::parse(Path::new("f.json"), text.into())
            .unwrap()
            .0
    }

    #[test]
    fn did_you_mean_suggests_only_close_words() {
        let fields = ["domains", "environments", "project"];
        assert_eq!(did_you_mean("domain", fields), Some("domains"));
        assert_eq!(did_you_mean("enviroments", fields), Some("environments"));
        // Case does not count against a match.
        assert_eq!(did_you_mean("PROJECT", fields), Some("project"));
        assert_eq!(did_you_mean("zzz", fields), None);
        // Around the 0.8 Jaro-Winkler threshold: 0.833 is suggested, 0.767 and 0.775 are not.
        assert_eq!(did_you_mean("colls", ["collections"]), Some("collections"));
        assert_eq!(did_you_mean("envs", fields), None);
        assert_eq!(did_you_mean("db", ["database"]), None);
        assert_eq!(did_you_mean("x", ["y"]), None);
        assert_eq!(did_you_mean("anything", []), None);
    }

    #[test]
    fn did_you_mean_picks_the_closest() {
        assert_eq!(
            did_you_mean("strikt", ["off", "strict", "moderate"]),
            Some("strict")
        );
        assert_eq!(
            did_you_mean("uniqe", ["sparse", "unique", "name"]),
            Some("unique")
        );
    }

    #[test]
    fn describe_quotes_scalars_and_names_containers() {
        assert_eq!(describe(&json!("a")), "\"a\"");
        assert_eq!(describe(&json!(1.5)), "1.5");
        assert_eq!(describe(&json!(null)), "null");
        assert_eq!(describe(&json!(true)), "true");
        assert_eq!(describe(&json!({"a": 1})), "an object");
        assert_eq!(describe(&json!([1])), "an array");
    }

    #[test]
    fn quote_list_quotes_and_joins() {
        assert_eq!(quote_list(&["a", "b c"]), r#""a", "b c""#);
        assert_eq!(quote_list(&["one"]), r#""one""#);
        assert_eq!(quote_list(&[]), "");
    }

    #[test]
    fn json_kind_names() {
        assert_eq!(json_kind(&json!(null)), "null");
        assert_eq!(json_kind(&json!(1)), "a number");
        assert_eq!(json_kind(&json!("s")), "a string");
        assert_eq!(json_kind(&json!(false)), "a boolean");
    }

    #[test]
    fn object_allows_schema_key_only_at_the_root() {
        let src = source(r#"{"$schema": "x", "inner": {"$schema": "y"}}"#);
        let mut diags = Vec::new();
        let mut r = Reader::new(&src, &mut diags);
        let root = JsonPath::root();
        let top = r.object(&root, &src.value, &["inner"], "a file").unwrap();
        assert_eq!(top.len(), 2);
        r.object(
            &root.key("inner"),
            &top["inner"],
            &["other"],
            "an inner thing",
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].path.to_string(), "inner.$schema");
        assert_eq!(
            diags[0].message,
            "unknown field \"$schema\" in an inner thing; expected one of: other"
        );
        assert_eq!((diags[0].line, diags[0].column), (1, 28));
    }

    #[test]
    fn typed_readers_report_wrong_types() {
        let src = source("{}");
        let mut diags = Vec::new();
        let mut r = Reader::new(&src, &mut diags);
        let p = JsonPath::root().key("x");
        assert_eq!(r.string(&p, &json!("ok")), Some("ok".into()));
        assert_eq!(r.string(&p, &json!([])), None);
        assert_eq!(r.boolean(&p, &json!(true)), Some(true));
        assert_eq!(r.boolean(&p, &json!("true")), None);
        assert_eq!(r.integer(&p, &json!(3), 3), Some(3));
        assert_eq!(r.integer(&p, &json!(2), 3), None);
        assert_eq!(r.integer(&p, &json!("3"), 0), None);
        assert_eq!(r.choice(&p, &json!("b"), &["a", "b"]), Some("b".into()));
        assert_eq!(r.choice(&p, &json!("zz"), &["a", "b"]), None);
        assert!(r.required(&p, &Map::new(), "k", "a thing").is_none());
        r.warn(p.clone(), "careful");
        let msgs: Vec<_> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "expected a string, found an array",
                "expected true or false, found a string",
                "2 is less than the minimum 3",
                "expected a whole number, found \"3\"",
                "\"zz\" is not one of \"a\", \"b\"",
                "missing required field \"k\" in a thing",
                "careful",
            ]
        );
        assert!(diags[..6].iter().all(Diagnostic::is_error));
        assert!(diags[6].warning);
    }
}
