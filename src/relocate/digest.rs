//! An order-independent digest of a collection's documents: the count, and the wrapping sum
//! of the first 128 bits of each document's SHA-256 (taken over its raw BSON bytes). Two
//! collections holding the same documents, byte for byte, in any order have the same digest;
//! a changed, added or removed document changes it (short of a 2^-128 collision).

use anyhow::{Context, Result};
use bson::{RawDocument, RawDocumentBuf, Timestamp, doc};
use futures::TryStreamExt;
use mongodb::Client;
use mongodb::raw_batch_cursor::RawBatchCursor;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::Namespace;

/// A collection's content digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub count: u64,
    /// The 128-bit sum, 32 hex digits.
    pub hash: String,
}

/// The running sum behind a [`Digest`]; sums of parts add up (parallel readers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestSum {
    pub count: u64,
    pub sum: u128,
}

impl DigestSum {
    pub fn add(&mut self, doc: &[u8]) {
        let h = Sha256::digest(doc);
        let mut first = [0u8; 16];
        first.copy_from_slice(&h[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
        self.count += 1;
    }

    pub fn merge(&mut self, other: DigestSum) {
        self.sum = self.sum.wrapping_add(other.sum);
        self.count += other.count;
    }

    pub fn finish(self) -> Digest {
        Digest {
            count: self.count,
            hash: format!("{:032x}", self.sum),
        }
    }
}

/// The digest of `ns` now, or at cluster time `at` (a snapshot read: replica sets only, and
/// only as far back as the server keeps history, `minSnapshotHistoryWindowInSeconds`).
pub async fn digest(client: &Client, ns: &Namespace, at: Option<Timestamp>) -> Result<Digest> {
    match at {
        None => digest_now(client, ns).await,
        Some(t) => Ok(digest_snapshot(client, ns, Some(t)).await?.0),
    }
}

/// The digest of `ns` as it is now (no snapshot: a collection written meanwhile may be seen
/// partly before and partly after a write).
pub(super) async fn digest_now(client: &Client, ns: &Namespace) -> Result<Digest> {
    let cursor = ns
        .raw(client)
        .find(doc! {})
        .batch()
        .await
        .with_context(|| format!("reading {ns}"))?;
    Ok(fold(cursor, ns).await?.finish())
}

/// The digest of `ns` in one snapshot, at `at` or at a time the server picks; returns that
/// time with it.
pub(super) async fn digest_snapshot(
    client: &Client,
    ns: &Namespace,
    at: Option<Timestamp>,
) -> Result<(Digest, Timestamp)> {
    let options = mongodb::options::SessionOptions::builder()
        .snapshot(true)
        .snapshot_time(at)
        .build();
    let mut session = client
        .start_session()
        .with_options(options)
        .await
        .context("starting a snapshot session")?;
    let mut cursor = ns
        .raw(client)
        .find(doc! {})
        .session(&mut session)
        .batch()
        .await
        .with_context(|| format!("reading {ns} at a snapshot"))?;
    let mut sum = DigestSum::default();
    {
        let mut batches = cursor.stream(&mut session);
        while let Some(batch) = batches
            .try_next()
            .await
            .with_context(|| format!("reading {ns} at a snapshot"))?
        {
            add_batch(&mut sum, batch.doc_slices()?, ns)?;
        }
    }
    let time = at
        .or_else(|| session.snapshot_time())
        .context("the server did not say the time of its snapshot")?;
    Ok((sum.finish(), time))
}

async fn fold(mut cursor: RawBatchCursor, ns: &Namespace) -> Result<DigestSum> {
    let mut sum = DigestSum::default();
    while let Some(batch) = cursor
        .try_next()
        .await
        .with_context(|| format!("reading {ns}"))?
    {
        add_batch(&mut sum, batch.doc_slices()?, ns)?;
    }
    Ok(sum)
}

fn add_batch(sum: &mut DigestSum, docs: &bson::RawArray, ns: &Namespace) -> Result<()> {
    for d in docs {
        let d: &RawDocument = d
            .ok()
            .and_then(|d| d.as_document())
            .with_context(|| format!("reading {ns}: the server sent a malformed batch"))?;
        sum.add(d.as_bytes());
    }
    Ok(())
}

/// The digest of documents given as raw BSON (tests, and callers holding documents).
pub fn digest_of<'a>(docs: impl IntoIterator<Item = &'a RawDocumentBuf>) -> Digest {
    let mut s = DigestSum::default();
    for d in docs {
        s.add(d.as_bytes());
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn order_does_not_matter() {
        let a = rawdoc! {"_id": 1, "x": "a"};
        let b = rawdoc! {"_id": 2, "x": "b"};
        let c = rawdoc! {"_id": 3, "x": "c"};
        assert_eq!(digest_of([&a, &b, &c]), digest_of([&c, &a, &b]));
        assert_eq!(digest_of([&a, &b, &c]).count, 3);
    }

    #[test]
    fn one_changed_field_changes_it() {
        let a = rawdoc! {"_id": 1, "x": "a"};
        let b = rawdoc! {"_id": 2, "x": "b"};
        let b2 = rawdoc! {"_id": 2, "x": "B"};
        assert_ne!(digest_of([&a, &b]).hash, digest_of([&a, &b2]).hash);
    }

    #[test]
    fn field_order_and_types_count() {
        // Byte for byte: {a, b} is not {b, a}, and 1 (int32) is not 1 (int64).
        let ab = rawdoc! {"_id": 1, "a": 1, "b": 2};
        let ba = rawdoc! {"_id": 1, "b": 2, "a": 1};
        let long = rawdoc! {"_id": 1, "a": 1i64, "b": 2};
        assert_ne!(digest_of([&ab]), digest_of([&ba]));
        assert_ne!(digest_of([&ab]), digest_of([&long]));
    }

    #[test]
    fn parts_merge_to_the_whole() {
        let docs: Vec<_> = (0..10).map(|i| rawdoc! {"_id": i}).collect();
        let mut left = DigestSum::default();
        let mut right = DigestSum::default();
        for (i, d) in docs.iter().enumerate() {
            if i % 3 == 0 { &mut left } else { &mut right }.add(d.as_bytes());
        }
        left.merge(right);
        assert_eq!(left.finish(), digest_of(&docs));
    }

    #[test]
    fn an_empty_collection_has_a_fixed_digest() {
        let d = digest_of([]);
        assert_eq!(d.count, 0);
        assert_eq!(d.hash, "0".repeat(32));
    }

    #[test]
    fn a_duplicate_is_not_invisible() {
        // A sum (not an XOR) so that the same document twice does not cancel out.
        let a = rawdoc! {"_id": 1};
        let b = rawdoc! {"_id": 2};
        assert_ne!(digest_of([&a, &a, &b]).hash, digest_of([&b]).hash);
    }
}
