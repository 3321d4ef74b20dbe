//! `diff(desired, live) -> Plan`: a pure function, no client, no clock, no printing.
//!
//! Both sides are normalised before comparing (option defaults, the server's expansion of
//! collations and text indexes, numeric types), and every change carries the exact commands
//! `apply` will send, so the plan a user reads is the plan that runs.

use std::collections::HashMap;

use bson::{Bson, Document, doc};
use serde::Serialize;

use crate::model::{
    Access, ClusterState, CollectionState, DatabaseState, INDEX_OPTIONS, INDEX_OPTIONS_MODIFIABLE,
    IndexDef, MAX_BSON_OBJECT_SIZE, PasswordSource, Privilege, RoleRef, SeedSet, as_i64, bson_eq,
    bson_size, doc_eq, doc_to_json, eq_key_of_all, to_json,
};

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
    DropIndex,
    DropCollection,
    CreateRole,
    UpdateRole,
    CreateUser,
    UpdateUser,
    DropUser,
    DropRole,
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
            Action::DropIndex => "drop index",
            Action::DropCollection => "drop collection",
            Action::CreateRole => "create role",
            Action::UpdateRole => "update role",
            Action::CreateUser => "create user",
            Action::UpdateUser => "update user",
            Action::DropUser => "drop user",
            Action::DropRole => "drop role",
            Action::Blocked => "blocked",
        }
    }
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretNeed {
    pub user: String,
    pub db: String,
    pub source: PasswordSource,
}

/// What plans show instead of a password.
pub const PASSWORD_PLACEHOLDER: &str = "****";

fn ser_secret<S: serde::Serializer>(s: &Option<SecretNeed>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(n) => ser.serialize_str(&n.source.to_string()),
        None => ser.serialize_none(),
    }
}

