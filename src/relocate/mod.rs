//! Moving a collection to another namespace (another database, typically): the engine behind
//! the migrations' `moveCollection` / `copyCollection` steps. No CLI of its own.
//!
//! ```text
//! copy_collection(client, &CopyOptions { source, target, workers, catch_up, replace_partial }, observe)
//!   source options + indexes ─► target created with the same options (marked as relocate's)
//!   [catch_up: post-images on, change stream opened]
//!   documents copied as raw BSON, parallel unordered inserts, validation bypassed
//!   [catch_up: writes made meanwhile applied up to cluster time T]
//!   indexes built ─► digests of source (at T on a replica set) and target compared
//!   ─► CopyReport { verified, why_not_verified, source_digest, target_digest, verified_at, .. }
//! digest(client, ns, at) ─► Digest { count, hash }   (at: a snapshot at that cluster time)
//! ```
//!
//! A copy that does not verify is reported as such (`verified: false` and the reason), not
//! as an error: the target is left, marked as a partial copy that a re-run with
//! `replace_partial` replaces. Errors (a refused target, a failed insert) leave the same
//! mark. The source is never written, except that `catch_up` turns its
//! `changeStreamPreAndPostImages` on for the move and back off after.
//!
//! On a standalone there are no change streams: a write during the copy shows as a digest
//! mismatch, "the source changed during the copy". On a replica set the source digest is read
//! in one snapshot, whose time is `verified_at`: `digest(.., Some(verified_at))` later proves
//! that the source has not been written since (before dropping it).

mod catch_up;
mod copy;
pub mod digest;
pub mod target;

use std::fmt;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bson::{RawDocumentBuf, Timestamp, doc};
use mongodb::{Client, Collection};
use serde::Serialize;

use crate::backup::events::{Event, Observer, Phase};
use crate::backup::staging::{self, described};

pub use digest::{Digest, digest};

/// `db.collection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    pub db: String,
    pub coll: String,
}

impl Namespace {
    pub fn new(db: impl Into<String>, coll: impl Into<String>) -> Self {
        Namespace {
            db: db.into(),
            coll: coll.into(),
        }
    }

    /// `"db.coll"` (the collection name may hold dots, the database name does not).
    pub fn parse(ns: &str) -> Result<Self> {
        match ns.split_once('.') {
            Some((db, coll)) if !db.is_empty() && !coll.is_empty() => Ok(Namespace::new(db, coll)),
            _ => bail!("{ns:?} is not a namespace: expected \"database.collection\""),
        }
    }

