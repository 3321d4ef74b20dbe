//! copyCollection / moveCollection steps on the relocate engine, and the guard that lets a
//! moved collection's source be dropped only while it still holds exactly what the move
//! verified (so nothing written to it after the cut-over is lost).

use anyhow::{Result, bail};
use bson::{Bson, Document, doc};
use mongodb::Client;

use super::changelog::{self, Entry, RollbackPoint, StepRecord, StepStatus};
use super::events::Event;
use super::model::CollRef;
use super::target::collection_exists;
use super::up::Engine;
use crate::backup::events as backup_events;
use crate::error::described;
use crate::relocate::{self, CopyOptions, Namespace};

/// Copies `from` to `to`, verified; returns the rollback point (drop the target) and what was
/// verified, for the changelog.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    e: &Engine<'_>,
    migration: &str,
    index: u32,
    from: &CollRef,
    to: &CollRef,
    record: &StepRecord,
    replica_set: bool,
    is_move: bool,
) -> Result<(Option<RollbackPoint>, Document)> {
    let (sdb, scoll) = e.dbs.resolve(from)?;
    let (tdb, tcoll) = e.dbs.resolve(to)?;
    let (source, target) = (Namespace::new(sdb, scoll), Namespace::new(tdb, tcoll));
    if !collection_exists(e.client, &source.db, &source.coll).await? {
        // An environment created after the move (from the spec) never had the source.
        // Recorded and shown, not silent.
        return Ok((
            None,
            doc! {
                "source": source.to_string(),
                "target": target.to_string(),
                "is_move": is_move,
                "documents": 0_i64,
                "skipped": format!("nothing to copy: {source} does not exist"),
            },
        ));
    }
    // Recorded before anything is written: dropping the target undoes the copy.
    let point = RollbackPoint::DropTarget {
        namespace: target.to_string(),
    };
    if record.rollback.is_none() {
        changelog::update_step(
            e.client,
            e.meta_db,
            migration,
            index,
            doc! {"rollback": bson::to_bson(&point)?},
            doc! {},
            None,
        )
        .await?;
    }
    // An empty target is what `apply` creates from the spec before the migrations: the copy
    // recreates it with the source's options (apply then converges it to the spec).
    let tcoll_ = e
        .client
        .database(&target.db)
        .collection::<Document>(&target.coll);
    if collection_exists(e.client, &target.db, &target.coll).await?
        && tcoll_.estimated_document_count().await.map_err(described)? == 0
        && tcoll_.count_documents(doc! {}).await.map_err(described)? == 0
    {
        e.lease.ensure_held(None).await?;
        tcoll_.drop().await.map_err(described)?;
    }
    let observe = e.observe.clone();
    let adapter: backup_events::Observer = std::sync::Arc::new(move |ev| match ev {
        backup_events::Event::Advanced { docs, .. } => observe(Event::Advanced { docs }),
        backup_events::Event::Phase(backup_events::Phase::CatchingUp) => {
            observe(Event::Phase("catching up with writes made during the copy"))
        }
        backup_events::Event::Phase(backup_events::Phase::Digesting) => {
            observe(Event::Phase("verifying: digests of source and target"))
        }
        backup_events::Event::Phase(backup_events::Phase::BuildingIndexes { .. }) => {
            observe(Event::Phase("building indexes"))
        }
        _ => {}
    });
    e.lease.ensure_held(None).await?;
    let report = relocate::copy_collection(
        e.client,
        &CopyOptions {
            source: source.clone(),
            target: target.clone(),
            workers: 4,
            catch_up: replica_set,
            // Only a target relocate itself created and did not finish (an interrupted run
            // of this step); never one holding someone else's data.
            replace_partial: true,
        },
        &adapter,
    )
    .await?;
    if !report.verified {
        bail!(
            "the copy of {source} to {target} did not verify: {}; the target is kept as a partial copy (migrate up replaces it, migrate rollback drops it)",
            report
                .why_not_verified
                .as_deref()
                .unwrap_or("digests differ")
        );
    }
    let mut copy = doc! {
        "source": source.to_string(),
        "target": target.to_string(),
        "is_move": is_move,
        "documents": report.documents_copied as i64,
        "source_digest": {"count": report.source_digest.count as i64, "hash": &report.source_digest.hash},
        "target_digest": {"count": report.target_digest.count as i64, "hash": &report.target_digest.hash},
        "writes_caught_up": report.writes_caught_up as i64,
        "indexes": report.indexes as i64,
        "verified": true,
    };
    if let Some(t) = report.verified_at {
        copy.insert("verified_at", Bson::Timestamp(t));
    }
    Ok((Some(point), copy))
}

/// The newest verified move out of `ns` that is still in effect (done, not rolled back), in
/// the changelog or in the entry being run.
pub fn last_verified_move(log: &[Entry], current: Option<&Entry>, ns: &str) -> Option<Document> {
    let entries = log
        .iter()
        .filter(|e| current.is_none_or(|c| c.id != e.id))
        .chain(current);
    let mut found = None;
    for e in entries {
        if e.status == changelog::Status::RolledBack {
            continue;
        }
        for s in &e.steps {
            let Some(c) = &s.copy else { continue };
            let done = matches!(s.status, StepStatus::Done | StepStatus::Running);
            if done
                && c.get_bool("is_move").unwrap_or(false)
                && c.get_str("source").ok() == Some(ns)
            {
                found = Some(c.clone());
            }
        }
    }
    found
}

/// Refuses to go on when `db.coll` no longer holds what the move verified: writes made to
/// the source after the copy would be lost with it.
pub async fn ensure_unchanged_since(
    client: &Client,
    db: &str,
    coll: &str,
    verified: &Document,
) -> Result<()> {
    let ns = Namespace::new(db, coll);
    let now = relocate::digest(client, &ns, None).await?;
    let then = verified.get_document("source_digest").ok();
    let (count, hash) = (
        then.and_then(|d| d.get_i64("count").ok()).unwrap_or(-1),
        then.and_then(|d| d.get_str("hash").ok()).unwrap_or(""),
    );
    if now.count as i64 != count || now.hash != hash {
        bail!(
            "{ns} changed after its move to {} was verified ({count} documents then, {} now): dropping it would lose those writes; point the service at the target first, then roll the move back and run it again (migrate rollback, migrate up) so the target has them",
            verified.get_str("target").unwrap_or("?"),
            now.count
        );
    }
    Ok(())
}