/// Something that exists live but is not declared.
#[derive(Debug, Clone, Serialize)]
pub struct Unmanaged {
    pub kind: &'static str,
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
    fn collection(
        kind: &'static str,
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
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
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

/// Computes what must change for `live` to match `desired`. With `prune`, unmanaged
/// collections and indexes become drop changes; without it they are only listed.
pub fn diff(desired: &ClusterState, live: &ClusterState, prune: bool) -> Plan {
    let mut plan = Plan::default();
    // Phases keep a safe order: collections and validators, then indexes, then seeds (which
    // the new validator and unique indexes then check), then drops.
    let mut phased: Vec<(u8, Change)> = Vec::new();
    for db in &desired.databases {
        let live_db = live.database(&db.name);
        diff_database(db, live_db, &mut phased, &mut plan.unmanaged);
    }
    if let (Some(d), Some(l)) = (&desired.access, &live.access) {
        diff_access(d, l, &mut phased, &mut plan.unmanaged);
    }
    if prune {
        // Users before roles, so no drop leaves a user pointing at a missing role.
        let order = |u: &Unmanaged| match u.kind {
            "user" => 0,
            "role" => 1,
            _ => 2,
        };
        let mut drops: Vec<&Unmanaged> = plan.unmanaged.iter().collect();
        drops.sort_by_key(|u| order(u));
        phased.extend(drops.into_iter().filter_map(prune_change).map(|c| (9, c)));
    }
    phased.sort_by_key(|(phase, _)| *phase);
    plan.changes = phased.into_iter().map(|(_, c)| c).collect();
    plan
}

fn change(action: Action, db: &str, coll: Option<&str>, summary: String) -> Change {
    Change {
        action,
        database: db.to_string(),
        collection: coll.map(str::to_string),
        index: None,
        destructive: matches!(
            action,
            Action::ReplaceIndex
                | Action::DropIndex
                | Action::DropCollection
                | Action::DropUser
                | Action::DropRole
        ),
        summary,
        details: Vec::new(),
        commands: Vec::new(),
        secret: None,
    }
}

fn diff_database(
    db: &DatabaseState,
    live_db: Option<&DatabaseState>,
    out: &mut Vec<(u8, Change)>,
    unmanaged: &mut Vec<Unmanaged>,
) {
    if live_db.is_none() && !db.collections.is_empty() {
        let mut c = change(
            Action::CreateDatabase,
            &db.name,
            None,
            format!("domain {}", db.domain),
        );
        c.details.push("created by its first collection".into());
        out.push((0, c));
    }
    for coll in &db.collections {
        match live_db.and_then(|l| l.collection(&coll.name)) {
            None => create_collection(&db.name, coll, out),
            Some(l) => diff_collection(&db.name, coll, l, out),
        }
    }
    let Some(live_db) = live_db else { return };
    for l in &live_db.collections {
        if l.name.starts_with("system.") {
            continue;
        }
        match db.collection(&l.name) {
            None => unmanaged.push(Unmanaged::collection(
                if l.is_view { "view" } else { "collection" },
                &db.name,
                &l.name,
                None,
            )),
            Some(d) if !l.is_view => {
                for idx in &l.indexes {
                    if !is_id_index(idx)
                        && !d.indexes.iter().any(|x| x.name == idx.name)
                        && !matched_by_key(d, l, idx)
                    {
                        unmanaged.push(Unmanaged::collection(
                            "index",
                            &db.name,
                            &l.name,
                            Some(idx.name.clone()),
                        ));
                    }
                }
            }
            Some(_) => {}
        }
    }
}

fn prune_change(u: &Unmanaged) -> Option<Change> {
    if u.protected {
        return None;
    }
    let c = match (&u.collection, &u.index, &u.name) {
        (Some(coll), Some(name), _) => {
            let mut c = change(
                Action::DropIndex,
                &u.database,
                Some(coll),
                format!("{name} (not declared)"),
            );
            c.index = Some(name.clone());
            c.commands.push(doc! {"dropIndexes": coll, "index": name});
            c
        }
        (Some(coll), None, _) => {
            let mut c = change(
                Action::DropCollection,
                &u.database,
                Some(coll),
                format!("{} (not declared; its data is deleted)", u.kind),
            );
            c.commands.push(doc! {"drop": coll});
            c
        }
        (None, _, Some(name)) if u.kind == "user" => {
            let mut c = change(
                Action::DropUser,
                &u.database,
                None,
                format!("{name}@{} (not declared)", u.database),
            );
            c.commands.push(doc! {"dropUser": name});
            c
        }
        (None, _, Some(name)) => {
            let mut c = change(
                Action::DropRole,
                &u.database,
                None,
                format!("{name}@{} (not declared)", u.database),
            );
            c.commands.push(doc! {"dropRole": name});
            c
        }
        _ => return None,
    };
    Some(c)
}

/// The `create` command for a collection, validator included.
pub fn create_command(coll: &CollectionState) -> Document {
    let mut cmd = doc! {"create": &coll.name};
    let o = &coll.options;
    if let Some(c) = &o.capped {
        cmd.insert("capped", true);
        cmd.insert("size", c.size);
        if let Some(max) = c.max {
            cmd.insert("max", max);
        }
    }
    if let Some(t) = &o.timeseries {
        let mut ts = doc! {"timeField": &t.time_field};
        if let Some(m) = &t.meta_field {
            ts.insert("metaField", m);
        }
        if let Some(g) = &t.granularity {
            ts.insert("granularity", g);
        }
        cmd.insert("timeseries", ts);
        if let Some(e) = t.expire_after_seconds {
            cmd.insert("expireAfterSeconds", e);
        }
    }
    if let Some(c) = &o.collation {
        cmd.insert("collation", c.clone());
    }
    if o.clustered {
        cmd.insert("clusteredIndex", doc! {"key": {"_id": 1}, "unique": true});
    }
    if o.change_stream_pre_and_post_images {
        cmd.insert("changeStreamPreAndPostImages", doc! {"enabled": true});
    }
    if let Some(v) = &coll.validator {
        cmd.insert("validator", doc! {"$jsonSchema": v.clone()});
    }
    if let Some(l) = &o.validation_level {
        cmd.insert("validationLevel", l);
    }
    if let Some(a) = &o.validation_action {
        cmd.insert("validationAction", a);
    }
    cmd
}

fn index_document(idx: &IndexDef) -> Document {
    let mut d = doc! {"key": idx.key.clone(), "name": &idx.name};
    d.extend(idx.options.clone());
    d
}

fn create_index_change(db: &str, coll: &str, idx: &IndexDef) -> Change {
    let mut c = change(Action::CreateIndex, db, Some(coll), describe_index(idx));
    c.index = Some(idx.name.clone());
    c.commands
        .push(doc! {"createIndexes": coll, "indexes": [index_document(idx)]});
    c
}

pub fn describe_index(idx: &IndexDef) -> String {
    let mut s = format!("{} {}", idx.name, doc_to_json(&idx.key));
    for (k, v) in &idx.options {
        match k.as_str() {
            "unique" | "sparse" | "hidden" if v.as_bool() == Some(true) => {
                s.push_str(&format!(" {k}"))
            }
            "expireAfterSeconds" => s.push_str(&format!(" ttl={}s", to_json(v))),
            "partialFilterExpression" => s.push_str(&format!(" partial={}", to_json(v))),
            _ => {}
        }
    }
    s
}

fn create_collection(db: &str, coll: &CollectionState, out: &mut Vec<(u8, Change)>) {
    let mut c = change(
        Action::CreateCollection,
        db,
        Some(&coll.name),
        create_summary(coll),
    );
    c.commands.push(create_command(coll));
    out.push((1, c));
    for idx in &coll.indexes {
        out.push((3, create_index_change(db, &coll.name, idx)));
    }
    if let Some(seeds) = &coll.seeds
        && !seeds.documents.is_empty()
    {
        out.push((
            4,
            insert_seeds_change(
                db,
                &coll.name,
                seeds,
                &seeds.documents.iter().collect::<Vec<_>>(),
            ),
        ));
    }
}

fn create_summary(coll: &CollectionState) -> String {
    let mut parts = Vec::new();
    if coll.validator.is_some() {
        let (level, action) = coll.effective_validation();
        parts.push(format!("validator ({level}/{action})"));
    }
    if let Some(c) = &coll.options.capped {
        parts.push(format!("capped {} bytes", c.size));
    }
    if let Some(t) = &coll.options.timeseries {
        parts.push(format!("time series on {}", t.time_field));
    }
    if coll.options.collation.is_some() {
        parts.push("collation".into());
    }
    if coll.options.clustered {
        parts.push("clustered".into());
    }
    if parts.is_empty() {
        "no validator".into()
    } else {
        parts.join(", ")
    }
}

fn blocked(db: &str, coll: &str, what: &str, desired: String, live: String) -> Change {
    let mut c = change(
        Action::Blocked,
        db,
        Some(coll),
        format!("{what} cannot be changed in place"),
    );
    c.details.push(format!("declared: {desired}"));
    c.details.push(format!("live:     {live}"));
    c.details
        .push("recreate the collection (backup, drop, apply, restore) to change this".into());
    c
}

fn show<T: Serialize>(v: &Option<T>) -> String {
    match v {
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
        None => "none".into(),
    }
}

fn diff_collection(
    db: &str,
    d: &CollectionState,
    l: &CollectionState,
    out: &mut Vec<(u8, Change)>,
) {
    let name = d.name.as_str();
    if l.is_view {
        let mut c = change(
            Action::Blocked,
            db,
            Some(name),
            "a view of that name exists".into(),
        );
        c.details
            .push("drop the view or rename the declared collection".into());
        out.push((1, c));
        return;
    }
    let (o, lo) = (&d.options, &l.options);

    // Options MongoDB cannot change in place.
    let capped_kind_differs = o.capped.is_some() != lo.capped.is_some();
    if capped_kind_differs {
        out.push((
            1,
            blocked(db, name, "capped", show(&o.capped), show(&lo.capped)),
        ));
    }
    match (&o.timeseries, &lo.timeseries) {
        (Some(a), Some(b))
            if a.time_field != b.time_field
                || a.meta_field != b.meta_field
                || a.granularity.as_deref().unwrap_or("seconds")
                    != b.granularity.as_deref().unwrap_or("seconds") =>
        {
            out.push((
                1,
                blocked(
                    db,
                    name,
                    "time-series fields/granularity",
                    show(&o.timeseries),
                    show(&lo.timeseries),
                ),
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            out.push((
                1,
                blocked(
                    db,
                    name,
                    "time series",
                    show(&o.timeseries),
                    show(&lo.timeseries),
                ),
            ));
        }
        _ => {}
    }
    if !collation_matches(o.collation.as_ref(), lo.collation.as_ref()) {
        out.push((
            1,
            blocked(
                db,
                name,
                "collation",
                show(&o.collation.as_ref().map(doc_to_json)),
                show(&lo.collation.as_ref().map(doc_to_json)),
            ),
        ));
    }
    if o.clustered != lo.clustered {
        out.push((
            1,
            blocked(
                db,
                name,
                "clusteredIndex",
                o.clustered.to_string(),
                lo.clustered.to_string(),
            ),
        ));
    }

    // Validator and options collMod can change.
    let live_validator_differs = l.other_validator.is_some()
        || match (&d.validator, &l.validator) {
            (Some(a), Some(b)) => !doc_eq(a, b, false),
            (None, None) => false,
            _ => true,
        };
    let (level, action) = d.effective_validation();
    let (l_level, l_action) = l.effective_validation();
    if live_validator_differs {
        let summary = match &d.validator {
            Some(_) if l.validator.is_none() && l.other_validator.is_none() => {
                "add $jsonSchema validator".to_string()
            }
            Some(_) => "change $jsonSchema".to_string(),
            None => "remove validator (not declared)".to_string(),
        };
        let mut c = change(Action::UpdateValidator, db, Some(name), summary);
        let old = l
            .validator
            .as_ref()
            .map(doc_to_json)
            .or_else(|| l.other_validator.as_ref().map(doc_to_json))
            .unwrap_or(serde_json::Value::Null);
        let new = d
            .validator
            .as_ref()
            .map(doc_to_json)
            .unwrap_or(serde_json::Value::Null);
        c.details = json_diff(&old, &new);
        let validator = d
            .validator
            .as_ref()
            .map(|v| doc! {"$jsonSchema": v.clone()})
            .unwrap_or_default();
        c.commands.push(doc! {"collMod": name, "validator": validator, "validationLevel": level, "validationAction": action});
        out.push((2, c));
    } else if (level, action) != (l_level, l_action) {
        let mut c = change(
            Action::UpdateOptions,
            db,
            Some(name),
            format!("validation {l_level}/{l_action} → {level}/{action}"),
        );
        c.commands
            .push(doc! {"collMod": name, "validationLevel": level, "validationAction": action});
        out.push((2, c));
    }
    if o.change_stream_pre_and_post_images != lo.change_stream_pre_and_post_images {
        let v = o.change_stream_pre_and_post_images;
        let mut c = change(
            Action::UpdateOptions,
            db,
            Some(name),
            format!("changeStreamPreAndPostImages {} → {v}", !v),
        );
        c.commands
            .push(doc! {"collMod": name, "changeStreamPreAndPostImages": {"enabled": v}});
        out.push((2, c));
    }
    if let (Some(a), Some(b)) = (&o.capped, &lo.capped) {
        // The server rounds capped sizes up to a multiple of 256 bytes.
        let want = (a.size + 255) / 256 * 256;
        if want != b.size || a.max != b.max {
            let mut c = change(
                Action::UpdateOptions,
                db,
                Some(name),
                format!(
                    "capped size {} → {want}, max {} → {}",
                    b.size,
                    show(&b.max),
                    show(&a.max)
                ),
            );
            let mut cmd = doc! {"collMod": name, "cappedSize": a.size};
            // cappedMax 0 removes the document limit.
            cmd.insert("cappedMax", a.max.unwrap_or(0));
            c.commands.push(cmd);
            out.push((2, c));
        }
    }
    if let (Some(a), Some(b)) = (&o.timeseries, &lo.timeseries)
        && a.expire_after_seconds != b.expire_after_seconds
    {
        let mut c = change(
            Action::UpdateOptions,
            db,
            Some(name),
            format!(
                "expireAfterSeconds {} → {}",
                show(&b.expire_after_seconds),
                show(&a.expire_after_seconds)
            ),
        );
        let v: Bson = a
            .expire_after_seconds
            .map(Bson::Int64)
            .unwrap_or_else(|| Bson::String("off".into()));
        c.commands
            .push(doc! {"collMod": name, "expireAfterSeconds": v});
        out.push((2, c));
    }

    diff_indexes(db, d, l, out);
    if let Some(seeds) = &d.seeds {
        diff_seeds(db, name, seeds, l.seeds.as_ref(), out);
    }
}

fn is_id_index(idx: &IndexDef) -> bool {
    idx.name == "_id_"
}

/// The declared index that a live index of another name stands for (same key and
/// collation/partial filter): it is renamed by replacing, not reported as unmanaged.
fn matched_by_key(d: &CollectionState, l: &CollectionState, live_idx: &IndexDef) -> bool {
    let coll_collation = d.options.collation.as_ref();
    d.indexes.iter().any(|x| {
        !l.indexes.iter().any(|li| li.name == x.name)
            && same_identity(&normalize(x, coll_collation), &normalize(live_idx, None))
    })
}

/// The identity MongoDB uses to tell indexes apart: key pattern, collation, partial filter.
fn same_identity(a: &IndexDef, b: &IndexDef) -> bool {
    doc_eq(&a.key, &b.key, true)
        && collation_matches(
            a.options.get_document("collation").ok(),
            b.options.get_document("collation").ok(),
        )
        && opt_eq(
            a.options.get("partialFilterExpression"),
            b.options.get("partialFilterExpression"),
        )
}

fn opt_eq(a: Option<&Bson>, b: Option<&Bson>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => bson_eq(x, y, false),
        (None, None) => true,
        _ => false,
    }
}

/// A declared collation matches a live one when every field the user set is equal; the
/// server fills the rest with the locale's defaults. `simple` is the same as none.
fn collation_matches(desired: Option<&Document>, live: Option<&Document>) -> bool {
    let simple = |c: Option<&Document>| c.is_none_or(|c| c.get_str("locale") == Ok("simple"));
    match (desired, live) {
        _ if simple(desired) && simple(live) => true,
        (Some(d), Some(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|w| bson_eq(v, w, false))),
        _ => false,
    }
}

/// Rewrites an index into the form the server reports: text keys become `_fts`/`_ftsx` with
/// weights and language defaults, false booleans disappear, server-chosen versions are
/// dropped, and a declared index without a collation inherits the collection's
/// (`coll_collation`). Live indexes are normalised with `None`: the server always reports a
/// non-simple collation, so a live index without one is a `simple` one.
pub fn normalize(idx: &IndexDef, coll_collation: Option<&Document>) -> IndexDef {
    let mut options = Document::new();
    for (k, v) in &idx.options {
        if !INDEX_OPTIONS.contains(&k.as_str()) || k == "2dsphereIndexVersion" {
            continue;
        }
        if matches!(k.as_str(), "unique" | "sparse" | "hidden") && v.as_bool() != Some(true) {
            continue;
        }
        options.insert(k.clone(), v.clone());
    }
    if !options.contains_key("collation")
        && let Some(c) = coll_collation
    {
        options.insert("collation", c.clone());
    }
    if options
        .get_document("collation")
        .is_ok_and(|c| c.get_str("locale") == Ok("simple"))
    {
        options.remove("collation");
    }
    // A live text index is already in server form (`_fts`/`_ftsx`): nothing to rewrite.
    let server_form = idx.key.contains_key("_fts");
    let text_fields: Vec<String> = idx
        .key
        .iter()
        .filter(|(k, v)| !server_form && v.as_str() == Some("text") && k.as_str() != "_fts")
        .map(|(k, _)| k.clone())
        .collect();
    let mut key = idx.key.clone();
    if !text_fields.is_empty() {
        key = Document::new();
        let mut fts_done = false;
        for (k, v) in &idx.key {
            if v.as_str() == Some("text") {
                if !fts_done {
                    key.insert("_fts", "text");
                    key.insert("_ftsx", 1);
                    fts_done = true;
                }
            } else {
                key.insert(k.clone(), v.clone());
            }
        }
        let mut weights = Document::new();
        for f in &text_fields {
            weights.insert(f.clone(), 1);
        }
        if let Ok(w) = idx.options.get_document("weights") {
            weights.extend(w.clone());
        }
        options.insert("weights", weights);
        if !options.contains_key("default_language") {
            options.insert("default_language", "english");
        }
        if !options.contains_key("language_override") {
            options.insert("language_override", "language");
        }
    }
    IndexDef {
        name: idx.name.clone(),
        key,
        options,
    }
}

/// The option names whose values differ between two normalised indexes.
fn differing_options(a: &IndexDef, b: &IndexDef) -> Vec<String> {
    let mut names: Vec<String> = a.options.keys().chain(b.options.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|k| {
            if k == "collation" {
                !collation_matches(
                    a.options.get_document(k).ok(),
                    b.options.get_document(k).ok(),
                )
            } else {
                !opt_eq(a.options.get(k), b.options.get(k))
            }
        })
        .collect()
}

fn diff_indexes(db: &str, d: &CollectionState, l: &CollectionState, out: &mut Vec<(u8, Change)>) {
    let coll = d.name.as_str();
    let cc = d.options.collation.as_ref();
    let mut live_left: Vec<&IndexDef> = l.indexes.iter().filter(|i| !is_id_index(i)).collect();
    for want in &d.indexes {
        let nw = normalize(want, cc);
        let found = live_left.iter().position(|li| li.name == want.name);
        let Some(pos) = found else {
            // Same identity under another name: MongoDB refuses a second one, so rename by replacing.
            if let Some(pos) = live_left
                .iter()
                .position(|li| same_identity(&nw, &normalize(li, None)))
            {
                let old = live_left.remove(pos);
                let mut c = change(
                    Action::ReplaceIndex,
                    db,
                    Some(coll),
                    format!("{} → {} (rename)", old.name, want.name),
                );
                c.index = Some(want.name.clone());
                c.commands
                    .push(doc! {"dropIndexes": coll, "index": &old.name});
                c.commands
                    .push(doc! {"createIndexes": coll, "indexes": [index_document(want)]});
                out.push((3, c));
            } else {
                out.push((3, create_index_change(db, coll, want)));
            }
            continue;
        };
        let live = live_left.remove(pos);
        let nl = normalize(live, None);
        let key_same = doc_eq(&nw.key, &nl.key, true);
        let diffs = differing_options(&nw, &nl);
        if key_same && diffs.is_empty() {
            continue;
        }
        let details: Vec<String> = (!key_same)
            .then(|| {
                format!(
                    "key: {} → {}",
                    doc_to_json(&live.key),
                    doc_to_json(&want.key)
                )
            })
            .into_iter()
            .chain(diffs.iter().map(|k| {
                format!(
                    "{k}: {} → {}",
                    show(&nl.options.get(k).map(to_json)),
                    show(&nw.options.get(k).map(to_json))
                )
            }))
            .collect();
        // collMod changes a TTL's duration or hides an index without a rebuild.
        let modifiable = key_same
            && diffs
                .iter()
                .all(|k| INDEX_OPTIONS_MODIFIABLE.contains(&k.as_str()))
            && (nw.options.contains_key("expireAfterSeconds")
                == nl.options.contains_key("expireAfterSeconds"));
        let mut c = if modifiable {
            let mut spec = doc! {"name": &want.name};
            if diffs.iter().any(|k| k == "expireAfterSeconds") {
                spec.insert(
                    "expireAfterSeconds",
                    nw.options
                        .get("expireAfterSeconds")
                        .and_then(as_i64)
                        .unwrap_or(0),
                );
            }
            if diffs.iter().any(|k| k == "hidden") {
                spec.insert("hidden", nw.options.get_bool("hidden").unwrap_or(false));
            }
            let mut c = change(
                Action::ModifyIndex,
                db,
                Some(coll),
                format!("{} ({})", want.name, diffs.join(", ")),
            );
            c.commands.push(doc! {"collMod": coll, "index": spec});
            c
        } else {
            let mut c = change(
                Action::ReplaceIndex,
                db,
                Some(coll),
                format!(
                    "{} (drop and rebuild: {})",
                    want.name,
                    if key_same {
                        diffs.join(", ")
                    } else {
                        "key".into()
                    }
                ),
            );
            c.commands
                .push(doc! {"dropIndexes": coll, "index": &live.name});
            c.commands
                .push(doc! {"createIndexes": coll, "indexes": [index_document(want)]});
            c
        };
        c.index = Some(want.name.clone());
        c.details = details;
        out.push((3, c));
    }
}

fn insert_seeds_change(db: &str, coll: &str, seeds: &SeedSet, docs: &[&Document]) -> Change {
    let mut c = change(
        Action::InsertSeeds,
        db,
        Some(coll),
        format!("{} document(s) by {}", docs.len(), seeds.key.join("+")),
    );
    c.details = docs
        .iter()
        .filter_map(|d| seeds.key_of(d))
        .map(|k| format!("+ {}", to_json(&Bson::Array(k))))
        .collect();
    for batch in insert_batches(docs) {
        let documents: Vec<Bson> = batch.iter().map(|d| Bson::Document((*d).clone())).collect();
        c.commands
            .push(doc! {"insert": coll, "documents": documents, "ordered": true});
    }
    c
}

const MAX_INSERT_BATCH_DOCS: usize = 500;

/// Splits documents into `insert` batches by count and by size: the documents of a batch add
/// up to at most [`MAX_BSON_OBJECT_SIZE`] (a single larger document goes alone; `check` refuses
/// any over the limit).
pub fn insert_batches<'a>(docs: &[&'a Document]) -> Vec<Vec<&'a Document>> {
    let mut batches: Vec<Vec<&Document>> = Vec::new();
    let mut bytes = 0;
    for &d in docs {
        // The document plus its array entry: a type byte and the index as a C string.
        let size = bson_size(d) + 8;
        match batches.last_mut() {
            Some(b) if b.len() < MAX_INSERT_BATCH_DOCS && bytes + size <= MAX_BSON_OBJECT_SIZE => {
                b.push(d);
                bytes += size;
            }
            _ => {
                batches.push(vec![d]);
                bytes = size;
            }
        }
    }
    batches
}

