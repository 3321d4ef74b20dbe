//! The rejects file: one JSON line per source row that did not become a document (the
//! collection, the source, the row's key and the reason), appended batch by batch before the
//! watermark moves, so a resumed run may write a line twice: readers count distinct keys.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reject {
    pub collection: String,
    pub source: String,
    pub key: String,
    pub reason: String,
    /// A key collision kept by `onKeyCollision: keepFirst` (`--strict` does not stop on it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub collision: bool,
}

pub fn append(path: &Path, rejects: &[Reject]) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the rejects file {}", path.display()))?;
    let mut buf = Vec::new();
    for r in rejects {
        serde_json::to_writer(&mut buf, r)?;
        buf.push(b'\n');
    }
    f.write_all(&buf)
        .and_then(|_| f.sync_data())
        .with_context(|| format!("writing the rejects file {}", path.display()))
}

/// The distinct keys rejected from (collection, source).
pub fn keys(path: &Path, collection: &str, source: &str) -> Result<BTreeSet<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = BTreeSet::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Reject = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a rejects line", path.display(), i + 1))?;
        if r.collection == collection && r.source == source {
            out.insert(r.key);
        }
    }
    Ok(out)
}
