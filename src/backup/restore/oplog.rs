//! `--oplog-replay`: the backup's oplog applied after the data with `applyOps`, in bounded
//! batches, renamed like the data, up to `--oplog-limit`.

use std::io::Read;

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use mongodb::Client;

use crate::backup::bsonio::{Next, read_doc};
use crate::backup::nsmatch::split;
use crate::backup::staging::described;

use super::{RestoreOptions, RestoreReport};

/// Applies oplog entries (CRUD and commands of the selected namespaces, renamed) in batches
/// with `applyOps`, stopping before `oplog_limit`. Records in `report` how many were applied
/// and the first entry the limit kept out.
pub(super) async fn replay_oplog<R: Read>(
    client: &Client,
    mut r: R,
    opts: &RestoreOptions,
    report: &mut RestoreReport,
) -> Result<()> {
    // Entries are read one at a time and applied in batches bounded in count and bytes, so
    // memory stays small however long the oplog (and each applyOps stays under 16 MiB).
    const MAX_OPS: usize = 500;
    const MAX_BYTES: usize = 8 << 20;
    let admin = client.database("admin");
    let mut offset = 0u64;
    let mut batch: Vec<Document> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut applied = 0u64;
    loop {
        let (entry, len) = match read_doc(&mut r, &mut offset)? {
            Next::Doc(d) => (Some(Document::from_reader(&d[..])?), d.len()),
            _ => (None, 0),
        };
        let stop = match &entry {
            None => true,
            Some(e) => match (opts.oplog_limit, e.get_timestamp("ts")) {
                (Some(limit), Ok(ts))
                    if (ts.time, ts.increment) >= (limit.time, limit.increment) =>
                {
                    report.oplog_stopped_before = Some([ts.time, ts.increment]);
                    true
                }
                _ => false,
            },
        };
        let mut next = None;
        if !stop && let Some(mut e) = entry {
            let op = e.get_str("op").unwrap_or("n").to_string();
            let ns = e.get_str("ns").unwrap_or_default().to_string();
            if op == "n" || ns.is_empty() {
                continue;
            }
            if op != "c" {
                if !opts.rules.selected(&ns) {
                    continue;
                }
                e.insert("ns", opts.rules.rename(&ns));
            } else {
                let (db, _) = split(&ns);
                let target = opts.rules.rename(&format!("{db}.x"));
                if !opts.rules.selected(&format!("{db}.x")) && !opts.rules.include.is_empty() {
                    continue;
                }
                e.insert("ns", format!("{}.$cmd", split(&target).0));
            }
            e.remove("ui");
            next = Some(e);
        }
        let full = batch.len() >= MAX_OPS || (next.is_some() && batch_bytes + len > MAX_BYTES);
        if !batch.is_empty() && (stop || full) {
            let n = batch.len() as u64;
            let ops: Vec<Bson> = std::mem::take(&mut batch)
                .into_iter()
                .map(Bson::Document)
                .collect();
            batch_bytes = 0;
            admin
                .run_command(doc! {"applyOps": ops})
                .await
                .map_err(described)
                .context("replaying the oplog (applyOps)")?;
            applied += n;
        }
        if stop {
            report.oplog_applied = Some(applied);
            return Ok(());
        }
        if let Some(e) = next {
            batch.push(e);
            batch_bytes += len;
        }
    }
}
