//! Writing one collection: created with its options, its documents written by parallel
//! workers in unordered batches (raw BSON; inserted, or upserted by `--mode`), its indexes
//! built once the data is in, its count checked; duplicates and rejected documents counted.
//! Views are created here too.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use bson::{RawDocumentBuf, doc};
use mongodb::Client;
use tokio::sync::mpsc;

use crate::backup::bulk::insert_batch;
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::format::CollectionMeta;
use crate::backup::nsmatch::split;
use crate::backup::staging::{self, described};

use super::journal::Journal;
use super::overlay::{WriteMode, WriteStats, overlay_batch};
use super::{Batch, NsReport, Unit, dry_report};

/// Creates the collection (when it does not exist) with its options.
pub(super) async fn create_collection(
    client: &Client,
    target: &str,
    meta: &CollectionMeta,
) -> Result<bool> {
    let (db, coll) = split(target);
    let exists = !client
        .database(db)
        .list_collection_names()
        .filter(doc! {"name": coll})
        .await
        .map_err(described)?
        .is_empty();
    if exists {
        return Ok(false);
    }
    staging::create(client, target, meta)
        .await
        .with_context(|| format!("creating {target}"))?;
    Ok(true)
}

/// Creates a view (checked on a temporary name before anything was written); with `drop`,
/// replaces the one there.
pub(super) async fn restore_view(client: &Client, u: &Unit, drop: bool) -> NsReport {
    let mut r = dry_report(u);
    let replaced = async {
        if drop {
            staging::drop_collection(client, &u.target)
                .await
                .with_context(|| format!("dropping {}", u.target))?;
        }
        create_collection(client, &u.target, &u.meta).await
    };
    r.status = match replaced.await {
        Ok(_) => "ok".into(),
        Err(e) => format!("FAILED: {e:#}"),
    };
    r
}

/// One finished batch: (sequence number, documents, bytes, outcome).
pub(super) type Inserted = (u64, u64, u64, WriteStats);

/// How collections are inserted: parallelism, error policy, progress journal.
#[derive(Clone)]
pub(super) struct Ctl {
    pub(super) workers: usize,
    pub(super) stop_on_error: bool,
    pub(super) journal: Journal,
    pub(super) resume: bool,
    pub(super) mode: WriteMode,
}

