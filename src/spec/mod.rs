//! Reading and checking a spec workspace: the manifest plus `schemas/`, `indexes/` and
//! `seeds/`. Every problem becomes a located [`Diagnostic`]; nothing here touches a cluster.

pub mod access;
pub mod diag;
pub mod fields;
pub mod indexes;
pub mod manifest;
pub mod seeds;
pub mod source;

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
    let manifest = match read_file(root, manifest_rel, &mut diags) {
        Some(src) => {
            files += 1;
            manifest::read(&mut Reader::new(&src, &mut diags), &src.value, root)
        }
        None => None,
    };
    let Some(manifest) = manifest else {
        return Loaded {
            workspace: None,
            diagnostics: diags,
            files,
        };
    };

    let mut ws = Workspace {
        root: root.to_path_buf(),
        schemas: BTreeMap::new(),
        indexes: BTreeMap::new(),
        seeds: BTreeMap::new(),
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
                    if let Some(s) = read_schema(&mut r, &ws.manifest, &key) {
                        ws.schemas.insert(key, s);
                    }
                }
                "indexes" => {
                    let defs = indexes::read(&mut r, &src.value);
                    check_index_against_collection(&mut r, &ws.manifest, &key, &defs);
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
    Loaded {
        workspace: Some(ws),
        diagnostics: diags,
        files,
    }
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

fn file_diag(rel: PathBuf, message: String) -> Diagnostic {
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
