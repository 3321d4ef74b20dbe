//! Reading and checking a spec workspace: the manifest plus `schemas/`, `indexes/`,
//! `seeds/` and `queries/`. Every problem becomes a located [`Diagnostic`]; nothing here touches a cluster.

pub mod access;
pub mod alerts;
pub mod common_indexes;
pub mod diag;
pub mod fields;
pub mod imports;
pub mod indexes;
pub mod manifest;
pub mod migrations;
pub mod mql;
pub mod names;
pub mod queries;
pub mod quotas;
pub mod seeds;
pub mod sharding;
pub mod source;
pub mod tenants;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bson::{Bson, Document, doc};

pub use diag::Diagnostic;
use fields::{Reader, did_you_mean};
pub use manifest::{Domain, Environment, MANIFEST_FILE, Manifest};
use source::SourceFile;

use crate::jsonpath::JsonPath;
use crate::jsonschema::{CompiledSchema, Severity, lint};
use crate::model::{
    Access, ClusterState, CollectionState, DatabaseState, IndexDef, Privilege, RoleDef, RoleRef,
    SeedSet, UserDef,
};

/// (domain, collection)
pub type CollKey = (String, String);

/// A collection's validator as written in its schema file.
#[derive(Debug)]
pub struct SchemaFile {
    pub rel: PathBuf,
    pub json: serde_json::Value,
    pub compiled: CompiledSchema,
}

/// A workspace that parsed; it may still carry error diagnostics (see [`Loaded`]).
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub manifest: Manifest,
    pub schemas: BTreeMap<CollKey, SchemaFile>,
    pub indexes: BTreeMap<CollKey, Vec<IndexDef>>,
    pub seeds: BTreeMap<CollKey, SeedSet>,
    /// `migrations/`, in order.
    pub migrations: Vec<crate::migrate::model::Migration>,
    /// `imports/`: PostgreSQL import mappings, by file name.
    pub imports: Vec<crate::import::model::Import>,
    /// The tenants file's tenants (`"tenants": {"file": …}`); a live source is read at run
    /// time (by the tenancy source reader).
    pub tenants: Option<Vec<tenants::Tenant>>,
    /// The tenants file's per-tenant quota overrides (tenant id → quota).
    pub tenant_quotas: BTreeMap<String, quotas::Quota>,
    /// `queries/<domain>/<collection>.json`: the query contracts.
    pub queries: BTreeMap<CollKey, Vec<crate::query_contract::QueryContract>>,
}

pub struct Loaded {
    pub workspace: Option<Workspace>,
    pub diagnostics: Vec<Diagnostic>,
    pub files: usize,
}