pub fn key_filter(seeds: &SeedSet, key: &[Bson]) -> Document {
    seeds.key.iter().cloned().zip(key.iter().cloned()).collect()
}

fn diff_seeds(
    db: &str,
    coll: &str,
    seeds: &SeedSet,
    live: Option<&SeedSet>,
    out: &mut Vec<(u8, Change)>,
) {
    // Live documents by natural key: one lookup per seed keeps this linear in the seed count.
    let mut live_by_key: HashMap<String, Vec<(Vec<Bson>, &Document)>> = HashMap::new();
    for l in live.map(|s| s.documents.as_slice()).unwrap_or(&[]) {
        if let Some(lk) = seeds.key_of(l) {
            live_by_key
                .entry(eq_key_of_all(&lk, false))
                .or_default()
                .push((lk, l));
        }
    }
    let mut missing = Vec::new();
    for want in &seeds.documents {
        let Some(key) = seeds.key_of(want) else {
            continue;
        };
        let found = live_by_key
            .get(&eq_key_of_all(&key, false))
            .and_then(|candidates| {
                candidates
                    .iter()
                    .find(|(lk, _)| lk.iter().zip(&key).all(|(a, b)| bson_eq(a, b, false)))
            })
            .map(|(_, l)| *l);
        let Some(have) = found else {
            missing.push(want);
            continue;
        };
        let mut set = Document::new();
        let mut details = Vec::new();
        for (k, v) in want {
            let same = have.get(k).is_some_and(|h| bson_eq(v, h, true));
            if !same {
                details.push(format!(
                    "{k}: {} → {}",
                    show(&have.get(k).map(to_json)),
                    to_json(v)
                ));
                set.insert(k.clone(), v.clone());
            }
        }
        if set.is_empty() {
            continue;
        }
        let key_json = to_json(&Bson::Array(key.clone()));
        let mut c = change(
            Action::UpdateSeed,
            db,
            Some(coll),
            format!("{key_json}: {} field(s)", set.len()),
        );
        c.details = details;
        c.commands.push(
            doc! {"update": coll, "updates": [{"q": key_filter(seeds, &key), "u": {"$set": set}}]},
        );
        out.push((4, c));
    }
    if !missing.is_empty() {
        out.push((4, insert_seeds_change(db, coll, seeds, &missing)));
    }
}

