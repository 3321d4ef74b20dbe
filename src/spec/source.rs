//! One workspace file: its text, its parsed JSON, and where every JSON path starts in the
//! text, so that each diagnostic can say `file:line:column`.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use jsonc_parser::ast::{ObjectPropName, Value as AstValue};
use jsonc_parser::common::Ranged;

use super::diag::Diagnostic;
use crate::jsonpath::JsonPath;

#[derive(Debug)]
pub struct SourceFile {
    /// Path relative to the workspace root, as shown in messages.
    pub rel: PathBuf,
    pub value: serde_json::Value,
    positions: HashMap<JsonPath, usize>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Reads and parses a strict-JSON file. Syntax errors and duplicate keys are returned as
    /// diagnostics (a file with a syntax error yields no value at all).
    pub fn read(root: &Path, rel: &Path) -> Result<(SourceFile, Vec<Diagnostic>), Diagnostic> {
        let fail = |message: String| Diagnostic {
            file: rel.to_path_buf(),
            path: JsonPath::root(),
            line: 0,
            column: 0,
            message,
            warning: false,
        };
        let bytes = read_spec_file(root, rel).map_err(fail)?;
        let (bytes, bom) = match bytes.strip_prefix(UTF8_BOM) {
            Some(rest) => (rest.to_vec(), true),
            None => (bytes, false),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_col_of_byte(e.as_bytes(), e.utf8_error().valid_up_to());
            Diagnostic {
                line,
                column,
                ..fail("not valid UTF-8: save the file as UTF-8".into())
            }
        })?;
        let (file, mut diags) = Self::parse(rel, text)?;
        if bom {
            // Positions stay right: editors do not count the mark as a column.
            diags.insert(0, Diagnostic {
                warning: true,
                ..fail("starts with a UTF-8 byte order mark (BOM); mongoctl ignores it, but other JSON tools refuse it: save the file without one".into())
            });
        }
        Ok((file, diags))
    }

    pub fn parse(rel: &Path, text: String) -> Result<(SourceFile, Vec<Diagnostic>), Diagnostic> {
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Diagnostic {
            file: rel.to_path_buf(),
            path: JsonPath::root(),
            line: e.line(),
            column: e.column(),
            message: format!("invalid JSON: {}", strip_position(&e.to_string())),
            warning: false,
        })?;
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut file = SourceFile {
            rel: rel.to_path_buf(),
            value,
            positions: HashMap::new(),
            line_starts,
        };
        let mut duplicates = Vec::new();
        // serde_json accepted the text, so the strict subset of jsonc always parses too.
        if let Ok(ast) = jsonc_parser::parse_to_ast(
            &text,
            &Default::default(),
            &jsonc_parser::ParseOptions {
                allow_comments: false,
                allow_loose_object_property_names: false,
                allow_trailing_commas: false,
                ..Default::default()
            },
        ) && let Some(root) = &ast.value
        {
            index_positions(root, JsonPath::root(), &mut file.positions, &mut duplicates);
        }
        let diags = duplicates
            .into_iter()
            .map(|(path, offset)| {
                let (line, column) = file.line_col(offset);
                Diagnostic {
                    file: file.rel.clone(),
                    message: "duplicate key: JSON objects must not repeat a key (the last one would silently win)".into(),
                    path,
                    line,
                    column,
                    warning: false,
                }
            })
            .collect();
        Ok((file, diags))
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let col = offset - self.line_starts[line - 1] + 1;
        (line, col)
    }

    /// Line and column of `path`, or of its nearest ancestor that exists in the file
    /// (a missing field is reported where its parent object starts).
    pub fn locate(&self, path: &JsonPath) -> (usize, usize) {
        let mut p = Some(path.clone());
        while let Some(cur) = p {
            if let Some(&off) = self.positions.get(&cur) {
                return self.line_col(off);
            }
            p = cur.parent();
        }
        (1, 1)
    }

    pub fn error(&self, path: JsonPath, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.locate(&path);
        Diagnostic {
            file: self.rel.clone(),
            path,
            line,
            column,
            message: message.into(),
            warning: false,
        }
    }

    pub fn warning(&self, path: JsonPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            warning: true,
            ..self.error(path, message)
        }
    }
}

