//! What can be restored, from the base backups' ends and the slices manifest alone: the
//! window of each base backup (its end up to the end of the contiguous slices after it) and,
//! for a target time, which base and slices to use — or why no restore can reach it. Pure
//! decisions: no file or server is touched here.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;

use super::Ts;
use super::slices::{Gap, Record, Slice, SlicesManifest};

/// A complete base backup with an oplog: consistent to `end`, its oplog's last entry.
#[derive(Debug, Clone)]
pub struct Base {
    pub name: String,
    pub path: PathBuf,
    pub end: Ts,
}

/// The points a base backup can be restored to: `from` (its end) … `to`, inclusive.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    pub from: Ts,
    pub to: Ts,
    /// The slices after the base, in order, contiguous with it.
    #[serde(skip)]
    pub slices: Vec<Slice>,
    /// The gap that ends the window, if one does (nothing past it is restorable from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by_gap: Option<Gap>,
}

/// A slice holds the entries after `after` (or from `first`, past a gap) up to `last`.
fn continues(s: &Slice, end: Ts) -> bool {
    s.after.unwrap_or(s.first) <= end && end < s.last
}

/// The window of a base backup that ends at `end`.
pub fn window(end: Ts, m: Option<&SlicesManifest>) -> Window {
    let mut w = Window {
        from: end,
        to: end,
        slices: Vec::new(),
        ended_by_gap: None,
    };
    let Some(m) = m else { return w };
    let recs = &m.records;
    let start = recs
        .iter()
        .position(|r| matches!(r, Record::Slice(s) if continues(s, end)));
    let Some(k) = start else {
        // No slice has entries after `end`: a gap right after the slice ending there
        // (or right after the origin) still ends this window.
        let at = recs
            .iter()
            .position(|r| matches!(r, Record::Slice(s) if s.last == end))
            .map(|j| j + 1)
            .or((m.origin.ts == end).then_some(0));
        if let Some(Record::Gap(g)) = at.and_then(|i| recs.get(i)) {
            w.ended_by_gap = Some(g.clone());
        }
        return w;
    };
    for r in &recs[k..] {
        match r {
            Record::Slice(s) => {
                if !w.slices.is_empty() && s.after != Some(w.to) {
                    break;
                }
                w.to = s.last;
                w.slices.push(s.clone());
            }
            Record::Gap(g) => {
                w.ended_by_gap = Some(g.clone());
                break;
            }
        }
    }
    w
}

/// What `restore --to-time` does: restore `base` with its own oplog, then replay `slices`'
/// entries after the base's end up to the target, inclusive.
#[derive(Debug)]
pub struct Plan {
    pub base: Base,
    pub slices: Vec<Slice>,
}

