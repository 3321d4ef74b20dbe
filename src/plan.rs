//! The typed plan `diff` produces and `apply` and `render` consume: which changes, in which
//! order, with the exact commands each one sends.

use bson::Document;
use serde::Serialize;

use crate::model::{PasswordSource, doc_to_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateDatabase,
    CreateCollection,
    UpdateValidator,
    UpdateOptions,
    CreateIndex,
    ModifyIndex,
    ReplaceIndex,
    InsertSeeds,
    UpdateSeed,
    /// Deletes live documents an owned seed file (`ownsCollection`) does not declare.
    DeleteSeed,
    DropIndex,
    DropCollection,
    CreateView,
    /// `collMod` of a view's `viewOn` and pipeline.
    ModifyView,
    /// Drop and create: a view's collation cannot be changed by `collMod`.
    ReplaceView,
    /// Drops a view declared `"absent": true`, or (`--prune`) one not declared.
    DropView,
    CreateRole,
    UpdateRole,
    CreateUser,
    UpdateUser,
    DropUser,
    DropRole,
    /// Drops an orphan tenant's database (`--prune` on a template workspace).
    DropDatabase,
    /// A difference MongoDB cannot converge in place (e.g. making a collection capped);
    /// `apply` refuses the whole plan while one is present.
    Blocked,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::CreateDatabase => "create database",
            Action::CreateCollection => "create collection",
            Action::UpdateValidator => "update validator",
            Action::UpdateOptions => "update options",
            Action::CreateIndex => "create index",
            Action::ModifyIndex => "modify index",
            Action::ReplaceIndex => "replace index",
            Action::InsertSeeds => "insert seeds",
            Action::UpdateSeed => "update seed",
            Action::DeleteSeed => "delete seed",
            Action::DropIndex => "drop index",
            Action::DropCollection => "drop collection",
            Action::CreateView => "create view",
            Action::ModifyView => "modify view",
            Action::ReplaceView => "replace view",
            Action::DropView => "drop view",
            Action::CreateRole => "create role",
            Action::UpdateRole => "update role",
            Action::CreateUser => "create user",
            Action::UpdateUser => "update user",
            Action::DropUser => "drop user",
            Action::DropRole => "drop role",
            Action::DropDatabase => "drop database",
            Action::Blocked => "blocked",
        }
    }

    /// When this change runs; a plan is ordered by phase (stably, so changes of one phase keep
    /// the order `diff` found them in).
    pub fn phase(self) -> Phase {
        match self {
            Action::CreateDatabase => Phase::Database,
            Action::CreateCollection | Action::Blocked => Phase::Collections,
            Action::UpdateValidator | Action::UpdateOptions => Phase::CollectionOptions,
            Action::CreateIndex | Action::ModifyIndex | Action::ReplaceIndex => Phase::Indexes,
            Action::InsertSeeds | Action::UpdateSeed | Action::DeleteSeed => Phase::Seeds,
            Action::CreateView | Action::ModifyView | Action::ReplaceView => Phase::Views,
            Action::CreateRole | Action::UpdateRole => Phase::Roles,
            Action::CreateUser | Action::UpdateUser => Phase::Users,
            Action::DropIndex
            | Action::DropCollection
            | Action::DropView
            | Action::DropUser
            | Action::DropRole
            | Action::DropDatabase => Phase::Prune,
        }
    }

    /// Whether the change deletes something (data, an index, a view, a user or a role).
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Action::ReplaceIndex
                | Action::DeleteSeed
                | Action::DropIndex
                | Action::DropCollection
                | Action::ReplaceView
                | Action::DropView
                | Action::DropUser
                | Action::DropRole
                | Action::DropDatabase
        )
    }
}

/// The order a plan runs in: collections and validators first, then indexes, then seeds
/// (which the new validator and unique indexes then check), then views (on the collections
/// now there), then access, then drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Database,
    /// Creating collections, and the differences that block a collection.
    Collections,
    /// `collMod` of validators and collection options.
    CollectionOptions,
    Indexes,
    Seeds,
    /// Views, each after the view it is defined on.
    Views,
    /// Roles before users, so a created user's roles exist.
    Roles,
    Users,
    /// Drops of what is not declared (with `--prune`).
    Prune,
}

/// One step of a plan: what changes, why, and the commands (run against `database`) that do it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub destructive: bool,
    pub summary: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(serialize_with = "ser_commands")]
    pub commands: Vec<Document>,
    /// A password this change needs: the commands carry `pwd: "****"`, which `apply`
    /// replaces with the secret read from this source just before sending.
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "password_source",
        serialize_with = "ser_secret"
    )]
    pub secret: Option<SecretNeed>,
    /// For a validator change on an existing collection: the stored documents that violate
    /// the validator it sets (filled in after `diff` by the validator impact step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Violations>,
}

/// Stored documents that violate the validator a change sets, counted by the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violations {
    pub count: u64,
    /// Up to three of them, explained field by field (as `verify` shows them).
    pub samples: Vec<crate::conformance::Sample>,
    /// The `validationLevel` and `validationAction` the change sets.
    pub validation_level: String,
    pub validation_action: String,
}

