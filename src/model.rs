//! The cluster as mongoctl sees it: databases, collections with their options and validator,
//! indexes and seed documents. The spec reader builds the desired side, the live inspector the
//! actual side, in the same types, so that `diff` compares like with like.
//!
//! Later features slot in here: roles and users (per database), tenant templates (a domain
//! instantiated per tenant), sharding (a shard key per collection).

use bson::{Bson, Document};
use serde::Serialize;

/// Everything declared for (or found on) the databases mongoctl manages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterState {
    pub databases: Vec<DatabaseState>,
    /// Access control; `None` when the spec declares no roles or users (then the cluster's
    /// users and roles are neither read nor changed).
    pub access: Option<Access>,
}

/// Custom roles (all defined in `admin`) and users, with database names resolved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Access {
    pub roles: Vec<RoleDef>,
    pub users: Vec<UserDef>,
    /// Live only: the users this connection is authenticated as (`name@db`); never pruned.
    pub connected_as: Vec<String>,
}

/// A role reference as MongoDB stores it: `{role, db}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RoleRef {
    pub role: String,
    pub db: String,
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.role, self.db)
    }
}

/// One privilege: a resource (`{db, collection}` or `{cluster: true}`) and its actions,
/// kept sorted so that comparison ignores order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Privilege {
    pub resource: Document,
    pub actions: Vec<String>,
}

/// Live only: what the server resolves a user or a role to (`inheritedPrivileges`: built-in
/// and inherited roles expanded), beside the roles it is granted directly. `audit` proves
/// tenant isolation from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effective {
    /// `name@db`.
    pub id: String,
    pub roles: Vec<RoleRef>,
    pub privileges: Vec<Privilege>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleDef {
    pub name: String,
    pub db: String,
    pub privileges: Vec<Privilege>,
    pub roles: Vec<RoleRef>,
}

/// Where a user's password comes from. The value itself never enters the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSource {
    Env(String),
    File(std::path::PathBuf),
    Generate,
}

