//! Draining one collection's `_id` ranges on several cursors at once, each part into its own
//! chunk channel (the directory layout relays them in order, the archive interleaves them);
//! the counts and content digests of the parts add up to the collection's.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use bson::{Document, RawDocumentBuf};
use mongodb::Collection;
use tokio::sync::{Semaphore, mpsc};

use crate::backup::events::Observer;
use crate::relocate::digest::DigestSum;

use super::drain::{Chunk, ChunkPool, Drained, drain};
use super::split::{Range, split_ranges};
use super::targets::Target;

/// The `_id` ranges of `t` for `parts` cursors (one when it is not split).
pub(super) async fn ranges_for(
    coll: &Collection<RawDocumentBuf>,
    t: &Target,
    parts: usize,
) -> Result<Vec<Range>> {
    if parts <= 1 {
        return Ok(vec![Range::whole()]);
    }
    split_ranges(&coll.clone_with_type::<Document>(), t.estimate, parts).await
}

/// Drains each range into its sender, each part on a cursor of its own taken from `cursors`
/// (so that the backup's `-j` bounds every cursor it opens); `on_failure` runs as soon as a
/// part fails, before the others finish.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drain_parts(
    coll: Collection<RawDocumentBuf>,
    filter: Document,
    ranges: Vec<Range>,
    senders: Vec<mpsc::Sender<Chunk>>,
    batch: u32,
    pool: ChunkPool,
    cursors: Arc<Semaphore>,
    index: usize,
    observe: &Observer,
    on_failure: impl Fn(),
) -> Result<Drained> {
    let mut set = tokio::task::JoinSet::new();
    for (range, tx) in ranges.into_iter().zip(senders) {
        let (coll, filter, pool) = (coll.clone(), filter.clone(), pool.clone());
        let (cursors, observe) = (cursors.clone(), observe.clone());
        set.spawn(async move {
            let _permit = cursors.acquire_owned().await?;
            drain(coll, filter, &range, batch, tx, pool, index, &observe).await
        });
    }
    let mut total = Drained {
        docs: 0,
        digest: DigestSum::default(),
    };
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(|e| anyhow!(e)).and_then(|r| r) {
            Ok(d) => {
                total.docs += d.docs;
                total.digest.merge(d.digest);
            }
            Err(e) => {
                if failure.is_none() {
                    on_failure();
                    set.abort_all();
                }
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(total),
    }
}