/// A readable structural diff of two JSON values: `+ path: value`, `- path: value`,
/// `~ path: old → new`. Arrays of scalars (required, enum) are compared as sets.
pub fn json_diff(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    json_diff_at(old, new, "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn compact(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

fn json_same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_same(v, w)))
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_same(p, q)),
        _ => a == b,
    }
}

fn json_diff_at(
    old: &serde_json::Value,
    new: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value::*;
    if json_same(old, new) {
        return;
    }
    let shown = if path.is_empty() { "$" } else { path };
    match (old, new) {
        (Object(a), Object(b)) => {
            for (k, v) in a {
                if !b.contains_key(k) {
                    out.push(format!("- {}: {}", join(path, k), compact(v)));
                }
            }
            for (k, v) in b {
                match a.get(k) {
                    None => out.push(format!("+ {}: {}", join(path, k), compact(v))),
                    Some(o) => json_diff_at(o, v, &join(path, k), out),
                }
            }
        }
        (Array(a), Array(b)) if a.iter().chain(b).all(|v| !v.is_object() && !v.is_array()) => {
            for v in a.iter().filter(|v| !b.iter().any(|w| json_same(v, w))) {
                out.push(format!("- {shown}: {}", compact(v)));
            }
            for v in b.iter().filter(|v| !a.iter().any(|w| json_same(v, w))) {
                out.push(format!("+ {shown}: {}", compact(v)));
            }
            if out.is_empty() {
                out.push(format!(
                    "~ {shown}: order {} → {}",
                    compact(old),
                    compact(new)
                ));
            }
        }
        (Array(a), Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff_at(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (Null, v) => out.push(format!("+ {shown}: {}", compact(v))),
        (v, Null) => out.push(format!("- {shown}: {}", compact(v))),
        _ => out.push(format!("~ {shown}: {} → {}", compact(old), compact(new))),
    }
}

fn resource_label(r: &Document) -> String {
    if r.get_bool("cluster") == Ok(true) {
        return "cluster".into();
    }
    match (r.get_str("db"), r.get_str("collection")) {
        (Ok(""), Ok("")) => "any database".into(),
        (Ok(db), Ok("")) => format!("{db}.*"),
        (Ok(db), Ok(c)) => format!("{db}.{c}"),
        _ => doc_to_json(r).to_string(),
    }
}

fn privilege_docs(ps: &[Privilege]) -> Vec<Bson> {
    ps.iter()
        .map(|p| {
            Bson::Document(doc! {"resource": p.resource.clone(), "actions": p.actions.clone()})
        })
        .collect()
}

fn role_docs(rs: &[RoleRef]) -> Vec<Bson> {
    rs.iter()
        .map(|r| Bson::Document(doc! {"role": &r.role, "db": &r.db}))
        .collect()
}

/// `+ find, insert on db.coll` / `- remove on db.coll` per resource.
fn privilege_diff(old: &[Privilege], new: &[Privilege]) -> Vec<String> {
    let mut resources: Vec<&Document> = old.iter().chain(new).map(|p| &p.resource).collect();
    resources.dedup_by(|a, b| doc_eq(a, b, false));
    let mut seen: Vec<&Document> = Vec::new();
    let mut out = Vec::new();
    for r in resources {
        if seen.iter().any(|s| doc_eq(s, r, false)) {
            continue;
        }
        seen.push(r);
        let actions = |ps: &[Privilege]| -> Vec<String> {
            ps.iter()
                .filter(|p| doc_eq(&p.resource, r, false))
                .flat_map(|p| p.actions.clone())
                .collect()
        };
        let (a, b) = (actions(old), actions(new));
        let added: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
        let removed: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
        let join = |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        if !added.is_empty() {
            out.push(format!("+ {} on {}", join(added), resource_label(r)));
        }
        if !removed.is_empty() {
            out.push(format!("- {} on {}", join(removed), resource_label(r)));
        }
    }
    out
}

fn same_privileges(a: &[Privilege], b: &[Privilege]) -> bool {
    privilege_diff(a, b).is_empty()
}

fn diff_access(
    d: &Access,
    l: &Access,
    out: &mut Vec<(u8, Change)>,
    unmanaged: &mut Vec<Unmanaged>,
) {
    for role in &d.roles {
        let live = l
            .roles
            .iter()
            .find(|x| x.name == role.name && x.db == role.db);
        let body = |verb: &str| doc! {verb: &role.name, "privileges": privilege_docs(&role.privileges), "roles": role_docs(&role.roles)};
        match live {
            None => {
                let mut c = change(
                    Action::CreateRole,
                    &role.db,
                    None,
                    format!(
                        "{} ({} privilege(s), {} inherited role(s))",
                        role.name,
                        role.privileges.len(),
                        role.roles.len()
                    ),
                );
                c.details = privilege_diff(&[], &role.privileges);
                c.details
                    .extend(role.roles.iter().map(|r| format!("+ inherits {r}")));
                c.commands.push(body("createRole"));
                out.push((5, c));
            }
            Some(lr)
                if !same_privileges(&lr.privileges, &role.privileges) || lr.roles != role.roles =>
            {
                let mut c = change(Action::UpdateRole, &role.db, None, role.name.clone());
                c.details = privilege_diff(&lr.privileges, &role.privileges);
                c.details.extend(
                    role.roles
                        .iter()
                        .filter(|r| !lr.roles.contains(r))
                        .map(|r| format!("+ inherits {r}")),
                );
                c.details.extend(
                    lr.roles
                        .iter()
                        .filter(|r| !role.roles.contains(r))
                        .map(|r| format!("- inherits {r}")),
                );
                c.commands.push(body("updateRole"));
                out.push((5, c));
            }
            Some(_) => {}
        }
    }
    for user in &d.users {
        let secret = user.password.clone().map(|source| SecretNeed {
            user: user.name.clone(),
            db: user.db.clone(),
            source,
        });
        let Some(live) = l
            .users
            .iter()
            .find(|x| x.name == user.name && x.db == user.db)
        else {
            let source = user
                .password
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "none".into());
            let mut c = change(
                Action::CreateUser,
                &user.db,
                None,
                format!("{} (password: {source})", user.id()),
            );
            c.details = user.roles.iter().map(|r| format!("+ {r}")).collect();
            let mut cmd = doc! {"createUser": &user.name, "pwd": PASSWORD_PLACEHOLDER, "roles": role_docs(&user.roles), "mechanisms": user.mechanisms.clone()};
            if !user.restrictions.is_empty() {
                cmd.insert(
                    "authenticationRestrictions",
                    user.restrictions
                        .iter()
                        .cloned()
                        .map(Bson::Document)
                        .collect::<Vec<_>>(),
                );
            }
            c.commands.push(cmd);
            c.secret = secret;
            out.push((6, c));
            continue;
        };
        let mut c = change(Action::UpdateUser, &user.db, None, user.id());
        let grant: Vec<RoleRef> = user
            .roles
            .iter()
            .filter(|r| !live.roles.contains(r))
            .cloned()
            .collect();
        let revoke: Vec<RoleRef> = live
            .roles
            .iter()
            .filter(|r| !user.roles.contains(r))
            .cloned()
            .collect();
        if !grant.is_empty() {
            c.details.extend(grant.iter().map(|r| format!("+ {r}")));
            c.commands
                .push(doc! {"grantRolesToUser": &user.name, "roles": role_docs(&grant)});
        }
        if !revoke.is_empty() {
            c.details.extend(revoke.iter().map(|r| format!("- {r}")));
            c.commands
                .push(doc! {"revokeRolesFromUser": &user.name, "roles": role_docs(&revoke)});
        }
        if user.mechanisms != live.mechanisms {
            c.details.push(format!(
                "mechanisms: {} → {}",
                live.mechanisms.join(", "),
                user.mechanisms.join(", ")
            ));
            let mut cmd = doc! {"updateUser": &user.name, "mechanisms": user.mechanisms.clone()};
            // Adding a mechanism needs the password to derive its credentials.
            if user.mechanisms.iter().any(|m| !live.mechanisms.contains(m)) {
                cmd.insert("pwd", PASSWORD_PLACEHOLDER);
                c.secret = secret.clone();
            }
            c.commands.push(cmd);
        }
        let same_restrictions = user.restrictions.len() == live.restrictions.len()
            && user
                .restrictions
                .iter()
                .zip(&live.restrictions)
                .all(|(a, b)| doc_eq(a, b, false));
        if !same_restrictions {
            let show = |r: &[Document]| {
                serde_json::Value::Array(r.iter().map(doc_to_json).collect()).to_string()
            };
            c.details.push(format!(
                "authenticationRestrictions: {} → {}",
                show(&live.restrictions),
                show(&user.restrictions)
            ));
            c.commands.push(doc! {"updateUser": &user.name, "authenticationRestrictions": user.restrictions.iter().cloned().map(Bson::Document).collect::<Vec<_>>()});
        }
        if !c.commands.is_empty() {
            c.summary = format!("{} ({} change(s))", user.id(), c.details.len());
            out.push((6, c));
        }
    }
    for u in &l.users {
        if !d.users.iter().any(|x| x.name == u.name && x.db == u.db) {
            unmanaged.push(Unmanaged {
                kind: "user",
                database: u.db.clone(),
                collection: None,
                index: None,
                name: Some(u.name.clone()),
                protected: l.connected_as.contains(&u.id()),
            });
        }
    }
    for r in &l.roles {
        if !d.roles.iter().any(|x| x.name == r.name && x.db == r.db) {
            unmanaged.push(Unmanaged {
                kind: "role",
                database: r.db.clone(),
                collection: None,
                index: None,
                name: Some(r.name.clone()),
                protected: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capped, SeedSet};

    fn coll(name: &str) -> CollectionState {
        CollectionState::new(name)
    }

    fn idx(name: &str, key: Document, options: Document) -> IndexDef {
        IndexDef {
            name: name.into(),
            key,
            options,
        }
    }

    fn cluster(colls: Vec<CollectionState>) -> ClusterState {
        ClusterState {
            access: None,
            databases: vec![DatabaseState {
                domain: "auth".into(),
                name: "db".into(),
                collections: colls,
            }],
        }
    }

    fn actions(plan: &Plan) -> Vec<(Action, String)> {
        plan.changes
            .iter()
            .map(|c| (c.action, c.summary.clone()))
            .collect()
    }

    #[test]
    fn empty_cluster_gets_database_collection_indexes_and_seeds_in_order() {
        let mut users = coll("users");
        users.validator = Some(doc! {"bsonType": "object", "required": ["email"]});
        users.indexes = vec![idx("email_1", doc! {"email": 1}, doc! {"unique": true})];
        users.seeds = Some(SeedSet {
            key: vec!["email".into()],
            documents: vec![doc! {"email": "a@x"}],
        });
        let plan = diff(&cluster(vec![users]), &ClusterState::default(), false);
        let kinds: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
        assert_eq!(
            kinds,
            vec![
                Action::CreateDatabase,
                Action::CreateCollection,
                Action::CreateIndex,
                Action::InsertSeeds
            ]
        );
        let create = &plan.changes[1].commands[0];
        assert_eq!(
            create
                .get_document("validator")
                .unwrap()
                .get_document("$jsonSchema")
                .unwrap()
                .get_str("bsonType")
                .unwrap(),
            "object"
        );
        assert!(!plan.changes.iter().any(|c| c.destructive));
    }

    #[test]
    fn identical_states_give_an_empty_plan_despite_server_normalisation() {
        let mut d = coll("t");
        d.options.collation = Some(doc! {"locale": "fr"});
        d.options.capped = Some(Capped {
            size: 1000,
            max: Some(10),
        });
        d.indexes = vec![
            idx(
                "title_text_body_text",
                doc! {"title": "text", "body": "text"},
                doc! {"weights": {"title": 3}},
            ),
            idx(
                "a_1",
                doc! {"a": 1},
                doc! {"unique": false, "sparse": false},
            ),
        ];
        let mut l = coll("t");
        l.options.collation =
            Some(doc! {"locale": "fr", "strength": 3, "caseLevel": false, "version": "57.1"});
        l.options.capped = Some(Capped {
            size: 1024,
            max: Some(10),
        });
        let full_fr = doc! {"locale": "fr", "strength": 3, "caseLevel": false, "version": "57.1"};
        l.indexes = vec![
            idx("_id_", doc! {"_id": 1}, doc! {"collation": full_fr.clone()}),
            idx(
                "title_text_body_text",
                doc! {"_fts": "text", "_ftsx": 1},
                doc! {"weights": {"body": 1, "title": 3}, "default_language": "english", "language_override": "language", "collation": full_fr.clone()},
            ),
            idx("a_1", doc! {"a": 1i64}, doc! {"collation": full_fr}),
        ];
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert!(plan.is_empty(), "{:?}", actions(&plan));
        assert!(plan.unmanaged.is_empty());
    }

    #[test]
    fn a_simple_collation_index_on_a_collated_collection_is_not_drift() {
        let mut d = coll("t");
        d.options.collation = Some(doc! {"locale": "fr"});
        d.indexes = vec![
            idx(
                "code_1",
                doc! {"code": 1},
                doc! {"collation": {"locale": "simple"}},
            ),
            idx("name_1", doc! {"name": 1}, doc! {}),
        ];
        let mut l = coll("t");
        l.options.collation = Some(doc! {"locale": "fr", "strength": 3});
        // What listIndexes reports: no collation for the simple one, the inherited one spelled out.
        l.indexes = vec![
            idx("code_1", doc! {"code": 1}, doc! {}),
            idx(
                "name_1",
                doc! {"name": 1},
                doc! {"collation": {"locale": "fr", "strength": 3}},
            ),
        ];
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert!(plan.is_empty(), "{:?}", actions(&plan));
    }

    #[test]
    fn validator_change_is_a_collmod_with_a_readable_diff() {
        let mut d = coll("users");
        d.validator =
            Some(doc! {"required": ["email", "role"], "properties": {"rating": {"maximum": 5}}});
        let mut l = coll("users");
        l.validator = Some(
            doc! {"required": ["email"], "properties": {"rating": {"maximum": 10}, "old": {"bsonType": "string"}}},
        );
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(plan.changes.len(), 1);
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::UpdateValidator);
        assert_eq!(
            c.details,
            vec![
                "+ required: \"role\"",
                "- properties.old: {\"bsonType\":\"string\"}",
                "~ properties.rating.maximum: 10 → 5"
            ]
        );
        assert_eq!(c.commands[0].get_str("collMod").unwrap(), "users");
        assert_eq!(c.commands[0].get_str("validationLevel").unwrap(), "strict");
    }

    #[test]
    fn validation_action_change_alone_is_an_options_update() {
        let mut d = coll("c");
        d.validator = Some(doc! {"bsonType": "object"});
        d.options.validation_action = Some("warn".into());
        let mut l = d.clone();
        l.options.validation_action = None;
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(
            actions(&plan),
            vec![(
                Action::UpdateOptions,
                "validation strict/error → strict/warn".to_string()
            )]
        );
    }

    #[test]
    fn index_changes_are_typed_modify_replace_rename_create_and_unmanaged() {
        let mut d = coll("c");
        d.indexes = vec![
            idx("ttl", doc! {"at": 1}, doc! {"expireAfterSeconds": 60}),
            idx("u", doc! {"u": 1}, doc! {"unique": true}),
            idx("new_name", doc! {"r": 1}, doc! {}),
            idx("n_1", doc! {"n": 1}, doc! {}),
        ];
        let mut l = coll("c");
        l.indexes = vec![
            idx("_id_", doc! {"_id": 1}, doc! {}),
            idx("ttl", doc! {"at": 1}, doc! {"expireAfterSeconds": 3600}),
            idx("u", doc! {"u": 1}, doc! {}),
            idx("old_name", doc! {"r": 1}, doc! {}),
            idx("extra", doc! {"x": -1}, doc! {}),
        ];
        let plan = diff(&cluster(vec![d.clone()]), &cluster(vec![l.clone()]), false);
        let got: Vec<(Action, bool)> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.destructive))
            .collect();
        assert_eq!(
            got,
            vec![
                (Action::ModifyIndex, false),
                (Action::ReplaceIndex, true),
                (Action::ReplaceIndex, true),
                (Action::CreateIndex, false)
            ]
        );
        assert_eq!(
            plan.changes[0].commands[0],
            doc! {"collMod": "c", "index": {"name": "ttl", "expireAfterSeconds": 60i64}}
        );
        assert_eq!(plan.changes[2].summary, "old_name → new_name (rename)");
        assert_eq!(plan.unmanaged.len(), 1);
        assert_eq!(plan.unmanaged[0].index.as_deref(), Some("extra"));

        let pruned = diff(&cluster(vec![d]), &cluster(vec![l]), true);
        let last = pruned.changes.last().unwrap();
        assert_eq!((last.action, last.destructive), (Action::DropIndex, true));
        assert_eq!(
            last.commands[0],
            doc! {"dropIndexes": "c", "index": "extra"}
        );
    }

    #[test]
    fn unmanaged_collections_are_dropped_only_with_prune() {
        let d = cluster(vec![coll("a")]);
        let l = cluster(vec![coll("a"), coll("legacy"), coll("system.profile")]);
        let plan = diff(&d, &l, false);
        assert!(plan.is_empty());
        assert_eq!(plan.unmanaged.len(), 1);
        let plan = diff(&d, &l, true);
        assert_eq!(actions(&plan).len(), 1);
        assert_eq!(plan.changes[0].action, Action::DropCollection);
        assert_eq!(plan.changes[0].commands[0], doc! {"drop": "legacy"});
    }

    #[test]
    fn impossible_changes_are_blocked_and_capped_resize_is_collmod() {
        let mut d = coll("c");
        d.options.capped = Some(Capped {
            size: 4096,
            max: None,
        });
        let l = coll("c");
        let plan = diff(&cluster(vec![d.clone()]), &cluster(vec![l]), false);
        assert_eq!(plan.blocked().count(), 1);

        let mut l2 = coll("c");
        l2.options.capped = Some(Capped {
            size: 1024,
            max: None,
        });
        let plan = diff(&cluster(vec![d]), &cluster(vec![l2]), false);
        assert_eq!(plan.changes[0].action, Action::UpdateOptions);
        assert_eq!(
            plan.changes[0].commands[0],
            doc! {"collMod": "c", "cappedSize": 4096i64, "cappedMax": 0i64}
        );

        let mut d3 = coll("c");
        d3.options.collation = Some(doc! {"locale": "en"});
        let plan = diff(&cluster(vec![d3]), &cluster(vec![coll("c")]), false);
        assert_eq!(plan.changes[0].action, Action::Blocked);
    }

    #[test]
    fn seeds_insert_missing_and_set_only_changed_declared_fields() {
        let seeds = SeedSet {
            key: vec!["code".into()],
            documents: vec![
                doc! {"code": "a", "name": "A", "n": 1},
                doc! {"code": "b", "name": "B"},
                doc! {"code": "c", "name": "C"},
            ],
        };
        let mut d = coll("s");
        d.seeds = Some(seeds);
        let mut l = coll("s");
        l.seeds = Some(SeedSet {
            key: vec!["code".into()],
            documents: vec![
                doc! {"_id": 1, "code": "a", "name": "A", "n": 1.0, "extra": true},
                doc! {"_id": 2, "code": "b", "name": "Bee"},
            ],
        });
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(
            actions(&plan),
            vec![
                (Action::UpdateSeed, "[\"b\"]: 1 field(s)".to_string()),
                (Action::InsertSeeds, "1 document(s) by code".to_string())
            ]
        );
        assert_eq!(
            plan.changes[0].commands[0],
            doc! {"update": "s", "updates": [{"q": {"code": "b"}, "u": {"$set": {"name": "B"}}}]}
        );
        assert_eq!(plan.changes[0].details, vec!["name: \"Bee\" → \"B\""]);
        assert_eq!(plan.changes[1].details, vec!["+ [\"c\"]"]);
    }

    #[test]
    fn json_diff_reports_paths() {
        let a = serde_json::json!({"x": 1, "e": ["a", "b"], "n": {"m": [1, {"k": 1}]}});
        let b =
            serde_json::json!({"x": 1.0, "e": ["b", "c"], "n": {"m": [1, {"k": 2}]}, "y": null});
        assert_eq!(
            json_diff(&a, &b),
            vec!["- e: \"a\"", "+ e: \"c\"", "~ n.m[1].k: 1 → 2", "+ y: null"]
        );
    }
}

#[cfg(test)]
mod access_tests {
    use super::*;
    use crate::model::{RoleDef, UserDef};

    fn user(
        name: &str,
        roles: &[(&str, &str)],
        mechs: &[&str],
        password: Option<PasswordSource>,
    ) -> UserDef {
        UserDef {
            name: name.into(),
            db: "admin".into(),
            roles: roles
                .iter()
                .map(|(r, d)| RoleRef {
                    role: r.to_string(),
                    db: d.to_string(),
                })
                .collect(),
            mechanisms: mechs.iter().map(|m| m.to_string()).collect(),
            restrictions: vec![],
            purpose: "service".into(),
            password,
        }
    }

    fn role(actions: &[&str]) -> RoleDef {
        RoleDef {
            name: "appender".into(),
            db: "admin".into(),
            privileges: vec![Privilege {
                resource: doc! {"db": "a", "collection": "logs"},
                actions: actions.iter().map(|a| a.to_string()).collect(),
            }],
            roles: vec![],
        }
    }

    fn plan_of(d: Access, l: Access, prune: bool) -> Plan {
        diff(
            &ClusterState {
                databases: vec![],
                access: Some(d),
            },
            &ClusterState {
                databases: vec![],
                access: Some(l),
            },
            prune,
        )
    }

    #[test]
    fn creates_roles_before_users_and_never_puts_a_password_in_the_plan() {
        let d = Access {
            roles: vec![role(&["find", "insert"])],
            users: vec![user(
                "svc",
                &[("appender", "admin")],
                &["SCRAM-SHA-256"],
                Some(PasswordSource::Env("PW".into())),
            )],
            connected_as: vec![],
        };
        let plan = plan_of(d, Access::default(), false);
        let kinds: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
        assert_eq!(kinds, vec![Action::CreateRole, Action::CreateUser]);
        assert_eq!(plan.changes[0].details, vec!["+ find, insert on a.logs"]);
        let create = &plan.changes[1];
        assert_eq!(
            create.commands[0].get_str("pwd").unwrap(),
            PASSWORD_PLACEHOLDER
        );
        assert_eq!(
            create.secret.as_ref().unwrap().source,
            PasswordSource::Env("PW".into())
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["changes"][1]["password_source"], "env PW");
    }

    #[test]
    fn role_and_grant_drift_become_updates_and_unmanaged_users_are_pruned_except_ourselves() {
        let d = Access {
            roles: vec![role(&["find", "insert"])],
            users: vec![user("svc", &[("readWrite", "a")], &["SCRAM-SHA-256"], None)],
            connected_as: vec![],
        };
        let l = Access {
            roles: vec![role(&["find", "insert", "remove"])],
            users: vec![
                user(
                    "svc",
                    &[("readWrite", "a"), ("root", "admin")],
                    &["SCRAM-SHA-1", "SCRAM-SHA-256"],
                    None,
                ),
                user("root", &[("root", "admin")], &["SCRAM-SHA-256"], None),
                user("old", &[], &["SCRAM-SHA-256"], None),
            ],
            connected_as: vec!["root@admin".into()],
        };
        let plan = plan_of(d.clone(), l.clone(), false);
        assert_eq!(plan.changes[0].action, Action::UpdateRole);
        assert_eq!(plan.changes[0].details, vec!["- remove on a.logs"]);
        let u = &plan.changes[1];
        assert_eq!(u.action, Action::UpdateUser);
        assert_eq!(
            u.details,
            vec![
                "- root@admin",
                "mechanisms: SCRAM-SHA-1, SCRAM-SHA-256 → SCRAM-SHA-256"
            ]
        );
        assert_eq!(
            u.commands[0],
            doc! {"revokeRolesFromUser": "svc", "roles": [{"role": "root", "db": "admin"}]}
        );
        assert!(u.secret.is_none(), "dropping a mechanism needs no password");
        assert_eq!(plan.unmanaged.len(), 2);

        let pruned = plan_of(d, l, true);
        let drops: Vec<&Change> = pruned
            .changes
            .iter()
            .filter(|c| c.action == Action::DropUser)
            .collect();
        assert_eq!(drops.len(), 1, "the connected user is never dropped");
        assert_eq!(drops[0].commands[0], doc! {"dropUser": "old"});
        assert!(drops[0].destructive);
    }
}