impl Loaded {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

pub const KINDS: [&str; 3] = ["schemas", "indexes", "seeds"];

/// Reads and checks everything under `root`.
pub fn load(root: &Path) -> Loaded {
    let mut diags = Vec::new();
    let mut files = 0;
    let manifest_rel = Path::new(MANIFEST_FILE);
    // Not is_file(): a manifest that is a FIFO or a link out of the workspace gets its own error.
    if std::fs::symlink_metadata(root.join(manifest_rel)).is_err() {
        diags.push(Diagnostic {
            file: root.join(manifest_rel),
            path: JsonPath::root(),
            line: 0,
            column: 0,
            message: format!("no {MANIFEST_FILE} here: run mongoctl from a spec workspace, or pass --spec DIR (or set MONGOCTL_SPEC)"),
            warning: false,
        });
        return Loaded {
            workspace: None,
            diagnostics: diags,
            files,
        };
    }
    let manifest_src = read_file(root, manifest_rel, &mut diags);
    let manifest = match &manifest_src {
        Some(src) => {
            files += 1;
            manifest::read(&mut Reader::new(src, &mut diags), &src.value, root)
        }
        None => None,
    };
    let (Some(manifest), Some(manifest_src)) = (manifest, manifest_src) else {
        return Loaded {
            workspace: None,
            diagnostics: diags,
            files,
        };
    };
    let mut manifest = manifest;
    views::read_domains(&mut Reader::new(&manifest_src, &mut diags), &mut manifest);

    let mut ws = Workspace {
        root: root.to_path_buf(),
        schemas: BTreeMap::new(),
        indexes: BTreeMap::new(),
        seeds: BTreeMap::new(),
        migrations: Vec::new(),
        imports: Vec::new(),
        tenants: None,
        tenant_quotas: BTreeMap::new(),
        queries: BTreeMap::new(),
        manifest,
    };
    // Schemas first: seeds are validated against them.
    for kind in KINDS {
        for (key, rel) in collection_files(root, kind, &ws.manifest, &mut diags) {
            let Some(src) = read_file(root, &rel, &mut diags) else {
                continue;
            };
            files += 1;
            let mut r = Reader::new(&src, &mut diags);
            match kind {
                "schemas" => {
                    if let Some(decl) = declared(&ws.manifest, &key) {
                        sharding::check_schema(&mut r, &decl.sharding);
                    }
                    if let Some(s) = read_schema(&mut r, &ws.manifest, &key) {
                        ws.schemas.insert(key, s);
                    }
                }
                "indexes" => {
                    let defs = indexes::read(&mut r, &src.value);
                    check_index_against_collection(&mut r, &ws.manifest, &key, &defs);
                    if let Some(decl) = declared(&ws.manifest, &key) {
                        sharding::check_indexes(&mut r, &decl.sharding, &defs);
                    }
                    ws.indexes.insert(key, defs);
                }
                _ => {
                    access::scan_literal_secrets(&mut r, &src.value, &JsonPath::root());
                    let schema = ws.schemas.get(&key).map(|s| &s.compiled);
                    if let Some(s) = seeds::read(&mut r, &src.value, schema) {
                        ws.seeds.insert(key, s);
                    }
                }
            }
        }
    }
    common_indexes::expand(&mut ws, &mut Reader::new(&manifest_src, &mut diags));
    for (key, rel) in collection_files(root, "queries", &ws.manifest, &mut diags) {
        let Some(src) = read_file(root, &rel, &mut diags) else {
            continue;
        };
        files += 1;
        let schema = ws.schemas.get(&key).map(|s| &s.json);
        let contracts = queries::read(&mut Reader::new(&src, &mut diags), &src.value, &key, schema);
        ws.queries.insert(key, contracts);
    }
    check_sharding(&ws, &manifest_src, &mut diags);
    ws.migrations = migrations::load(root, &ws.manifest, &mut diags);
    files += ws.migrations.len();
    ws.imports = imports::load(root, &ws.manifest, &ws.schemas, &mut diags);
    files += ws.imports.len();
    if let Some(tenants::TenantSource::File(rel)) = &ws.manifest.tenants {
        let templates: Vec<String> = ws
            .manifest
            .domains
            .iter()
            .filter(|d| d.template)
            .map(|d| d.database.clone())
            .collect();
        if let Some(file) = tenants::read_file_with_quotas(
            root,
            rel,
            &templates,
            &ws.manifest.tenant_classes,
            &mut diags,
        ) {
            ws.tenants = Some(file.tenants);
            ws.tenant_quotas = file.quotas;
        }
        files += 1;
    }
    Loaded {
        workspace: Some(ws),
        diagnostics: diags,
        files,
    }
}

fn declared<'m>(m: &'m Manifest, key: &CollKey) -> Option<&'m manifest::CollectionDecl> {
    m.domain(&key.0).and_then(|d| d.collection(&key.1))
}

/// The sharding checks that need every file read: schemas and indexes behind shard keys.
fn check_sharding(ws: &Workspace, manifest_src: &SourceFile, diags: &mut Vec<Diagnostic>) {
    let mut r = Reader::new(manifest_src, diags);
    for d in &ws.manifest.domains {
        for c in &d.collections {
            let key = (d.name.clone(), c.name.clone());
            let p = JsonPath::root()
                .key("domains")
                .key(d.name.as_str())
                .key("collections")
                .key(c.name.as_str());
            let file = |kind: &str| format!("{kind}/{}/{}.json", d.name, c.name);
            sharding::check_collection(
                &mut r,
                &p,
                &c.sharding,
                ws.schemas.contains_key(&key) || schema_file_exists(&ws.root, &file("schemas")),
                &file("schemas"),
                ws.indexes.get(&key).map(Vec::as_slice).unwrap_or_default(),
                &file("indexes"),
            );
        }
    }
}

/// A schema file that failed its own checks still exists (its errors are already reported).
fn schema_file_exists(root: &Path, rel: &str) -> bool {
    std::fs::symlink_metadata(root.join(rel)).is_ok()
}

