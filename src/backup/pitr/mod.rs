//! Continuous point-in-time recovery: `backup oplog --follow` saves the oplog as slices
//! after a base backup (`follow`, `slices`); `restore --to-time` restores the newest base
//! backup consistent before the target and replays its oplog and the slices up to it
//! (`window` decides what is restorable, `replay` does it).
//!
//! The point restored to is inclusive: `--to-time T` applies every oplog entry whose
//! timestamp is at or before `T`, none after. An RFC 3339 time is taken to the second
//! (a fraction is dropped) as `Timestamp(seconds, 0)`: increments start at 1, so that is the
//! state at the start of that second.

pub mod follow;
pub mod replay;
pub mod slices;
pub mod window;

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// An oplog timestamp `[seconds, increment]`, ordered as the oplog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ts(pub [u32; 2]);

impl Ts {
    pub fn of(t: bson::Timestamp) -> Ts {
        Ts([t.time, t.increment])
    }

    pub fn bson(self) -> bson::Timestamp {
        bson::Timestamp {
            time: self.0[0],
            increment: self.0[1],
        }
    }

    /// The wall-clock time of the second it belongs to.
    pub fn utc(self) -> String {
        chrono::DateTime::from_timestamp(self.0[0] as i64, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "?".into())
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({})", self.0[0], self.0[1], self.utc())
    }
}

/// `--to-time`/`--until`: RFC 3339 (to the second) or `SECONDS[:INCREMENT]`.
pub fn parse_time(flag: &str, s: &str) -> Result<Ts> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        let secs = t.timestamp();
        if !(0..=u32::MAX as i64).contains(&secs) {
            bail!("{flag} {s}: outside the oplog's time range (1970 to 2106)");
        }
        return Ok(Ts([secs as u32, 0]));
    }
    let (t, i) = s.split_once(':').unwrap_or((s, "0"));
    match (t.parse::<u32>(), i.parse::<u32>()) {
        (Ok(t), Ok(i)) => Ok(Ts([t, i])),
        _ => bail!(
            "{flag} {s}: expected an RFC 3339 time (2026-12-02T03:00:00Z) or an oplog \
             timestamp SECONDS[:INCREMENT] (1796180400:7)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_timestamps() {
        assert_eq!(
            parse_time("--to-time", "2026-12-02T03:00:00Z").unwrap(),
            Ts([1_796_180_400, 0])
        );
        assert_eq!(
            parse_time("--to-time", "2026-12-02T04:00:00.750+01:00").unwrap(),
            Ts([1_796_180_400, 0])
        );
        assert_eq!(parse_time("--to-time", "17:3").unwrap(), Ts([17, 3]));
        assert_eq!(parse_time("--to-time", "17").unwrap(), Ts([17, 0]));
        let e = parse_time("--to-time", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--to-time yesterday: expected"), "{e}");
    }
}
