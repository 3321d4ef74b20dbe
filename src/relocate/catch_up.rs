//! Following writes made to the source during the copy (replica sets). Before the copy, the
//! source gets `changeStreamPreAndPostImages` (if it had not) and a change stream opens on it
//! with `fullDocument: "required"`: every insert, replace and update event then carries the
//! document exactly as it was after that write, from the server's post-images, not a later
//! lookup. After the copy a no-op oplog entry (`appendOplogNote`) fixes a cluster time T;
//! every event before T is applied to the target (an upsert of the post-image by `_id`, or a
//! delete), in order, and the stream is read until its resume token passes T. The target then
//! holds the source as of T, which the caller proves with a snapshot digest at T.
//!
//! Why this is exact: the copy's cursor sees each document in some state between the stream's
//! start and the end of the copy; every later state of it is an event in the stream, and each
//! event sets the whole document (or removes it), so after the last event before T the
//! target's document is the source's at T, whatever the copy saw.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bson::{Bson, RawDocumentBuf, Timestamp, doc};
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use mongodb::options::FullDocumentType;
use mongodb::{Client, Collection};

use super::Namespace;
use crate::backup::staging::described;

/// How long the stream may take to reach T (it waits for majority commit).
const REACH_T: Duration = Duration::from_secs(120);

/// The source's own `changeStreamPreAndPostImages` setting, to put back after the move.
pub struct Images {
    was_enabled: bool,
}

/// Turns on post-images on the source (if they were off).
pub async fn enable_images(
    client: &Client,
    source: &Namespace,
    options: &bson::Document,
) -> Result<Images> {
    let was_enabled = options
        .get_document("changeStreamPreAndPostImages")
        .ok()
        .and_then(|d| d.get_bool("enabled").ok())
        .unwrap_or(false);
    if !was_enabled {
        set_images(client, source, true).await?;
    }
    Ok(Images { was_enabled })
}

/// Puts the source's setting back.
pub async fn restore_images(client: &Client, source: &Namespace, images: Images) -> Result<()> {
    if !images.was_enabled {
        set_images(client, source, false).await?;
    }
    Ok(())
}

async fn set_images(client: &Client, ns: &Namespace, enabled: bool) -> Result<()> {
    client
        .database(&ns.db)
        .run_command(doc! {"collMod": &ns.coll,
        "changeStreamPreAndPostImages": {"enabled": enabled}})
        .await
        .map_err(described)
        .with_context(|| format!("setting changeStreamPreAndPostImages on {ns} to {enabled}"))?;
    Ok(())
}

/// The source's change stream, opened before the copy.
pub struct Follower {
    stream: ChangeStream<ChangeStreamEvent<RawDocumentBuf>>,
}

pub async fn follow(client: &Client, source: &Namespace) -> Result<Follower> {
    let stream = source
        .raw(client)
        .watch()
        .full_document(FullDocumentType::Required)
        .await
        .map_err(described)
        .with_context(|| format!("opening a change stream on {source}"))?;
    Ok(Follower { stream })
}

/// Fixes a cluster time after everything written so far: a no-op oplog entry's time.
pub async fn fix_time(client: &Client) -> Result<Timestamp> {
    let mut session = client.start_session().await.map_err(described)?;
    client
        .database("admin")
        .run_command(doc! {"appendOplogNote": 1, "data": {"mongoctl": "relocate catch-up"}})
        .session(&mut session)
        .await
        .map_err(described)
        .context("appendOplogNote (fixing the time the copy catches up to)")?;
    session
        .operation_time()
        .context("the server did not return an operation time")
}

/// Applies every event before `t` to `target`; returns how many.
pub async fn catch_up(
    follower: &mut Follower,
    target: &Collection<RawDocumentBuf>,
    t: Timestamp,
) -> Result<u64> {
    let deadline = Instant::now() + REACH_T;
    let mut applied = 0u64;
    loop {
        match follower.stream.next_if_any().await.map_err(described)? {
            Some(ev) => {
                let at = ev
                    .cluster_time
                    .context("a change event without a cluster time")?;
                if at >= t {
                    return Ok(applied);
                }
                apply(target, ev).await?;
                applied += 1;
            }
            None => {
                let reached = follower
                    .stream
                    .resume_token()
                    .map(|tok| token_time(&tok))
                    .transpose()?
                    .flatten();
                if reached.is_some_and(|r| r >= t) {
                    return Ok(applied);
                }
                if Instant::now() > deadline {
                    bail!(
                        "the source's change stream did not reach the catch-up time within {}s",
                        REACH_T.as_secs()
                    );
                }
            }
        }
    }
}

async fn apply(
    target: &Collection<RawDocumentBuf>,
    ev: ChangeStreamEvent<RawDocumentBuf>,
) -> Result<()> {
    let id = || -> Result<Bson> {
        ev.document_key
            .as_ref()
            .and_then(|k| k.get("_id"))
            .cloned()
            .context("a change event without a document key")
    };
    match ev.operation_type {
        OperationType::Insert | OperationType::Replace | OperationType::Update => {
            let doc = ev
                .full_document
                .as_ref()
                .context("a change event without its post-image")?;
            target
                .replace_one(doc! {"_id": id()?}, doc)
                .upsert(true)
                .bypass_document_validation(true)
                .await
                .map_err(described)
                .context("applying a write made during the copy")?;
        }
        OperationType::Delete => {
            target
                .delete_one(doc! {"_id": id()?})
                .await
                .map_err(described)
                .context("applying a delete made during the copy")?;
        }
        other => bail!("the source saw {other:?} during the copy; the copy cannot follow it"),
    }
    Ok(())
}

/// The cluster time a resume token stands for: its `_data` is hex KeyString whose first value
/// is that timestamp (type byte 0x82, then seconds and increment, big endian). `None` for a
/// token of another shape.
pub fn token_time(token: &mongodb::change_stream::event::ResumeToken) -> Result<Option<Timestamp>> {
    let b = bson::to_bson(token).context("reading a resume token")?;
    Ok(b.as_document()
        .and_then(|d| d.get_str("_data").ok())
        .and_then(data_time))
}

fn data_time(data: &str) -> Option<Timestamp> {
    let bytes = hex::decode(data.get(..18)?).ok()?;
    if bytes[0] != 0x82 {
        return None;
    }
    Some(Timestamp {
        time: u32::from_be_bytes(bytes[1..5].try_into().ok()?),
        increment: u32::from_be_bytes(bytes[5..9].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_tells_its_time() {
        // A 6.0 high-water-mark token.
        let t = data_time("8263A1B2C30000002A2B0229296E04").unwrap();
        assert_eq!(
            t,
            Timestamp {
                time: 0x63A1B2C3,
                increment: 42
            }
        );
    }

    #[test]
    fn a_token_of_another_shape_tells_nothing() {
        assert_eq!(data_time("3C0000"), None);
        assert_eq!(data_time("9963A1B2C30000002A2B"), None);
        assert_eq!(data_time("zz"), None);
    }
}