fn read_file(root: &Path, rel: &Path, diags: &mut Vec<Diagnostic>) -> Option<SourceFile> {
    match SourceFile::read(root, rel) {
        Ok((src, d)) => {
            diags.extend(d);
            Some(src)
        }
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

pub(crate) fn file_diag(rel: PathBuf, message: String) -> Diagnostic {
    Diagnostic {
        file: rel,
        path: JsonPath::root(),
        line: 0,
        column: 0,
        message,
        warning: false,
    }
}

/// Lists `<kind>/<domain>/<collection>.json`, flagging files that belong to nothing declared.
fn collection_files(
    root: &Path,
    kind: &str,
    m: &Manifest,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(CollKey, PathBuf)> {
    let mut out = Vec::new();
    for (dom_name, dom_rel, is_dir) in sorted_entries(root, Path::new(kind)) {
        if !is_dir {
            if !ignorable(&dom_name) {
                diags.push(file_diag(
                    dom_rel,
                    format!("unexpected file: {kind}/ holds one folder per domain"),
                ));
            }
            continue;
        }
        let Some(domain) = m.domain(&dom_name) else {
            let hint = did_you_mean(&dom_name, m.domains.iter().map(|d| d.name.as_str()))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            diags.push(file_diag(
                dom_rel,
                format!("\"{dom_name}\" is not a domain declared in {MANIFEST_FILE}{hint}"),
            ));
            continue;
        };
        for (file_name, rel, is_dir) in sorted_entries(root, &dom_rel) {
            if ignorable(&file_name) {
                continue;
            }
            let Some(coll) = file_name.strip_suffix(".json").filter(|_| !is_dir) else {
                diags.push(file_diag(
                    rel,
                    format!("unexpected entry: {kind}/{dom_name}/ holds <collection>.json files"),
                ));
                continue;
            };
            if domain.collection(coll).is_none() {
                let hint = did_you_mean(coll, domain.collections.iter().map(|c| c.name.as_str()))
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                diags.push(file_diag(
                    rel,
                    format!("collection \"{coll}\" is not declared in domain \"{dom_name}\" of {MANIFEST_FILE}{hint}"),
                ));
                continue;
            }
            out.push(((dom_name.clone(), coll.to_string()), rel));
        }
    }
    out
}

fn ignorable(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".md")
}

fn sorted_entries(root: &Path, rel: &Path) -> Vec<(String, PathBuf, bool)> {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return vec![];
    };
    let mut v: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // A link to a folder counts as a folder (files read through it are still checked).
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir())
                || (e.file_type().is_ok_and(|t| t.is_symlink())
                    && std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()));
            (name.clone(), rel.join(&name), is_dir)
        })
        .collect();
    v.sort();
    v
}

fn read_schema(r: &mut Reader, m: &Manifest, key: &CollKey) -> Option<SchemaFile> {
    let issues = lint(&r.src.value);
    let ok = !issues.iter().any(|i| i.severity == Severity::Error);
    for issue in issues {
        match issue.severity {
            Severity::Error => r.error(issue.path, issue.message),
            Severity::Warning => r.warn(issue.path, issue.message),
        }
    }
    let decl = m.domain(&key.0).and_then(|d| d.collection(&key.1));
    if decl.is_some_and(|c| c.options.timeseries.is_some()) {
        r.error(JsonPath::root(), "time-series collections cannot have a validator; MongoDB rejects 'timeseries' with 'validator'");
    }
    if !ok {
        return None;
    }
    let compiled = CompiledSchema::compile(&r.src.value).ok()?;
    Some(SchemaFile {
        rel: r.src.rel.clone(),
        json: r.src.value.clone(),
        compiled,
    })
}

fn check_index_against_collection(r: &mut Reader, m: &Manifest, key: &CollKey, defs: &[IndexDef]) {
    let Some(decl) = m.domain(&key.0).and_then(|d| d.collection(&key.1)) else {
        return;
    };
    if decl.options.capped.is_some() {
        // Capped collections accept secondary indexes, but TTL deletes are not allowed there.
        for (i, d) in defs.iter().enumerate() {
            if d.options.contains_key("expireAfterSeconds") {
                r.error(
                    JsonPath::root().key("indexes").index(i),
                    "TTL indexes are not supported on capped collections",
                );
            }
        }
    }
}

