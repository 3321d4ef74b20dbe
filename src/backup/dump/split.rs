//! One large collection read by several cursors: how many parts each collection gets (a pure
//! rule from its size, the cursors and the cores), and the parts' `_id` ranges. Split points
//! come from covered probes of the `_id` index (never a collection scan); a part is drained
//! with the find command's `min`/`max` index bounds, which order `_id`s of every BSON type as
//! the index does, so each document falls in exactly one part (a `{_id: {$gte, $lt}}` filter
//! is type-bracketed and would miss the `_id`s of other types).

use anyhow::{Context, Result};
use bson::{Bson, Document, RawDocumentBuf, doc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::options::Hint;

use super::targets::Target;

/// `backup --split`: how collections are split into `_id` ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitMode {
    /// From the collection's size, the spare cursors and the cores ([`plan_parts`]).
    #[default]
    Auto,
    /// One cursor per collection.
    Off,
    /// This many parts for every collection that can be split, whatever its size.
    Parts(usize),
}

/// The most parts a collection is split into.
pub const MAX_PARTS: usize = 64;
/// Collections smaller than this are read by one cursor unless `--split N` says otherwise.
pub const AUTO_MIN_BYTES: i64 = 512 << 20;
/// The automatic rule gives each part at least this much of the collection.
pub const AUTO_PART_BYTES: i64 = 128 << 20;

impl std::str::FromStr for SplitMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(SplitMode::Auto),
            "off" => Ok(SplitMode::Off),
            n => match n.parse::<usize>() {
                Ok(1) => Ok(SplitMode::Off),
                Ok(n) if (2..=MAX_PARTS).contains(&n) => Ok(SplitMode::Parts(n)),
                _ => Err(format!(
                    "expected auto, off or a number of parts from 1 to {MAX_PARTS}, got {s:?}"
                )),
            },
        }
    }
}

/// Whether a collection can be read in `_id` ranges: not a view or time series, not capped
/// (mongorestore inserts in file order, which is a capped collection's natural order), not
/// clustered, and without a collation (its `_id` index orders strings by the collation).
pub fn splittable(t: &Target) -> bool {
    let o = &t.meta.options;
    !t.meta.is_view()
        && !t.meta.is_timeseries()
        && !o.get_bool("capped").unwrap_or(false)
        && !o.contains_key("clusteredIndex")
        && !o.contains_key("collation")
}

/// A collection as the rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub splittable: bool,
    /// Bytes of BSON (collStats `size`).
    pub size: i64,
}

/// Parts per collection (1: one cursor). `Auto` splits only when there are more cursors
/// (`jobs`) than collections to drain, gives the spare ones to the largest collections first,
/// only to collections of at least [`AUTO_MIN_BYTES`], at most one part per
/// [`AUTO_PART_BYTES`], and at most `cores / 2` parts: each cursor keeps about one core busy
/// on each side (the server reading, the client copying, hashing and writing), so on 2 cores a
/// second cursor on one collection only competes for the same cores.
pub fn plan_parts(cands: &[Candidate], mode: SplitMode, jobs: usize, cores: usize) -> Vec<usize> {
    let mut parts = vec![1; cands.len()];
    match mode {
        SplitMode::Off => {}
        SplitMode::Parts(n) => {
            for (p, c) in parts.iter_mut().zip(cands) {
                if c.splittable {
                    *p = n.min(MAX_PARTS);
                }
            }
        }
        SplitMode::Auto => {
            let mut spare = jobs.saturating_sub(cands.len());
            let cap = (cores / 2).clamp(1, MAX_PARTS);
            let mut order: Vec<usize> = (0..cands.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(cands[i].size));
            for i in order {
                let c = cands[i];
                if spare == 0 || !c.splittable || c.size < AUTO_MIN_BYTES {
                    continue;
                }
                let by_size = (c.size / AUTO_PART_BYTES).max(1) as usize;
                let n = cap.min(by_size).min(1 + spare);
                spare -= n - 1;
                parts[i] = n;
            }
        }
    }
    parts
}

/// One part: the documents whose `_id` is in [min, max) in the `_id` index's order; `None`
/// is open (the first part below, the last above).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub min: Option<Bson>,
    pub max: Option<Bson>,
}

impl Range {
    pub fn whole() -> Self {
        Range {
            min: None,
            max: None,
        }
    }
}

/// The ranges between split points, in order: `points.len() + 1` of them.
pub fn ranges_between(points: Vec<Bson>) -> Vec<Range> {
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut lower = None;
    for p in points {
        out.push(Range {
            min: lower.take(),
            max: Some(p.clone()),
        });
        lower = Some(p);
    }
    out.push(Range {
        min: lower,
        max: None,
    });
    out
}

fn bound(id: &Bson) -> Document {
    doc! {"_id": id.clone()}
}

