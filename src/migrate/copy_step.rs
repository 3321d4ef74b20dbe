//! copyCollection / moveCollection steps (placeholder until the relocate engine lands).

use anyhow::{Result, bail};
use bson::Document;
use mongodb::Client;

use super::changelog::{Entry, RollbackPoint, StepRecord};
use super::model::CollRef;
use super::up::Engine;

pub async fn run(
    _e: &Engine<'_>,
    _migration: &str,
    _index: u32,
    _from: &CollRef,
    _to: &CollRef,
    _record: &StepRecord,
    _transactions: bool,
) -> Result<(Option<RollbackPoint>, Document)> {
    bail!("not yet")
}

pub fn last_verified_move(_log: &[Entry], _current: Option<&Entry>, _ns: &str) -> Option<Document> {
    None
}

pub async fn ensure_unchanged_since(
    _c: &Client,
    _db: &str,
    _coll: &str,
    _v: &Document,
) -> Result<()> {
    Ok(())
}
