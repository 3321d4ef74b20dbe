//! A problem found in a workspace file, located precisely enough to jump to it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::jsonpath::JsonPath;

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    #[serde(serialize_with = "ser_path")]
    pub file: PathBuf,
    #[serde(rename = "json_path", serialize_with = "ser_display")]
    pub path: JsonPath,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Warnings are printed but do not fail `check`.
    pub warning: bool,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        !self.warning
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.warning { "warning" } else { "error" };
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {level}: ")?;
        if !self.path.is_root() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

fn ser_path<S: serde::Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.display().to_string())
}

fn ser_display<S: serde::Serializer>(p: &JsonPath, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: usize, path: JsonPath, warning: bool) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("indexes/sales/orders.json"),
            path,
            line,
            column: 7,
            message: "something is off".into(),
            warning,
        }
    }

    #[test]
    fn display_has_file_position_path_and_message() {
        let path = JsonPath::root().key("indexes").index(2).key("key");
        assert_eq!(
            diag(3, path.clone(), false).to_string(),
            "indexes/sales/orders.json:3:7: error: indexes[2].key: something is off"
        );
        assert_eq!(
            diag(3, path, true).to_string(),
            "indexes/sales/orders.json:3:7: warning: indexes[2].key: something is off"
        );
    }

    #[test]
    fn display_leaves_out_unknown_position_and_root_path() {
        assert_eq!(
            diag(0, JsonPath::root(), false).to_string(),
            "indexes/sales/orders.json: error: something is off"
        );
        assert_eq!(
            diag(1, JsonPath::root().key("a b"), false).to_string(),
            "indexes/sales/orders.json:1:7: error: [\"a b\"]: something is off"
        );
    }

    #[test]
    fn warnings_are_not_errors() {
        assert!(diag(1, JsonPath::root(), false).is_error());
        assert!(!diag(1, JsonPath::root(), true).is_error());
    }

    #[test]
    fn serializes_with_json_path_as_text() {
        let v = serde_json::to_value(diag(4, JsonPath::root().key("a").index(0), true)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "file": "indexes/sales/orders.json",
                "json_path": "a[0]",
                "line": 4,
                "column": 7,
                "message": "something is off",
                "warning": true,
            })
        );
    }
}