impl std::fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::Env(v) => write!(f, "env {v}"),
            PasswordSource::File(p) => write!(f, "file {}", p.display()),
            PasswordSource::Generate => f.write_str("generated"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserDef {
    pub name: String,
    /// The authentication database.
    pub db: String,
    pub roles: Vec<RoleRef>,
    pub mechanisms: Vec<String>,
    /// `authenticationRestrictions`, as MongoDB takes them.
    pub restrictions: Vec<Document>,
    /// `service` (default), `human` or `admin`: `audit` holds service users to the strictest rules.
    pub purpose: String,
    /// Desired side only.
    pub password: Option<PasswordSource>,
}

/// Puts roles, users, their role lists and privileges in a canonical order, so the desired
/// and live sides compare regardless of the order either was written in.
pub fn normalize_access(roles: &mut [RoleDef], users: &mut [UserDef]) {
    for r in roles.iter_mut() {
        for p in &mut r.privileges {
            p.actions.sort();
            p.actions.dedup();
        }
        r.privileges.sort_by_key(|p| p.resource.to_string());
        r.roles.sort();
        r.roles.dedup();
    }
    for u in users.iter_mut() {
        u.roles.sort();
        u.roles.dedup();
        u.mechanisms.sort();
    }
    roles.sort_by(|a, b| (&a.db, &a.name).cmp(&(&b.db, &b.name)));
    users.sort_by(|a, b| (&a.db, &a.name).cmp(&(&b.db, &b.name)));
}

impl UserDef {
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.db)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseState {
    /// The manifest's domain name (`auth`); the live side copies it from the desired side.
    pub domain: String,
    /// The resolved database name (`reminderdb_auth`).
    pub name: String,
    /// Collections proper (time series included); views are in `views`, never here.
    pub collections: Vec<CollectionState>,
    pub views: Vec<ViewState>,
}

/// A read-only view: `viewOn` (a collection or another view of the same database), its
/// aggregation pipeline and its default collation, as `create` takes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewState {
    pub name: String,
    pub view_on: String,
    pub pipeline: Vec<Document>,
    pub collation: Option<Document>,
    /// Desired only: declared `"absent": true`, so a live view of that name is dropped.
    pub absent: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectionState {
    pub name: String,
    pub options: CollectionOptions,
    /// The `$jsonSchema` document, when the collection is validated by one.
    pub validator: Option<Document>,
    /// A live validator that is not a plain `{$jsonSchema: …}` (query operators): kept whole so
    /// that drift is reported instead of ignored.
    pub other_validator: Option<Document>,
    pub indexes: Vec<IndexDef>,
    /// Desired: the seed set. Live: the documents found for the seed set's keys.
    pub seeds: Option<SeedSet>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CollectionOptions {
    pub validation_level: Option<String>,
    pub validation_action: Option<String>,
    pub capped: Option<Capped>,
    pub timeseries: Option<Timeseries>,
    pub collation: Option<Document>,
    pub clustered: bool,
    pub change_stream_pre_and_post_images: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capped {
    pub size: i64,
    pub max: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeseries {
    pub time_field: String,
    pub meta_field: Option<String>,
    pub granularity: Option<String>,
    pub expire_after_seconds: Option<i64>,
}

/// An index: its key pattern (order matters) and the options a user can set.
/// Server-added fields (`v`, `ns`, text/2dsphere versions) are not kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexDef {
    pub name: String,
    pub key: Document,
    pub options: Document,
}

/// The fields of a declared index: its key, its name and the [`INDEX_OPTIONS`]. The one list
/// both `spec` (which refuses other fields) and `live` (which ignores them) read.
pub const INDEX_FIELDS: &[&str] = &[
    "key",
    "name",
    "unique",
    "sparse",
    "partialFilterExpression",
    "expireAfterSeconds",
    "collation",
    "hidden",
    "weights",
    "default_language",
    "language_override",
    "wildcardProjection",
    "2dsphereIndexVersion",
    "bits",
    "min",
    "max",
];

/// Index options mongoctl understands; anything else in a live index is ignored.
pub const INDEX_OPTIONS: &[&str] = INDEX_FIELDS.split_at(2).1;

/// Options `collMod` can change on an existing index without rebuilding it.
pub const INDEX_OPTIONS_MODIFIABLE: &[&str] = &["expireAfterSeconds", "hidden"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedSet {
    /// Natural key field paths.
    pub key: Vec<String>,
    pub documents: Vec<Document>,
    /// `ownsCollection`: the file is the whole collection, so live documents and fields it
    /// does not declare are deleted (the live side then holds every document).
    pub owns_collection: bool,
}

impl ClusterState {
    pub fn database(&self, name: &str) -> Option<&DatabaseState> {
        self.databases.iter().find(|d| d.name == name)
    }
}

impl DatabaseState {
    pub fn collection(&self, name: &str) -> Option<&CollectionState> {
        self.collections.iter().find(|c| c.name == name)
    }
    pub fn view(&self, name: &str) -> Option<&ViewState> {
        self.views.iter().find(|v| v.name == name)
    }
}

impl CollectionState {
    pub fn new(name: impl Into<String>) -> Self {
        CollectionState {
            name: name.into(),
            options: CollectionOptions::default(),
            validator: None,
            other_validator: None,
            indexes: Vec::new(),
            seeds: None,
        }
    }

    /// The effective validation level/action: MongoDB's defaults when unset.
    pub fn effective_validation(&self) -> (&str, &str) {
        (
            self.options.validation_level.as_deref().unwrap_or("strict"),
            self.options.validation_action.as_deref().unwrap_or("error"),
        )
    }
}

impl SeedSet {
    /// The natural-key values of a document, in key order (`None` when a key field is missing).
    pub fn key_of(&self, doc: &Document) -> Option<Vec<Bson>> {
        self.key.iter().map(|k| get_path(doc, k).cloned()).collect()
    }
}

/// Reads a dotted path (`a.b.c`) from a document.
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_document()?.get(p)?;
    }
    Some(cur)
}

/// The name MongoDB derives for an index key pattern: `a_1_b_-1`, `title_text`.
pub fn derived_index_name(key: &Document) -> String {
    key.iter()
        .map(|(k, v)| {
            let v = match v {
                Bson::String(s) => s.clone(),
                Bson::Int32(n) => n.to_string(),
                Bson::Int64(n) => n.to_string(),
                Bson::Double(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                other => other.to_string(),
            };
            format!("{k}_{v}")
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// mongod's largest document, and so the largest `insert` command (plus 16 KiB for the
/// command's own fields) that `run_command` can send.
pub const MAX_BSON_OBJECT_SIZE: usize = 16 * 1024 * 1024;
/// The size of `d` encoded as BSON.
pub fn bson_size(d: &Document) -> usize {
    let mut counter = ByteCount(0);
    d.to_writer(&mut counter).map_or(usize::MAX, |()| counter.0)
}

/// Counts bytes without keeping them.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A hashable stand-in for `b`: whenever `bson_eq(a, b, ordered)` holds, `eq_key(a, ordered)
/// == eq_key(b, ordered)`, so values can be grouped in a map and confirmed with `bson_eq`.
pub fn eq_key(b: &Bson, ordered: bool) -> String {
    let mut out = String::new();
    write_eq_key(b, ordered, &mut out);
    out
}

/// [`eq_key`] of an array of `values`, without building the array.
pub fn eq_key_of_all(values: &[Bson], ordered: bool) -> String {
    let mut out = String::from("[");
    for v in values {
        write_eq_key(v, ordered, &mut out);
        out.push(',');
    }
    out.push(']');
    out
}

fn write_eq_key(b: &Bson, ordered: bool, out: &mut String) {
    use std::fmt::Write;
    match b {
        Bson::Document(d) => {
            let mut fields: Vec<_> = d.iter().collect();
            if !ordered {
                fields.sort_by(|x, y| x.0.cmp(y.0));
            }
            out.push('{');
            for (k, v) in fields {
                let _ = write!(out, "{}:{k}", k.len());
                write_eq_key(v, ordered, out);
            }
            out.push('}');
        }
        Bson::Array(items) => {
            out.push('[');
            for v in items {
                write_eq_key(v, ordered, out);
                out.push(',');
            }
            out.push(']');
        }
        _ => match as_f64(b) {
            // -0.0 == 0.0; NaN never equals anything, so its key does not matter.
            Some(x) => {
                let _ = write!(out, "n{}", if x == 0.0 { 0 } else { x.to_bits() });
            }
            None => match b {
                // The common key types directly; the rest through their canonical Extended JSON.
                Bson::String(v) => {
                    let _ = write!(out, "s{}:{v}", v.len());
                }
                Bson::ObjectId(id) => {
                    let _ = write!(out, "o{id}");
                }
                _ => {
                    let _ = write!(out, "v{}", b.clone().into_canonical_extjson());
                }
            },
        },
    }
}

/// BSON equality as the server applies it to values users write: numbers compare by value
/// whatever their type (1 == 1i64 == 1.0), and embedded documents compare as unordered maps
/// when `ordered` is false (validator and filter documents), keeping key order significant
/// where MongoDB makes it so (index keys).
pub fn bson_eq(a: &Bson, b: &Bson, ordered: bool) -> bool {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => doc_eq(x, y, ordered),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| bson_eq(p, q, ordered))
        }
        _ => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

pub fn doc_eq(x: &Document, y: &Document, ordered: bool) -> bool {
    if x.len() != y.len() {
        return false;
    }
    if ordered {
        x.iter()
            .zip(y.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && bson_eq(va, vb, ordered))
    } else {
        x.iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| bson_eq(v, w, ordered)))
    }
}

pub fn as_f64(b: &Bson) -> Option<f64> {
    match b {
        Bson::Int32(n) => Some(*n as f64),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(f) => Some(*f),
        _ => None,
    }
}

pub fn as_i64(b: &Bson) -> Option<i64> {
    match b {
        Bson::Int32(n) => Some(*n as i64),
        Bson::Int64(n) => Some(*n),
        Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// BSON → relaxed Extended JSON, for display and JSON output.
pub fn to_json(b: &Bson) -> serde_json::Value {
    b.clone().into_relaxed_extjson()
}

pub fn doc_to_json(d: &Document) -> serde_json::Value {
    to_json(&Bson::Document(d.clone()))
}

/// A value's BSON type bracket, in the order the server sorts types (values of one bracket
/// compare by value; `$gt` and friends only compare within one bracket).
pub fn sort_bracket(v: &Bson) -> u8 {
    match v {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 2,
        Bson::String(_) | Bson::Symbol(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) | Bson::JavaScriptCode(_) | Bson::JavaScriptCodeWithScope(_) => 12,
        Bson::MaxKey => 13,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn index_options_are_the_index_fields_after_key_and_name() {
        assert_eq!(&INDEX_FIELDS[..2], ["key", "name"]);
        assert_eq!(INDEX_OPTIONS.first(), Some(&"unique"));
        assert!(INDEX_FIELDS.ends_with(INDEX_OPTIONS));
        assert_eq!(INDEX_OPTIONS.len() + 2, INDEX_FIELDS.len());
    }

    #[test]
    fn derived_names_match_mongodb() {
        assert_eq!(derived_index_name(&doc! {"a": 1, "b": -1}), "a_1_b_-1");
        assert_eq!(derived_index_name(&doc! {"title": "text"}), "title_text");
        assert_eq!(
            derived_index_name(&doc! {"loc": "2dsphere"}),
            "loc_2dsphere"
        );
        assert_eq!(derived_index_name(&doc! {"$**": 1}), "$**_1");
        assert_eq!(derived_index_name(&doc! {"x": 1.0}), "x_1");
    }

    #[test]
    fn numbers_compare_by_value_and_order_matters_only_when_asked() {
        assert!(bson_eq(&Bson::Int32(5), &Bson::Double(5.0), true));
        assert!(!bson_eq(&Bson::Int32(5), &Bson::String("5".into()), true));
        let a = Bson::Document(doc! {"x": 1, "y": 2});
        let b = Bson::Document(doc! {"y": 2i64, "x": 1});
        assert!(bson_eq(&a, &b, false));
        assert!(!bson_eq(&a, &b, true));
    }

    #[test]
    fn dotted_paths_and_seed_keys() {
        let d = doc! {"code": "x", "meta": {"lang": "en"}};
        let s = SeedSet {
            key: vec!["code".into(), "meta.lang".into()],
            documents: vec![],
            owns_collection: false,
        };
        assert_eq!(
            s.key_of(&d),
            Some(vec![Bson::String("x".into()), Bson::String("en".into())])
        );
        assert_eq!(s.key_of(&doc! {"code": "x"}), None);
    }
}