impl Workspace {
    /// The desired cluster for the given database names (domain → database), limited to
    /// `domains` when it is not empty.
    pub fn desired_state(
        &self,
        names: &BTreeMap<String, String>,
        domains: &[String],
    ) -> ClusterState {
        let databases = self
            .manifest
            .domains
            .iter()
            .filter(|d| domains.is_empty() || domains.contains(&d.name))
            .map(|d| DatabaseState {
                domain: d.name.clone(),
                name: names
                    .get(&d.name)
                    .cloned()
                    .unwrap_or_else(|| d.database.clone()),
                collections: d
                    .collections
                    .iter()
                    .map(|c| {
                        let key = (d.name.clone(), c.name.clone());
                        let mut cs = CollectionState::new(&c.name);
                        cs.options = c.options.clone();
                        cs.validator = self.schemas.get(&key).and_then(|s| json_to_doc(&s.json));
                        cs.indexes = self.indexes.get(&key).cloned().unwrap_or_default();
                        cs.seeds = self.seeds.get(&key).cloned();
                        cs
                    })
                    .collect(),
                views: d.views.clone(),
            })
            .collect();
        // Users and roles are cluster-wide: a run scoped to some domains leaves them alone.
        let declares_access = !self.manifest.roles.is_empty() || !self.manifest.users.is_empty();
        let access = (declares_access && domains.is_empty()).then(|| self.access(names));
        ClusterState { databases, access }
    }

    /// Roles and users with domain references resolved to database names.
    fn access(&self, names: &BTreeMap<String, String>) -> Access {
        let db_of = |domain: &str| {
            names
                .get(domain)
                .cloned()
                .unwrap_or_else(|| domain.to_string())
        };
        let role_ref = |r: &access::RoleRefSpec| RoleRef {
            role: r.role.clone(),
            db: match &r.target {
                access::RoleTarget::Domain(d) => db_of(d),
                access::RoleTarget::Db(db) => db.clone(),
                access::RoleTarget::Custom => "admin".to_string(),
            },
        };
        let mut roles: Vec<RoleDef> = self
            .manifest
            .roles
            .iter()
            .map(|r| RoleDef {
                name: r.name.clone(),
                db: "admin".into(),
                privileges: r
                    .privileges
                    .iter()
                    .map(|p| Privilege {
                        resource: match &p.resource {
                            access::ResourceSpec::Domain { domain, collection } => {
                                doc! {"db": db_of(domain), "collection": collection}
                            }
                            access::ResourceSpec::Db { db, collection } => {
                                doc! {"db": db, "collection": collection}
                            }
                            access::ResourceSpec::Cluster => doc! {"cluster": true},
                        },
                        actions: p.actions.clone(),
                    })
                    .collect(),
                roles: r.roles.iter().map(role_ref).collect(),
            })
            .collect();
        let mut users: Vec<UserDef> = self
            .manifest
            .users
            .iter()
            .map(|u| UserDef {
                name: u.name.clone(),
                db: u.db.clone(),
                roles: u.roles.iter().map(role_ref).collect(),
                mechanisms: u.mechanisms.clone(),
                restrictions: u.restrictions.clone(),
                purpose: u.purpose.clone(),
                password: u.password.clone(),
            })
            .collect();
        crate::model::normalize_access(&mut roles, &mut users);
        Access {
            roles,
            users,
            connected_as: vec![],
        }
    }
}

pub fn json_to_doc(v: &serde_json::Value) -> Option<Document> {
    match Bson::try_from(v.clone()) {
        Ok(Bson::Document(d)) => Some(d),
        _ => None,
    }
}

/// Where a domain's database name came from, for `list` and error messages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResolvedDatabase {
    pub domain: String,
    pub name: String,
    pub source: String,
}

