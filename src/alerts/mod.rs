//! Alert thresholds: what the manifest declares (`thresholds`), the pure evaluation of
//! observations against them (`evaluate`), and the gathering of those observations from the
//! cluster (`observe`) and from the backup store (`backups`). `health --check` prints the
//! findings; the report can show the same ones.

pub mod backups;
pub mod evaluate;
pub mod observe;
pub mod thresholds;

pub use evaluate::{Evaluation, Finding, Observations, Observed, Severity, evaluate};
pub use thresholds::{Kind, Level, Thresholds};