/// The newest base backup (by end) consistent at or before `t` whose window reaches `t`,
/// or the reason none can be used: `t` before every base, inside a recorded gap, or past
/// the last slice.
pub fn plan(bases: &[Base], m: Option<&SlicesManifest>, t: Ts) -> Result<Plan> {
    let mut eligible: Vec<&Base> = bases.iter().filter(|b| b.end <= t).collect();
    eligible.sort_by(|a, b| b.end.cmp(&a.end).then(a.name.cmp(&b.name)));
    let Some(newest) = eligible.first() else {
        match bases.iter().min_by_key(|b| b.end) {
            None => bail!(
                "no complete base backup with an oplog (made with backup --oplog, directory \
                 layout) to restore from"
            ),
            Some(b) => bail!(
                "{t} is before every base backup: the earliest point restorable is {} \
                 (the end of backup {})",
                b.end,
                b.name
            ),
        }
    };
    for b in &eligible {
        let w = window(b.end, m);
        if t <= w.to {
            let mut slices = Vec::new();
            // At the base's end exactly, no slice has an entry to add.
            for s in w.slices.into_iter().filter(|_| t > b.end) {
                let past = s.last >= t;
                slices.push(s);
                if past {
                    break;
                }
            }
            return Ok(Plan {
                base: (*b).clone(),
                slices,
            });
        }
    }
    let gaps = m
        .into_iter()
        .flat_map(|m| &m.records)
        .filter_map(|r| match r {
            Record::Gap(g) => Some(g),
            Record::Slice(_) => None,
        });
    for g in gaps {
        if g.after < t && t < g.oldest_available {
            bail!(
                "{t} is inside a gap in the oplog slices: the entries after {} and before {} \
                 were lost (the oplog rolled over while nothing followed it, found {}); \
                 nothing can be restored to a point in it",
                g.after,
                g.oldest_available,
                g.detected_at.format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
    }
    let w = window(newest.end, m);
    match &w.ended_by_gap {
        Some(g) => bail!(
            "{t} is past a gap in the oplog slices (the entries after {} and before {} were \
             lost): backup {} can restore up to {} only; a base backup made after the gap \
             is needed",
            g.after,
            g.oldest_available,
            newest.name,
            w.to
        ),
        None => bail!(
            "{t} is past the last oplog slice: backup {} can restore up to {}{}",
            newest.name,
            w.to,
            if w.slices.is_empty() {
                " (its own end: no slice continues it)"
            } else {
                ""
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::slices::Origin;
    use super::*;
    use crate::backup::checksum::Checksums;

    fn slice(after: Option<u32>, first: u32, last: u32) -> Record {
        Record::Slice(Slice {
            file: format!("s{first}"),
            after: after.map(|a| Ts([a, 1])),
            first: Ts([first, 1]),
            last: Ts([last, 1]),
            entries: 1,
            bytes: 1,
            checksums: Checksums::default(),
            written_at: chrono::Utc::now(),
        })
    }

    fn gap(after: u32, oldest: u32, resumed: bool) -> Record {
        Record::Gap(Gap {
            after: Ts([after, 1]),
            resumed_at: resumed.then_some(Ts([oldest, 1])),
            oldest_available: Ts([oldest, 1]),
            detected_at: chrono::Utc::now(),
        })
    }

    fn manifest(records: Vec<Record>) -> SlicesManifest {
        SlicesManifest {
            format: super::super::slices::FORMAT.into(),
            set_name: "rs0".into(),
            origin: Origin {
                backup: None,
                ts: Ts([10, 1]),
            },
            records,
        }
    }

    fn base(name: &str, end: u32) -> Base {
        Base {
            name: name.into(),
            path: PathBuf::from(name),
            end: Ts([end, 1]),
        }
    }

    #[test]
    fn a_window_runs_from_the_base_end_through_contiguous_slices_to_a_gap() {
        let m = manifest(vec![
            slice(Some(10), 11, 20),
            slice(Some(20), 21, 30),
            gap(30, 40, true),
            slice(None, 40, 50),
        ]);
        let w = window(Ts([15, 1]), Some(&m));
        assert_eq!((w.from, w.to), (Ts([15, 1]), Ts([30, 1])));
        assert_eq!(w.slices.len(), 2);
        assert_eq!(w.ended_by_gap.as_ref().unwrap().after, Ts([30, 1]));
        // At a slice boundary: the next slice carries on.
        let w = window(Ts([20, 1]), Some(&m));
        assert_eq!((w.to, w.slices.len()), (Ts([30, 1]), 1));
        // Exactly where the gap starts: nothing after, the gap named.
        let w = window(Ts([30, 1]), Some(&m));
        assert_eq!(w.to, Ts([30, 1]));
        assert!(w.ended_by_gap.is_some());
        // Inside the gap: no slice continues it.
        let w = window(Ts([35, 1]), Some(&m));
        assert_eq!((w.to, w.slices.len()), (Ts([35, 1]), 0));
        // After the gap, from the first slice past it.
        let w = window(Ts([45, 1]), Some(&m));
        assert_eq!((w.to, w.slices.len()), (Ts([50, 1]), 1));
        // Older than the slices' origin: only its own end.
        assert_eq!(window(Ts([5, 1]), Some(&m)).to, Ts([5, 1]));
        assert_eq!(window(Ts([5, 1]), None).to, Ts([5, 1]));
    }

    #[test]
    fn a_plan_takes_the_newest_base_whose_window_reaches_the_target() {
        let m = manifest(vec![slice(Some(10), 11, 20), slice(Some(20), 21, 30)]);
        let bases = [base("b1", 10), base("b2", 25)];
        let p = plan(&bases, Some(&m), Ts([22, 1])).unwrap();
        assert_eq!(p.base.name, "b1");
        assert_eq!(p.slices.len(), 2);
        let p = plan(&bases, Some(&m), Ts([20, 1])).unwrap();
        assert_eq!((p.base.name.as_str(), p.slices.len()), ("b1", 1));
        let p = plan(&bases, Some(&m), Ts([28, 1])).unwrap();
        assert_eq!((p.base.name.as_str(), p.slices.len()), ("b2", 1));
        let p = plan(&bases, Some(&m), Ts([25, 1])).unwrap();
        assert_eq!((p.base.name.as_str(), p.slices.len()), ("b2", 0));
        let e = plan(&bases, Some(&m), Ts([31, 1])).unwrap_err().to_string();
        assert!(
            e.contains("past the last oplog slice") && e.contains("b2"),
            "{e}"
        );
        let e = plan(&bases, Some(&m), Ts([9, 1])).unwrap_err().to_string();
        assert!(
            e.contains("before every base backup") && e.contains("b1"),
            "{e}"
        );
        let e = plan(&[], Some(&m), Ts([9, 1])).unwrap_err().to_string();
        assert!(e.contains("no complete base backup"), "{e}");
    }

    #[test]
    fn a_target_in_or_past_a_gap_is_refused_with_the_gap_named() {
        let m = manifest(vec![slice(Some(10), 11, 20), gap(20, 40, false)]);
        let bases = [base("b1", 10)];
        let e = plan(&bases, Some(&m), Ts([30, 1])).unwrap_err().to_string();
        assert!(
            e.contains("inside a gap") && e.contains("20:1") && e.contains("40:1"),
            "{e}"
        );
        let e = plan(&bases, Some(&m), Ts([45, 1])).unwrap_err().to_string();
        assert!(e.contains("past a gap") && e.contains("up to 20:1"), "{e}");
        assert!(plan(&bases, Some(&m), Ts([20, 1])).is_ok());
    }
}
