//! A migration as the spec declares it: an ordered file of declarative steps in MongoDB's own
//! languages (query filters, update operators, update pipelines; never JavaScript). Built by
//! `spec::migrations`, planned and run by the rest of `migrate`.

use bson::{Bson, Document};
use serde::Serialize;

/// One `migrations/NNNN_name.json` file.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// The file name without `.json` (`0001_rename_full_name`); the changelog's `_id`.
    pub id: String,
    /// The leading number, which orders migrations.
    pub number: u64,
    /// The file, relative to the workspace.
    pub file: String,
    pub description: String,
    /// SHA-256 (hex) of the normalized `steps`: whitespace and `description` do not count,
    /// every step's content and order does.
    pub checksum: String,
    pub steps: Vec<Step>,
}

/// A collection named the way the rest of the spec names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CollRef {
    pub domain: String,
    pub collection: String,
}

impl std::fmt::Display for CollRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.domain, self.collection)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The step's operation as written (`renameField`, …).
    pub op: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepKind {
    /// An update of the documents matching `filter`, batched by `_id`.
    Update(UpdateStep),
    /// Copy (or move: copy, verified, source kept) a collection to another, maybe in another
    /// database.
    Copy {
        from: CollRef,
        to: CollRef,
        /// `moveCollection`: the source is dropped by a later `dropCollection` step or
        /// `--drop-source`, only after the copy verified.
        is_move: bool,
    },
    Drop {
        coll: CollRef,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct UpdateStep {
    pub coll: CollRef,
    /// Documents the step touches; what `migrate plan` counts.
    pub filter: Document,
    pub update: UpdateSpec,
    /// When the step can be undone by another update rather than a restore: a field rename
    /// is, provided no matched document already holds the target field (checked live).
    pub inverse_rename: Option<(String, String)>,
    /// Running a batch twice gives the same result (`$set` of constants, `$unset`,
    /// `$rename`, `$convert`), so a standalone (no transactions) can repeat an interrupted
    /// batch safely.
    pub idempotent: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UpdateSpec {
    Operators(Document),
    Pipeline(Vec<Document>),
}

impl UpdateSpec {
    pub fn to_bson(&self) -> Bson {
        match self {
            UpdateSpec::Operators(d) => Bson::Document(d.clone()),
            UpdateSpec::Pipeline(p) => Bson::Array(p.iter().cloned().map(Bson::Document).collect()),
        }
    }
}

impl Step {
    /// The collections the step reads or writes (source first).
    pub fn collections(&self) -> Vec<&CollRef> {
        match &self.kind {
            StepKind::Update(u) => vec![&u.coll],
            StepKind::Copy { from, to, .. } => vec![from, to],
            StepKind::Drop { coll } => vec![coll],
        }
    }

    /// Whether the step rewrites or deletes stored documents (and so needs a rollback point).
    pub fn rewrites_data(&self) -> bool {
        !matches!(self.kind, StepKind::Copy { .. })
    }

    /// A one-line description for plans and status.
    pub fn summary(&self) -> String {
        match &self.kind {
            StepKind::Update(u) => format!("{} on {}", self.op, u.coll),
            StepKind::Copy { from, to, .. } => format!("{} {from} → {to}", self.op),
            StepKind::Drop { coll } => format!("dropCollection {coll}"),
        }
    }
}