/// Spec files are small text; anything larger is a mistake (or `/dev/zero` behind a link).
pub const MAX_SPEC_FILE_BYTES: u64 = 64 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes of `root/rel` if it is a regular file inside the workspace, no larger than
/// [`MAX_SPEC_FILE_BYTES`]. A FIFO, device or socket is never opened (opening a FIFO blocks),
/// and a symbolic link may point anywhere inside the workspace but not outside it.
fn read_spec_file(root: &Path, rel: &Path) -> Result<Vec<u8>, String> {
    let path = root.join(rel);
    // Canonical paths catch a link anywhere on the way: the file, its domain folder, `seeds/`.
    let target = std::fs::canonicalize(&path).map_err(|e| format!("cannot read file: {e}"))?;
    let workspace = std::fs::canonicalize(root)
        .map_err(|e| format!("cannot resolve the workspace folder: {e}"))?;
    if !target.starts_with(&workspace) {
        return Err(format!(
            "is a symbolic link to {}, outside the workspace: spec files must live in it",
            target.display()
        ));
    }
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read file: {e}"))?;
    check_regular(&meta)?;
    // O_NONBLOCK: should the entry be swapped for a FIFO after the check, open does not hang.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| format!("cannot read file: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read file: {e}"))?;
    check_regular(&meta)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if bytes.len() as u64 > MAX_SPEC_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

fn check_regular(meta: &std::fs::Metadata) -> Result<(), String> {
    let t = meta.file_type();
    let kind = if t.is_file() {
        return match meta.len() {
            n if n > MAX_SPEC_FILE_BYTES => Err(too_large(n)),
            _ => Ok(()),
        };
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(format!(
        "is {kind}, not a regular file: spec files must be regular files; it was not opened"
    ))
}

fn too_large(n: u64) -> String {
    format!(
        "is {n} bytes, larger than the {} MiB a spec file may be",
        MAX_SPEC_FILE_BYTES / (1024 * 1024)
    )
}

/// 1-based line and column (in characters) of byte `offset` in possibly invalid UTF-8.
fn line_col_of_byte(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

fn index_positions(
    value: &AstValue,
    path: JsonPath,
    out: &mut HashMap<JsonPath, usize>,
    duplicates: &mut Vec<(JsonPath, usize)>,
) {
    out.entry(path.clone()).or_insert(value.range().start);
    match value {
        AstValue::Object(obj) => {
            for prop in &obj.properties {
                let name = match &prop.name {
                    ObjectPropName::String(s) => s.value.to_string(),
                    ObjectPropName::Word(w) => w.value.to_string(),
                };
                let child = path.key(name);
                if out.contains_key(&child) {
                    duplicates.push((child.clone(), prop.range.start));
                }
                // Point at the property name: that is where a reader looks for a bad field.
                out.insert(child.clone(), prop.range.start);
                index_positions(&prop.value, child, out, duplicates);
            }
        }
        AstValue::Array(arr) => {
            for (i, el) in arr.elements.iter().enumerate() {
                index_positions(el, path.index(i), out, duplicates);
            }
        }
        _ => {}
    }
}

/// serde_json appends " at line X column Y"; we print the position ourselves.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_paths_and_missing_ones_at_parent() {
        let text = "{\n  \"a\": {\n    \"b\": [1, {\"c\": true}]\n  }\n}\n".to_string();
        let (f, d) = SourceFile::parse(Path::new("x.json"), text).unwrap();
        assert!(d.is_empty());
        assert_eq!(f.locate(&JsonPath::root().key("a")), (2, 3));
        assert_eq!(
            f.locate(&JsonPath::root().key("a").key("b").index(1).key("c")),
            (3, 15)
        );
        assert_eq!(f.locate(&JsonPath::root().key("a").key("zzz")), (2, 3));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = SourceFile::parse(Path::new("x.json"), "{\n  \"a\": 1,\n}".into()).unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(
            err.message.starts_with("invalid JSON: trailing comma"),
            "{}",
            err.message
        );
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let (_, d) = SourceFile::parse(Path::new("x.json"), "{\"a\": 1, \"a\": 2}".into()).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path.to_string(), "a");
        assert_eq!(d[0].column, 10);
    }
}
