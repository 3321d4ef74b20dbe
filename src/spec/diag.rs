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