/// Resolves each domain's database name: its env var, then the environment's override, then
/// the manifest (the environment's prefix applies to the last two).
pub fn resolve_databases(
    m: &Manifest,
    env: Option<&Environment>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<ResolvedDatabase> {
    m.domains
        .iter()
        .map(|d| {
            let prefix = env
                .and_then(|e| e.database_prefix.clone())
                .unwrap_or_default();
            let (name, source) = if let Some(v) = lookup(&d.database_env).filter(|v| !v.is_empty())
            {
                (v, format!("env {}", d.database_env))
            } else if let Some(v) = env.and_then(|e| e.databases.get(&d.name)) {
                (format!("{prefix}{v}"), "environment".to_string())
            } else {
                (format!("{prefix}{}", d.database), "manifest".to_string())
            };
            ResolvedDatabase {
                domain: d.name.clone(),
                name,
                source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{
  "project": "shop",
  "environments": {
    "dev": {"databasePrefix": "dev_", "databases": {"billing": "bills"}},
    "prod": {}
  },
  "domains": {
    "sales": {"database": "sales", "collections": {"orders": {}, "events": {"capped": {"size": 4096}}}},
    "billing": {"database": "billing", "databaseEnv": "BILLING_DB", "collections": {"invoices": {}}}
  }
}"#;

    /// A workspace on disk: the manifest above plus `files` (relative path, contents).
    fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), MANIFEST).unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn messages(loaded: &Loaded) -> Vec<String> {
        loaded.diagnostics.iter().map(ToString::to_string).collect()
    }

    fn manifest() -> Manifest {
        let dir = workspace(&[]);
        let loaded = load(dir.path());
        assert!(loaded.diagnostics.is_empty(), "{:?}", messages(&loaded));
        loaded.workspace.unwrap().manifest
    }

    fn names(resolved: &[ResolvedDatabase]) -> Vec<(&str, &str, &str)> {
        resolved
            .iter()
            .map(|r| (r.domain.as_str(), r.name.as_str(), r.source.as_str()))
            .collect()
    }

    #[test]
    fn resolve_defaults_to_the_manifest() {
        let m = manifest();
        assert_eq!(
            names(&resolve_databases(&m, None, &|_| None)),
            [
                ("sales", "sales", "manifest"),
                ("billing", "billing", "manifest")
            ]
        );
        let prod = &m.environments["prod"];
        assert_eq!(
            names(&resolve_databases(&m, Some(prod), &|_| None)),
            [
                ("sales", "sales", "manifest"),
                ("billing", "billing", "manifest")
            ]
        );
    }

    #[test]
    fn resolve_applies_environment_prefix_and_overrides() {
        let m = manifest();
        let dev = &m.environments["dev"];
        assert_eq!(
            names(&resolve_databases(&m, Some(dev), &|_| None)),
            [
                ("sales", "dev_sales", "manifest"),
                ("billing", "dev_bills", "environment")
            ]
        );
    }

    #[test]
    fn resolve_prefers_the_env_var_without_prefix() {
        let m = manifest();
        let dev = &m.environments["dev"];
        let lookup = |name: &str| match name {
            "DB_NAME_SALES" => Some("s_from_env".to_string()),
            "BILLING_DB" => Some("b_from_env".to_string()),
            _ => None,
        };
        assert_eq!(
            names(&resolve_databases(&m, Some(dev), &lookup)),
            [
                ("sales", "s_from_env", "env DB_NAME_SALES"),
                ("billing", "b_from_env", "env BILLING_DB")
            ]
        );
        // The derived name is not consulted when a domain names its own variable.
        let wrong_var = |name: &str| (name == "DB_NAME_BILLING").then(|| "nope".to_string());
        assert_eq!(resolve_databases(&m, None, &wrong_var)[1].name, "billing");
    }

    #[test]
    fn resolve_ignores_an_empty_env_var() {
        let m = manifest();
        let dev = &m.environments["dev"];
        let empty = |_: &str| Some(String::new());
        assert_eq!(
            names(&resolve_databases(&m, Some(dev), &empty)),
            [
                ("sales", "dev_sales", "manifest"),
                ("billing", "dev_bills", "environment")
            ]
        );
    }

    #[test]
    fn common_indexes_reach_the_collections_that_have_the_fields() {
        let manifest = r#"{
  "project": "shop",
  "commonIndexes": [{"key": {"created_at": 1}}, {"key": {"updated_at": 1}}],
  "domains": {
    "sales": {"database": "sales", "commonIndexes": [{"key": {"region": 1}}], "collections": {
      "orders": {},
      "events": {"commonIndexes": {"except": ["updated_at_1", "nope_1"]}},
      "carts": {"commonIndexes": false}
    }},
    "billing": {"database": "billing", "collections": {"invoices": {}}}
  }
}"#;
        let schema = r#"{"bsonType": "object", "properties": {"created_at": {"bsonType": "date"}, "updated_at": {"bsonType": "date"}, "region": {"bsonType": "string"}}}"#;
        let dir = workspace(&[
            (MANIFEST_FILE, manifest),
            ("schemas/sales/orders.json", schema),
            ("schemas/sales/events.json", schema),
            ("schemas/sales/carts.json", schema),
            (
                "schemas/billing/invoices.json",
                r#"{"bsonType": "object", "properties": {"updated_at": {"bsonType": "date"}}}"#,
            ),
            (
                "indexes/sales/orders.json",
                r#"{"indexes": [{"key": {"created_at": -1, "status": 1}}]}"#,
            ),
        ]);
        let loaded = load(dir.path());
        let msgs = messages(&loaded);
        assert_eq!(loaded.errors(), 0, "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("except[1]") && m.contains("nope_1")),
            "{msgs:?}"
        );
        let ws = loaded.workspace.unwrap();
        let names = |d: &str, c: &str| -> Vec<String> {
            ws.indexes
                .get(&(d.to_string(), c.to_string()))
                .map(|l| l.iter().map(|i| i.name.clone()).collect())
                .unwrap_or_default()
        };
        // created_at is served by the collection's own {created_at: -1, status: 1}.
        assert_eq!(
            names("sales", "orders"),
            ["created_at_-1_status_1", "updated_at_1", "region_1"]
        );
        assert_eq!(names("sales", "events"), ["created_at_1", "region_1"]);
        assert!(names("sales", "carts").is_empty());
        // billing has no domain commons; its schema lacks created_at.
        assert_eq!(names("billing", "invoices"), ["updated_at_1"]);

        // An own index of the same name but another key is an error at the common index.
        std::fs::write(
            dir.path().join("indexes/sales/orders.json"),
            r#"{"indexes": [{"key": {"updated_at": "hashed"}, "name": "updated_at_1"}]}"#,
        )
        .unwrap();
        let loaded = load(dir.path());
        let msgs = messages(&loaded);
        assert!(
            msgs.iter().any(|m| m.contains("commonIndexes[1]")
                && m.contains("sales.orders declares its own index named \"updated_at_1\"")),
            "{msgs:?}"
        );
    }

    /// Seed 001's "Common Indexes (All Services)": every collection of the default workspace
    /// whose schema has `created_at` / `updated_at` gets an index led by it, from the
    /// manifest's `commonIndexes` (the index files no longer repeat them).
    #[test]
    fn the_default_workspace_indexes_created_at_and_updated_at_everywhere() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let loaded = load(root);
        assert_eq!(loaded.errors(), 0, "{:?}", messages(&loaded));
        let ws = loaded.workspace.unwrap();
        let mut checked = 0;
        for (key, schema) in &ws.schemas {
            for field in ["created_at", "updated_at"] {
                if !common_indexes::declares(&schema.json, field) {
                    continue;
                }
                checked += 1;
                let led = ws.indexes.get(key).is_some_and(|l| {
                    l.iter()
                        .any(|i| i.key.keys().next().map(String::as_str) == Some(field))
                });
                assert!(led, "{key:?} has {field} but no index led by it");
            }
        }
        assert!(checked > 50, "{checked}");
        let hand_written = std::fs::read_to_string(root.join("indexes/auth/users.json")).unwrap();
        assert!(!hand_written.contains(r#"{"key": {"created_at": 1}}"#));
    }

    #[test]
    fn load_reads_every_kind_of_file() {
        let dir = workspace(&[
            (
                "schemas/sales/orders.json",
                r#"{"bsonType": "object", "required": ["at"]}"#,
            ),
            (
                "indexes/sales/orders.json",
                r#"{"indexes": [{"key": {"at": -1}}]}"#,
            ),
            (
                "seeds/billing/invoices.json",
                r#"{"key": ["n"], "documents": [{"n": 1}]}"#,
            ),
            ("indexes/README.md", "notes"),
            ("seeds/billing/.hidden", "x"),
        ]);
        let loaded = load(dir.path());
        assert!(loaded.diagnostics.is_empty(), "{:?}", messages(&loaded));
        assert_eq!(loaded.files, 4);
        assert_eq!(loaded.errors(), 0);
        let ws = loaded.workspace.unwrap();
        let orders = ("sales".to_string(), "orders".to_string());
        let invoices = ("billing".to_string(), "invoices".to_string());
        assert_eq!(ws.indexes[&orders][0].name, "at_-1");
        assert_eq!(ws.seeds[&invoices].documents, [doc! {"n": 1}]);
        assert_eq!(
            ws.schemas[&orders].rel,
            Path::new("schemas/sales/orders.json")
        );
    }

    #[test]
    fn load_flags_files_that_belong_to_nothing() {
        let dir = workspace(&[
            ("indexes/sale/orders.json", r#"{"indexes": []}"#),
            ("indexes/sales/order.json", r#"{"indexes": []}"#),
            ("indexes/sales/orders.txt", ""),
            ("seeds/stray.json", "{}"),
        ]);
        let loaded = load(dir.path());
        assert_eq!(
            messages(&loaded),
            [
                "indexes/sale: error: \"sale\" is not a domain declared in mongoctl.json; did you mean \"sales\"?",
                "indexes/sales/order.json: error: collection \"order\" is not declared in domain \"sales\" of mongoctl.json; did you mean \"orders\"?",
                "indexes/sales/orders.txt: error: unexpected entry: indexes/sales/ holds <collection>.json files",
                "seeds/stray.json: error: unexpected file: seeds/ holds one folder per domain",
            ]
        );
        assert_eq!(loaded.errors(), 4);
        assert_eq!(loaded.files, 1);
    }

    #[test]
    fn load_without_a_manifest_says_how_to_point_at_one() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path());
        assert!(loaded.workspace.is_none());
        assert_eq!(loaded.errors(), 1);
        assert!(
            loaded.diagnostics[0]
                .message
                .starts_with("no mongoctl.json here"),
            "{}",
            loaded.diagnostics[0].message
        );
    }

    #[test]
    fn load_with_a_broken_manifest_has_no_workspace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), "{\n  \"project\": \n").unwrap();
        let loaded = load(dir.path());
        assert!(loaded.workspace.is_none());
        assert_eq!(loaded.errors(), 1);
        let d = &loaded.diagnostics[0];
        assert!(d.message.starts_with("invalid JSON: "), "{}", d.message);
        assert_eq!(d.line, 3);
    }

    #[test]
    fn ttl_index_on_a_capped_collection_is_refused() {
        let dir = workspace(&[(
            "indexes/sales/events.json",
            r#"{"indexes": [{"key": {"a": 1}}, {"key": {"at": 1}, "expireAfterSeconds": 60}]}"#,
        )]);
        let loaded = load(dir.path());
        assert_eq!(
            messages(&loaded),
            [
                "indexes/sales/events.json:1:33: error: indexes[1]: TTL indexes are not supported on capped collections"
            ]
        );
    }

    #[test]
    fn literal_secrets_in_seeds_are_scanned() {
        let dir = workspace(&[(
            "seeds/billing/invoices.json",
            r#"{"key": ["n"], "documents": [{"n": 1, "password": "hunter2"}]}"#,
        )]);
        let loaded = load(dir.path());
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.path.to_string() == "documents[0].password"),
            "{:?}",
            messages(&loaded)
        );
    }

    #[test]
    fn desired_state_uses_resolved_names_and_domain_filter() {
        let dir = workspace(&[
            (
                "schemas/sales/orders.json",
                r#"{"bsonType": "object", "required": ["at"]}"#,
            ),
            (
                "indexes/sales/orders.json",
                r#"{"indexes": [{"key": {"at": 1}}]}"#,
            ),
        ]);
        let ws = load(dir.path()).workspace.unwrap();
        let names = BTreeMap::from([("sales".to_string(), "dev_sales".to_string())]);
        let all = ws.desired_state(&names, &[]);
        let dbs: Vec<_> = all.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(dbs, ["dev_sales", "billing"]);
        let orders = &all.databases[0].collections[0];
        assert_eq!(orders.name, "orders");
        assert_eq!(
            orders.validator,
            Some(doc! {"bsonType": "object", "required": ["at"]})
        );
        assert_eq!(orders.indexes[0].name, "at_1");
        assert!(all.databases[0].collections[1].options.capped.is_some());
        assert!(all.access.is_none(), "no roles or users declared");

        let only = ws.desired_state(&names, &["billing".to_string()]);
        assert_eq!(only.databases.len(), 1);
        assert_eq!(only.databases[0].domain, "billing");
    }

    #[test]
    fn json_to_doc_needs_an_object() {
        assert_eq!(
            json_to_doc(&serde_json::json!({"a": {"$numberLong": "1"}})),
            Some(doc! {"a": 1_i64})
        );
        assert_eq!(json_to_doc(&serde_json::json!([1])), None);
        assert_eq!(json_to_doc(&serde_json::json!("s")), None);
    }
}