    pub(crate) fn raw(&self, client: &Client) -> Collection<RawDocumentBuf> {
        client.database(&self.db).collection(&self.coll)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub source: Namespace,
    pub target: Namespace,
    /// Concurrent insert batches.
    pub workers: usize,
    /// Replica sets: follow writes made to the source during the copy (a standalone refuses).
    pub catch_up: bool,
    /// Replace a target left by an earlier, unfinished copy by relocate (never another one).
    pub replace_partial: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    pub source_digest: Digest,
    pub target_digest: Digest,
    pub verified: bool,
    pub why_not_verified: Option<String>,
    pub documents_copied: u64,
    pub writes_caught_up: u64,
    /// Secondary indexes built.
    pub indexes: usize,
    /// The cluster time of the source's snapshot digest (replica sets).
    pub verified_at: Option<Timestamp>,
    pub elapsed_secs: f64,
}

/// Copies `opts.source` to `opts.target` (options, documents, indexes) and verifies the copy.
pub async fn copy_collection(
    client: &Client,
    opts: &CopyOptions,
    observe: &Observer,
) -> Result<CopyReport> {
    let started = Instant::now();
    let (source, target) = (&opts.source, &opts.target);
    if source == target {
        bail!("the source and the target are both {source}");
    }
    let replica_set = is_replica_set(client).await?;
    if opts.catch_up && !replica_set {
        bail!(
            "following writes during the copy (catch_up) needs a replica set (change streams); \
             this server is a standalone: stop the writers to {source} and copy without catch_up"
        );
    }
    let meta = target::source_meta(client, source).await?;
    let capped = meta.options.get_bool("capped").unwrap_or(false);
    let estimate = source
        .raw(client)
        .estimated_document_count()
        .await
        .map_err(described)?;
    target::create(client, source, target, &meta, opts.replace_partial).await?;

    let images = if opts.catch_up {
        Some(catch_up::enable_images(client, source, &meta.options).await?)
    } else {
        None
    };
    let moved = async {
        let mut follower = match opts.catch_up {
            true => Some(catch_up::follow(client, source).await?),
            false => None,
        };
        observe(Event::Started {
            expected_docs: estimate,
        });
        let ns = target.to_string();
        observe(Event::NamespaceStarted {
            index: 0,
            namespace: &ns,
            expected_docs: estimate,
        });
        // A capped collection keeps insertion order: one batch at a time.
        let workers = if capped { 1 } else { opts.workers.max(1) };
        let copied = copy::copy_documents(client, source, target, workers, observe).await;
        observe(Event::NamespaceFinished {
            index: 0,
            ok: copied.is_ok(),
        });
        observe(Event::Finished);
        let copied = copied?;
        let (caught_up, at) = match follower.as_mut() {
            Some(f) => {
                observe(Event::Phase(Phase::CatchingUp));
                let t = catch_up::fix_time(client).await?;
                let n = catch_up::catch_up(f, &target.raw(client), t).await?;
                (n, Some(t))
            }
            None => (0, None),
        };
        drop(follower);
        observe(Event::Phase(Phase::BuildingIndexes { namespace: &ns }));
        let build = target::indexes_to_build(&meta);
        staging::build_indexes(client, &ns, &build)
            .await
            .with_context(|| format!("building the indexes of {target}"))?;
        observe(Event::Phase(Phase::Digesting));
        let source_digest = async {
            if replica_set {
                digest::digest_snapshot(client, source, at)
                    .await
                    .map(|(d, t)| (d, Some(t)))
            } else {
                digest::digest_now(client, source).await.map(|d| (d, None))
            }
        };
        let (source_digest, target_digest) =
            tokio::join!(source_digest, digest::digest_now(client, target));
        let ((source_digest, verified_at), target_digest) = (source_digest?, target_digest?);
        Ok::<_, anyhow::Error>((
            copied,
            caught_up,
            build.indexes.len(),
            source_digest,
            verified_at,
            target_digest,
        ))
    }
    .await;
    if let Some(images) = images {
        let restored = catch_up::restore_images(client, source, images).await;
        if let Err(e) = restored {
            // Both matter: what failed, and that the source kept the post-images setting.
            return Err(match moved {
                Ok(_) => e,
                Err(m) => m.context(format!("{e:#}")),
            });
        }
    }
    let (copied, writes_caught_up, indexes, source_digest, verified_at, target_digest) = moved?;
    let why_not_verified = why_not(
        &source_digest,
        &target_digest,
        copied.duplicates,
        opts.catch_up,
    );
    if why_not_verified.is_none() {
        target::finished(client, target).await?;
    }
    Ok(CopyReport {
        verified: why_not_verified.is_none(),
        why_not_verified,
        source_digest,
        target_digest,
        documents_copied: copied.documents,
        writes_caught_up,
        indexes,
        verified_at,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Why the target is not a proven copy of the source, if it is not.
fn why_not(source: &Digest, target: &Digest, duplicates: u64, catch_up: bool) -> Option<String> {
    if source == target {
        return None;
    }
    let what = if source.count != target.count {
        format!(
            "the source holds {} documents, the target {}",
            source.count, target.count
        )
    } else {
        format!(
            "source and target both hold {} documents, but not the same ones",
            source.count
        )
    };
    let dup = if duplicates > 0 {
        format!(" ({duplicates} document(s) were read twice)")
    } else {
        String::new()
    };
    Some(if catch_up {
        format!("{what}{dup} after catching up: the copy is not exact; re-run it")
    } else {
        format!(
            "{what}{dup}: the source changed during the copy; stop writers to the source and \
             re-run (on a replica set, catch_up follows them)"
        )
    })
}

async fn is_replica_set(client: &Client) -> Result<bool> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(described)
        .context("asking the server what it is (hello)")?;
    Ok(hello.get_str("setName").is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(count: u64, hash: &str) -> Digest {
        Digest {
            count,
            hash: hash.into(),
        }
    }

    #[test]
    fn equal_digests_verify() {
        assert_eq!(why_not(&d(3, "ab"), &d(3, "ab"), 0, false), None);
    }

    #[test]
    fn a_mismatch_says_the_source_changed() {
        let why = why_not(&d(3, "ab"), &d(3, "cd"), 0, false).unwrap();
        assert!(why.contains("the source changed during the copy"), "{why}");
        assert!(why.contains("not the same ones"), "{why}");
        let why = why_not(&d(4, "ab"), &d(3, "cd"), 1, false).unwrap();
        assert!(why.contains("holds 4 documents, the target 3"), "{why}");
        assert!(why.contains("read twice"), "{why}");
    }

    #[test]
    fn namespaces_parse() {
        let n = Namespace::parse("nilecare.auth.users").unwrap();
        assert_eq!((n.db.as_str(), n.coll.as_str()), ("nilecare", "auth.users"));
        assert!(Namespace::parse("nodot").is_err());
        assert!(Namespace::parse(".c").is_err());
    }
}