/// The `find` that reads one part: `filter` within `range`, walking the `_id` index.
pub fn part_query<'a>(
    coll: &'a Collection<RawDocumentBuf>,
    filter: Document,
    range: &Range,
) -> mongodb::action::Find<'a, RawDocumentBuf> {
    let mut find = coll.find(filter);
    if range.min.is_some() || range.max.is_some() {
        find = find.hint(Hint::Keys(doc! {"_id": 1}));
    }
    if let Some(min) = &range.min {
        find = find.min(bound(min));
    }
    if let Some(max) = &range.max {
        find = find.max(bound(max));
    }
    find
}

/// The probe for the next split point: `step` `_id` keys past `after` (inclusive of it), read
/// from the `_id` index alone (a covered projection: no document is fetched).
pub fn probe_query<'a>(
    coll: &'a Collection<Document>,
    after: Option<&Bson>,
    step: u64,
) -> mongodb::action::Find<'a, Document> {
    let find = coll
        .find(doc! {})
        .hint(Hint::Keys(doc! {"_id": 1}))
        .projection(doc! {"_id": 1})
        .skip(step)
        .limit(1);
    match after {
        Some(a) => find.min(bound(a)),
        None => find,
    }
}

/// `parts` ranges of about equal document counts (fewer when the collection holds fewer
/// documents than its estimate said).
pub async fn split_ranges(
    coll: &Collection<Document>,
    docs: u64,
    parts: usize,
) -> Result<Vec<Range>> {
    if parts <= 1 || docs < parts as u64 {
        return Ok(vec![Range::whole()]);
    }
    let step = docs / parts as u64;
    let mut points: Vec<Bson> = Vec::with_capacity(parts - 1);
    for _ in 1..parts {
        let found: Vec<Document> = probe_query(coll, points.last(), step)
            .await
            .with_context(|| format!("finding the split points of {}", coll.namespace()))?
            .try_collect()
            .await
            .with_context(|| format!("finding the split points of {}", coll.namespace()))?;
        match found.into_iter().next().and_then(|mut d| d.remove("_id")) {
            Some(id) => points.push(id),
            None => break,
        }
    }
    Ok(ranges_between(points))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: i64 = 1 << 30;

    fn c(size: i64) -> Candidate {
        Candidate {
            splittable: true,
            size,
        }
    }

    #[test]
    fn auto_splits_only_with_spare_cursors_cores_and_size() {
        // One large collection, 4 cursors, 8 cores: 4 parts.
        assert_eq!(plan_parts(&[c(GIB)], SplitMode::Auto, 4, 8), vec![4]);
        // On 2 cores a second cursor competes for the same cores: never split.
        assert_eq!(plan_parts(&[c(GIB)], SplitMode::Auto, 4, 2), vec![1]);
        // As many collections as cursors: nothing spare.
        assert_eq!(
            plan_parts(&[c(GIB), c(GIB), c(GIB), c(GIB)], SplitMode::Auto, 4, 16),
            vec![1, 1, 1, 1]
        );
        // Small collections stay whole; the largest gets the spare cursors first.
        assert_eq!(
            plan_parts(&[c(1 << 20), c(GIB), c(600 << 20)], SplitMode::Auto, 7, 8),
            vec![1, 4, 2]
        );
        // At most one part per 128 MiB.
        assert_eq!(plan_parts(&[c(600 << 20)], SplitMode::Auto, 8, 16), vec![4]);
        // A collection that cannot be split is left alone.
        let capped = Candidate {
            splittable: false,
            size: GIB,
        };
        assert_eq!(plan_parts(&[capped], SplitMode::Auto, 4, 8), vec![1]);
    }

    #[test]
    fn forced_and_off() {
        let small = c(1000);
        let no = Candidate {
            splittable: false,
            size: GIB,
        };
        assert_eq!(
            plan_parts(&[small, no], SplitMode::Parts(3), 1, 2),
            vec![3, 1]
        );
        assert_eq!(plan_parts(&[c(GIB)], SplitMode::Off, 8, 16), vec![1]);
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!("auto".parse(), Ok(SplitMode::Auto));
        assert_eq!("off".parse(), Ok(SplitMode::Off));
        assert_eq!("1".parse(), Ok(SplitMode::Off));
        assert_eq!("4".parse(), Ok(SplitMode::Parts(4)));
        assert!("0".parse::<SplitMode>().is_err());
        assert!("65".parse::<SplitMode>().is_err());
        assert!(
            "many"
                .parse::<SplitMode>()
                .unwrap_err()
                .contains("auto, off")
        );
    }

    #[test]
    fn ranges_are_open_at_both_ends_and_meet() {
        let r = ranges_between(vec![Bson::Int32(5), Bson::String("k".into())]);
        assert_eq!(
            r,
            vec![
                Range {
                    min: None,
                    max: Some(Bson::Int32(5))
                },
                Range {
                    min: Some(Bson::Int32(5)),
                    max: Some(Bson::String("k".into()))
                },
                Range {
                    min: Some(Bson::String("k".into())),
                    max: None
                },
            ]
        );
        assert_eq!(ranges_between(vec![]), vec![Range::whole()]);
    }
}