impl Violations {
    /// Writes to these documents will fail once the change runs: the server validates them
    /// (`strict`) and rejects (`error`). With `moderate` it checks only documents that
    /// already pass, so stored violators stay writable.
    pub fn blocks_writes(&self) -> bool {
        self.count > 0 && self.validation_level == "strict" && self.validation_action == "error"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretNeed {
    pub user: String,
    pub db: String,
    pub source: PasswordSource,
}

/// What plans show instead of a password.
pub const PASSWORD_PLACEHOLDER: &str = "****";

impl Change {
    /// A change with no commands or details yet; destructiveness follows from the action.
    pub fn new(action: Action, db: &str, coll: Option<&str>, summary: String) -> Change {
        Change {
            action,
            database: db.to_string(),
            collection: coll.map(str::to_string),
            index: None,
            destructive: action.is_destructive(),
            summary,
            details: Vec::new(),
            commands: Vec::new(),
            secret: None,
            violations: None,
        }
    }
}

fn ser_secret<S: serde::Serializer>(s: &Option<SecretNeed>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(n) => ser.serialize_str(&n.source.to_string()),
        None => ser.serialize_none(),
    }
}

/// What an [`Unmanaged`] entry is; serialized (and printed) as the lowercase word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnmanagedKind {
    Collection,
    View,
    Index,
    User,
    Role,
}

impl UnmanagedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnmanagedKind::Collection => "collection",
            UnmanagedKind::View => "view",
            UnmanagedKind::Index => "index",
            UnmanagedKind::User => "user",
            UnmanagedKind::Role => "role",
        }
    }
}

impl std::fmt::Display for UnmanagedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that exists live but is not declared.
#[derive(Debug, Clone, Serialize)]
pub struct Unmanaged {
    pub kind: UnmanagedKind,
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// A user's or role's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Listed but never dropped (the user this connection is authenticated as).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
}

impl Unmanaged {
    pub fn collection(
        kind: UnmanagedKind,
        database: &str,
        collection: &str,
        index: Option<String>,
    ) -> Self {
        Unmanaged {
            kind,
            database: database.into(),
            collection: Some(collection.into()),
            index,
            name: None,
            protected: false,
        }
    }

    /// `db.collection`, `db.collection index x`, `user@db`, …
    pub fn target(&self) -> String {
        match (&self.collection, &self.index, &self.name) {
            (Some(c), Some(i), _) => format!("{}.{c} index {i}", self.database),
            (Some(c), None, _) => format!("{}.{c}", self.database),
            (None, _, Some(n)) => format!("{n}@{}", self.database),
            _ => self.database.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    /// Migrations not applied (pending, interrupted, failed, changed, missing): `apply` runs
    /// the runnable ones and refuses the others.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<crate::migrate::status::MigrationStatus>,
    /// Declared sharding and zones: the commands for a mongos (see `crate::sharding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharding: Option<crate::sharding::diff::ShardingPlan>,
    /// Template workspaces: every tenant's plan (`crate::tenancy`); `changes` above are the
    /// shared databases' and the cluster-wide ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants: Option<FleetPlan>,
    /// Query contracts the plan's index changes (or the spec's indexes) would break
    /// (see `contract_impact.rs`); warnings, not changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contract_warnings: Vec<ContractWarning>,
}

/// A query contract that would lose its index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractWarning {
    pub contract: String,
    pub database: String,
    pub collection: String,
    /// The queries file and the contract's line in it.
    pub file: String,
    pub line: usize,
    /// The index that serves it now, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub message: String,
}

impl Plan {
    /// Sharding steps count only when they can run (through a mongos).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.migrations.is_empty()
            && self
                .sharding
                .as_ref()
                .is_none_or(|s| !s.mongos || s.steps.is_empty())
            && !self.tenants.as_ref().is_some_and(|f| f.has_changes())
    }
    pub fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.destructive)
    }
    pub fn blocked(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action == Action::Blocked)
    }
}

fn ser_commands<S: serde::Serializer>(cmds: &[Document], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(cmds.len()))?;
    for c in cmds {
        seq.serialize_element(&doc_to_json(c))?;
    }
    seq.end()
}

/// Template workspaces (`crate::tenancy`): one tenant's plan, its databases' changes and its
/// roles' and users' changes.
#[derive(Debug, Clone, Serialize)]
pub struct TenantPlan {
    pub tenant: String,
    /// None of its databases exists yet (a new tenant).
    pub missing: bool,
    /// Dropping an orphan tenant's databases (`--prune`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub orphan: bool,
    pub plan: Plan,
    /// The changes in template terms (`chat_{tenant}`), one line each: tenants whose
    /// signatures are equal get the same plan.
    #[serde(skip)]
    pub signature: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FleetPlan {
    /// Tenants planned (after `--tenant`).
    pub tenants: usize,
    /// Tenants with nothing to do.
    pub converged: usize,
    /// Tenants with changes (or unmanaged objects), by id.
    pub changed: Vec<TenantPlan>,
    /// Tenants no longer in the source whose databases exist.
    pub orphans: Vec<Orphan>,
}

impl FleetPlan {
    /// Whether any tenant has a change to apply (orphans count only when pruned).
    pub fn has_changes(&self) -> bool {
        self.changed.iter().any(|t| !t.plan.changes.is_empty())
    }
    pub fn change_count(&self) -> usize {
        self.changed.iter().map(|t| t.plan.changes.len()).sum()
    }
    pub fn destructive_count(&self) -> usize {
        self.changed
            .iter()
            .map(|t| t.plan.destructive().count())
            .sum()
    }
}

/// A tenant the source no longer lists whose databases still exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub tenant: String,
    pub databases: Vec<String>,
}