/// Restores one collection (namespace `index` in the events) from the batches of `rx`.
pub(super) async fn restore_collection(
    client: &Client,
    index: usize,
    u: &Unit,
    mut rx: mpsc::Receiver<Batch>,
    ctl: Ctl,
    observe: &Observer,
) -> NsReport {
    let Ctl {
        workers,
        stop_on_error,
        journal,
        resume,
        mode,
    } = ctl;
    let mut r = dry_report(u);
    r.status = "ok".into();
    let result = async {
        let written = u.written();
        let (mut skip, complete) = if resume {
            journal.get(written).await?
        } else {
            journal.clear(written).await?;
            (0, false)
        };
        if complete {
            r.resumed = u.expected.unwrap_or(skip);
            r.status = "ok".into();
            return Ok(());
        }
        r.resumed = skip;
        observe(Event::Advanced {
            index,
            docs: skip,
            bytes: 0,
        });
        if u.drop_first {
            staging::drop_collection(client, &u.target)
                .await
                .with_context(|| format!("dropping {}", u.target))?;
        }
        // A temporary collection (--drop) is new and empty, like one created here.
        let created = create_collection(client, written, &u.meta).await? || u.stage.is_some();
        let (db, name) = split(written);
        let data_coll = if u.meta.is_timeseries() {
            format!("system.buckets.{name}")
        } else {
            name.to_string()
        };
        let coll = client.database(db).collection::<RawDocumentBuf>(&data_coll);
        let mut set = tokio::task::JoinSet::new();
        let mut stats = WriteStats::default();
        let merge = |s: WriteStats, bytes: u64, stats: &mut WriteStats| -> Result<()> {
            observe(Event::Advanced {
                index,
                docs: s.inserted + s.changed + s.unchanged + s.duplicates + s.errors,
                bytes,
            });
            stats.inserted += s.inserted;
            stats.changed += s.changed;
            stats.unchanged += s.unchanged;
            stats.duplicates += s.duplicates;
            stats.errors += s.errors;
            if stats.first_error.is_none() {
                stats.first_error = s.first_error;
            }
            if stop_on_error && (s.duplicates > 0 || s.errors > 0) {
                bail!(
                    "stopped on the first error (--stop-on-error): {}",
                    stats
                        .first_error
                        .clone()
                        .unwrap_or_else(|| "duplicate key".into())
                );
            }
            Ok(())
        };
        // Progress: batches finish out of order; the journal records the contiguous prefix.
        // A batch with rejected documents (`None`) is not done: the prefix stops before it
        // for good, so that --resume retries it instead of skipping documents never written.
        let base = skip;
        let mut frontier = (0u64, base);
        let mut finished: BTreeMap<u64, Option<u64>> = BTreeMap::new();
        let mut advance = async |seq: u64, n: u64, rejected: bool| -> Result<()> {
            finished.insert(seq, (!rejected).then_some(n));
            let before = frontier.1;
            while let Some(&Some(n)) = finished.get(&frontier.0) {
                finished.remove(&frontier.0);
                frontier = (frontier.0 + 1, frontier.1 + n);
            }
            if frontier.1 != before {
                journal.set(written, frontier.1, false).await?;
            }
            Ok(())
        };
        // A batch that fails (or --stop-on-error) stops new batches; the ones in flight
        // still finish and count, so the report says exactly what was written.
        let mut settle = async |joined: Result<Result<Inserted>, tokio::task::JoinError>| {
            let (sq, n, bytes, st) = joined??;
            let rejected = st.errors > 0;
            merge(st, bytes, &mut stats)?;
            advance(sq, n, rejected).await
        };
        let mut failed: Option<anyhow::Error> = None;
        let mut seq = 0u64;
        while failed.is_none()
            && let Some(b) = rx.recv().await
        {
            let mut batch = match b {
                Ok(b) => b,
                Err(e) => {
                    failed = Some(anyhow!(e));
                    break;
                }
            };
            if skip > 0 {
                let k = (skip as usize).min(batch.len());
                batch.skip(k);
                skip -= k as u64;
                if batch.is_empty() {
                    continue;
                }
            }
            while failed.is_none() && set.len() >= workers.max(1) {
                if let Some(j) = set.join_next().await {
                    failed = settle(j).await.err();
                }
            }
            if failed.is_some() {
                break;
            }
            let c = coll.clone();
            let this = seq;
            seq += 1;
            set.spawn(async move {
                let (n, bytes) = (batch.len() as u64, batch.byte_len() as u64);
                let st = match mode {
                    WriteMode::Insert => insert_batch(c, batch).await.map(WriteStats::from),
                    _ => {
                        let (db, name) = (c.namespace().db, c.name().to_string());
                        overlay_batch(c.client().database(&db), name, batch, mode).await
                    }
                };
                st.map(|st| (this, n, bytes, st))
            });
        }
        while let Some(j) = set.join_next().await {
            if let Err(e) = settle(j).await {
                failed.get_or_insert(e);
            }
        }
        r.inserted = stats.inserted;
        match mode {
            WriteMode::Merge => r.merged = stats.changed,
            _ => r.replaced = stats.changed,
        }
        r.unchanged = stats.unchanged;
        r.duplicates = stats.duplicates;
        r.errors = stats.errors;
        if let Some(e) = failed {
            return Err(e);
        }
        // Indexes once the data is in.
        observe(Event::Phase(Phase::BuildingIndexes { namespace: written }));
        staging::build_indexes(client, written, &u.meta)
            .await
            .with_context(|| format!("building the indexes of {written}"))?;
        if let Some(e) = stats.first_error {
            bail!("{} document(s) rejected, first: {e}", stats.errors);
        }
        if let Some(exp) = u.expected {
            let written = stats.inserted + stats.changed + stats.unchanged;
            if r.resumed + written + stats.duplicates != exp {
                bail!(
                    "{} inserted + {} replaced or merged + {} unchanged + {} duplicates + {} \
                     restored earlier, the backup holds {exp}",
                    stats.inserted,
                    stats.changed,
                    stats.unchanged,
                    stats.duplicates,
                    r.resumed
                );
            }
            if created {
                let n = coll.estimated_document_count().await.map_err(described)?;
                if n != exp {
                    bail!("{written} holds {n} documents after the restore, expected {exp}");
                }
            }
        }
        journal.set(written, frontier.1, true).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    observe(Event::NamespaceFinished {
        index,
        ok: result.is_ok(),
    });
    if let Err(e) = result {
        r.status = format!("FAILED: {e:#}");
    }
    r.stage = u.stage.clone();
    r
}
