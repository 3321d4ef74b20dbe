//! The manifest's tenancy and sharding declarations — a collection's `tenantKey`, `shardKey`,
//! `shardOptions` and `zoneRanges`, and the top-level `sharding.zones` — read and checked
//! offline: against each other, the collection's schema and its declared indexes.

use bson::{Bson, Document};
use serde_json::Value;
use std::cmp::Ordering;

use super::fields::{Reader, did_you_mean, json_kind};
use crate::jsonpath::JsonPath;
use crate::model::IndexDef;
use crate::sharding::model::{
    CollectionSharding, KeyKind, ShardKey, ShardingDecl, ZoneRange, compare_docs,
};

/// The keys this module reads in a collection's declaration.
pub const COLLECTION_KEYS: &[&str] = &["tenantKey", "shardKey", "shardOptions", "zoneRanges"];
/// The keys of the top-level `sharding` section.
pub const TOP_KEYS: &[&str] = &["zones"];
const SHARD_OPTIONS: &[&str] = &[
    "unique",
    "numInitialChunks",
    "presplitHashedZones",
    "collation",
];
const RANGE: &[&str] = &["zone", "min", "max"];

const UNSCOPED: &str = "a query without the tenant prefix scans every tenant";

fn field_name_problem(f: &str) -> Option<&'static str> {
    if f.is_empty() || f.split('.').any(str::is_empty) {
        Some("a field name must not be empty (nor have an empty part between dots)")
    } else if f.starts_with('$') {
        Some("a field name must not start with '$'")
    } else {
        None
    }
}

/// Reads the sharding keys of one collection's declaration (`v` is the whole declaration).
pub fn read_collection(r: &mut Reader, p: &JsonPath, v: &Value) -> CollectionSharding {
    let mut out = CollectionSharding::default();
    let Some(map) = v.as_object() else {
        return out;
    };
    if let Some(x) = map.get("tenantKey") {
        let tp = p.key("tenantKey");
        if let Some(f) = r.string(&tp, x) {
            match field_name_problem(&f) {
                Some(problem) => r.error(tp, problem),
                None => out.tenant_key = Some(f),
            }
        }
    }
    if let Some(x) = map.get("shardKey") {
        out.shard_key = read_shard_key(r, &p.key("shardKey"), x);
    }
    if let Some(x) = map.get("shardOptions") {
        let op = p.key("shardOptions");
        match out.shard_key.as_mut() {
            Some(key) => read_shard_options(r, &op, x, key),
            None if !map.contains_key("shardKey") => {
                r.error(op, "shardOptions needs a shardKey in the same collection")
            }
            None => {}
        }
    }
    if let Some(x) = map.get("zoneRanges") {
        let zp = p.key("zoneRanges");
        match &out.shard_key {
            Some(key) => out.zone_ranges = read_zone_ranges(r, &zp, x, key),
            None if !map.contains_key("shardKey") => r.error(
                zp,
                "zone ranges are ranges of a shard key: declare the collection's shardKey",
            ),
            None => {}
        }
    }
    if let Some(key) = &out.shard_key {
        let presplit = key.options.get_bool("presplitHashedZones").unwrap_or(false);
        if presplit && !map.contains_key("zoneRanges") {
            r.error(
                p.key("shardOptions").key("presplitHashedZones"),
                "presplitHashedZones needs zoneRanges on this collection (shardCollection refuses it without zones)",
            );
        }
    }
    out
}

fn read_shard_key(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<ShardKey> {
    let Some(map) = v.as_object() else {
        r.error(
            p.clone(),
            format!(
                "expected a shard key such as {{\"tenant_id\": 1, \"created_at\": 1}} or {{\"_id\": \"hashed\"}}, found {}",
                json_kind(v)
            ),
        );
        return None;
    };
    if map.is_empty() {
        r.error(p.clone(), "a shard key needs at least one field");
        return None;
    }
    let mut fields = Vec::new();
    let mut ok = true;
    for (f, kind) in map {
        let fp = p.key(f.as_str());
        if let Some(problem) = field_name_problem(f) {
            r.error(fp.clone(), problem);
            ok = false;
        }
        let kind = match kind {
            Value::Number(n) if n.as_f64() == Some(1.0) => KeyKind::Ranged,
            Value::String(s) if s == "hashed" => KeyKind::Hashed,
            other => {
                r.error(
                    fp,
                    format!(
                        "a shard key field is 1 (ranged) or \"hashed\", found {}",
                        super::fields::describe(other)
                    ),
                );
                ok = false;
                continue;
            }
        };
        fields.push((f.clone(), kind));
    }
    let hashed: Vec<_> = fields
        .iter()
        .filter(|(_, k)| *k == KeyKind::Hashed)
        .map(|(f, _)| f.clone())
        .collect();
    if hashed.len() > 1 {
        r.error(
            p.key(hashed[1].as_str()),
            "a shard key may have at most one hashed field",
        );
        ok = false;
    }
    ok.then_some(ShardKey {
        fields,
        unique: false,
        options: Document::new(),
    })
}

fn read_shard_options(r: &mut Reader, p: &JsonPath, v: &Value, key: &mut ShardKey) {
    let Some(map) = r.object(p, v, SHARD_OPTIONS, "shard options") else {
        return;
    };
    let hashed = key.hashed_field().is_some();
    if let Some(x) = map.get("unique") {
        let up = p.key("unique");
        key.unique = r.boolean(&up, x).unwrap_or(false);
        if key.unique && hashed {
            r.error(up, "a hashed shard key cannot be unique");
        }
    }
    if let Some(x) = map.get("numInitialChunks") {
        let np = p.key("numInitialChunks");
        if let Some(n) = r.integer(&np, x, 1) {
            if hashed {
                key.options.insert("numInitialChunks", n);
            } else {
                r.error(np, "numInitialChunks applies to a hashed shard key only");
            }
        }
    }
    if let Some(x) = map.get("presplitHashedZones") {
        let pp = p.key("presplitHashedZones");
        if let Some(b) = r.boolean(&pp, x) {
            if b && !hashed {
                r.error(
                    pp,
                    "presplitHashedZones applies to a shard key with a hashed field only",
                );
            } else {
                key.options.insert("presplitHashedZones", b);
            }
        }
    }
    if let Some(x) = map.get("collation") {
        let cp = p.key("collation");
        if let Some(c) = r.object(&cp, x, &["locale"], "a shard key collation") {
            if c.get("locale").and_then(Value::as_str) != Some("simple") {
                r.error(
                    cp,
                    "shardCollection takes only the simple collation: {\"locale\": \"simple\"}",
                );
            } else if let Some(d) = super::json_to_doc(x) {
                key.options.insert("collation", d);
            }
        }
    }
}

/// The range bound as a document, or why it is not one over a prefix of the shard key.
fn read_bound(r: &mut Reader, p: &JsonPath, v: &Value, key: &ShardKey) -> Option<Document> {
    let Some(doc) = v.is_object().then(|| super::json_to_doc(v)).flatten() else {
        r.error(
            p.clone(),
            format!(
                "expected a range bound (an object over the shard key's fields, in Extended JSON), found {}",
                json_kind(v)
            ),
        );
        return None;
    };
    let names: Vec<&str> = doc.keys().map(String::as_str).collect();
    let prefix: Vec<&str> = key.fields.iter().map(|(f, _)| f.as_str()).collect();
    if names.is_empty() || names.len() > prefix.len() || names != prefix[..names.len()] {
        r.error(
            p.clone(),
            format!(
                "a range bound names a prefix of the shard key, in order ({}), found ({})",
                prefix.join(", "),
                names.join(", ")
            ),
        );
        return None;
    }
    for (f, kind) in &key.fields {
        let Some(val) = doc.get(f) else { continue };
        let hash_ok = matches!(val, Bson::Int64(_) | Bson::MinKey | Bson::MaxKey);
        if *kind == KeyKind::Hashed && !hash_ok {
            r.error(
                p.key(f.as_str()),
                "a hashed field's bound is a hash value ({\"$numberLong\": \"...\"}) or {\"$minKey\": 1} / {\"$maxKey\": 1}",
            );
            return None;
        }
    }
    Some(doc)
}

fn read_zone_ranges(r: &mut Reader, p: &JsonPath, v: &Value, key: &ShardKey) -> Vec<ZoneRange> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!(
                "expected an array of {{zone, min, max}}, found {}",
                json_kind(v)
            ),
        );
        return vec![];
    };
    // (index in the file, range with bounds extended to the whole key)
    let mut ranges: Vec<(usize, ZoneRange)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = p.index(i);
        let Some(m) = r.object(&ip, item, RANGE, "a zone range") else {
            continue;
        };
        let zone = r
            .required(&ip, m, "zone", "a zone range")
            .and_then(|z| r.string(&ip.key("zone"), z));
        let min = r
            .required(&ip, m, "min", "a zone range")
            .and_then(|b| read_bound(r, &ip.key("min"), b, key));
        let max = r
            .required(&ip, m, "max", "a zone range")
            .and_then(|b| read_bound(r, &ip.key("max"), b, key));
        let (Some(zone), Some(min), Some(max)) = (zone, min, max) else {
            continue;
        };
        let (min, max) = (key.extend_bound(&min), key.extend_bound(&max));
        if compare_docs(&min, &max) != Ordering::Less {
            r.error(
                ip.key("max"),
                format!("max {max} must be greater than min {min} (in BSON order)"),
            );
            continue;
        }
        ranges.push((i, ZoneRange { zone, min, max }));
    }
    let mut sorted: Vec<&(usize, ZoneRange)> = ranges.iter().collect();
    sorted.sort_by(|a, b| compare_docs(&a.1.min, &b.1.min));
    for w in sorted.windows(2) {
        let ((i, a), (j, b)) = (w[0], w[1]);
        if compare_docs(&a.max, &b.min) == Ordering::Greater {
            let (first, second) = if i < j { (i, j) } else { (j, i) };
            r.error(
                p.index(*second),
                format!(
                    "zone range {} overlaps zone range {first} (\"{}\" {} – {} and \"{}\" {} – {})",
                    second, a.zone, a.min, a.max, b.zone, b.min, b.max
                ),
            );
        }
    }
    ranges.into_iter().map(|(_, z)| z).collect()
}

/// Reads the top-level `sharding` section.
pub fn read_top(r: &mut Reader, p: &JsonPath, v: &Value) -> ShardingDecl {
    let mut out = ShardingDecl::default();
    let Some(map) = r.object(p, v, TOP_KEYS, "the sharding section") else {
        return out;
    };
    let Some(zv) = map.get("zones") else {
        return out;
    };
    let zp = p.key("zones");
    let Some(zones) = zv.as_object() else {
        r.error(
            zp,
            format!(
                "expected an object mapping zone names to their shards, found {}",
                json_kind(zv)
            ),
        );
        return out;
    };
    for (name, shards) in zones {
        let np = zp.key(name.as_str());
        if name.is_empty() {
            r.error(np.clone(), "a zone name must not be empty");
        }
        let list: Option<Vec<String>> = shards.as_array().map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, s)| r.string(&np.index(i), s))
                .collect()
        });
        match list {
            Some(l) if l.is_empty() => r.error(
                np,
                "name at least one shard for the zone (its ranges would have nowhere to go)",
            ),
            Some(l) => {
                let mut seen = std::collections::BTreeSet::new();
                for (i, s) in l.iter().enumerate() {
                    if !seen.insert(s) {
                        r.error(np.index(i), format!("shard \"{s}\" is listed twice"));
                    }
                }
                out.zones.insert(name.clone(), l);
            }
            None => r.error(
                np,
                format!(
                    "expected an array of shard names, found {}",
                    json_kind(shards)
                ),
            ),
        }
    }
    out
}

/// Every zone a range names is declared in `sharding.zones`. `collections` holds
/// (path of the collection's declaration, its sharding).
pub fn check_zones(
    r: &mut Reader,
    collections: &[(JsonPath, &CollectionSharding)],
    top: &ShardingDecl,
) {
    for (p, c) in collections {
        for (i, z) in c.zone_ranges.iter().enumerate() {
            if top.zones.contains_key(&z.zone) {
                continue;
            }
            let hint = did_you_mean(&z.zone, top.zones.keys().map(String::as_str))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            r.error(
                p.key("zoneRanges").index(i).key("zone"),
                format!(
                    "zone \"{}\" is not declared in sharding.zones{hint}",
                    z.zone
                ),
            );
        }
    }
}

/// Where a (possibly dotted) field sits in a `$jsonSchema`: the problem if it is not
/// declared in `properties` or not listed in `required`, with the JSON path to point at.
fn schema_field_problem(schema: &Value, field: &str) -> Option<(JsonPath, String)> {
    let mut node = schema;
    let mut path = JsonPath::root();
    for part in field.split('.') {
        let required = node
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(part)));
        let Some(child) = node.get("properties").and_then(|p| p.get(part)) else {
            let at = if node.get("properties").is_some() {
                path.key("properties")
            } else {
                path.clone()
            };
            return Some((
                at,
                format!("field \"{field}\" is not declared in the schema's properties"),
            ));
        };
        if !required {
            let at = if node.get("required").is_some() {
                path.key("required")
            } else {
                path.clone()
            };
            return Some((
                at,
                format!("field \"{field}\" must be listed in \"required\""),
            ));
        }
        path = path.key("properties").key(part);
        node = child;
    }
    None
}

/// Schema file checks: the tenant key and every shard-key field are declared and required
/// (a document without them would land outside every tenant and every zone).
pub fn check_schema(r: &mut Reader, decl: &CollectionSharding) {
    let schema = r.src.value.clone();
    if let Some((at, problem)) = decl
        .tenant_key
        .as_ref()
        .and_then(|t| schema_field_problem(&schema, t))
    {
        r.error(at, format!("the collection's tenantKey: {problem}"));
    }
    for (f, _) in decl.shard_key.iter().flat_map(|k| &k.fields) {
        if f == "_id" || Some(f) == decl.tenant_key.as_ref() {
            continue;
        }
        if let Some((at, problem)) = schema_field_problem(&schema, f) {
            r.error(at, format!("shard key field: {problem}"));
        }
    }
}

/// Index file checks on a shared collection: every index should start with the tenant key.
/// TTL indexes are exempt: the server's TTL monitor reads them, not a tenant's query (and a
/// TTL index has exactly one field).
pub fn check_indexes(r: &mut Reader, decl: &CollectionSharding, defs: &[IndexDef]) {
    let Some(t) = &decl.tenant_key else { return };
    for (i, d) in defs.iter().enumerate() {
        let first = d.key.keys().next().map(String::as_str);
        let ttl = d.options.contains_key("expireAfterSeconds");
        if first != Some(t.as_str()) && !ttl {
            r.warn(
                JsonPath::root().key("indexes").index(i).key("key"),
                format!(
                    "index \"{}\" does not start with the tenant key \"{t}\": {UNSCOPED}",
                    d.name
                ),
            );
        }
    }
}

fn is_one(v: &Bson) -> bool {
    matches!(v, Bson::Int32(1) | Bson::Int64(1)) || matches!(v, Bson::Double(d) if *d == 1.0)
}

/// Whether `index` can back `key`: it starts with the key's fields (same kinds), is neither
/// sparse nor partial, and is unique when the key is.
fn supports(index: &IndexDef, key: &ShardKey) -> bool {
    let prefix_ok = key.fields.len() <= index.key.len()
        && key
            .fields
            .iter()
            .zip(index.key.iter())
            .all(|((f, k), (g, v))| {
                f == g
                    && match k {
                        KeyKind::Ranged => is_one(v),
                        KeyKind::Hashed => v.as_str() == Some("hashed"),
                    }
            });
    let plain = !index.options.get_bool("sparse").unwrap_or(false)
        && !index.options.contains_key("partialFilterExpression");
    let unique_ok = !key.unique || index.options.get_bool("unique").unwrap_or(false);
    prefix_ok && plain && unique_ok
}

/// Manifest checks that need the other files: a shard key has a schema requiring its fields
/// and an index backing it, and starts with the tenant key on a shared collection.
/// `p` is the collection's declaration; `schema_file`/`index_file` name its files.
pub fn check_collection(
    r: &mut Reader,
    p: &JsonPath,
    decl: &CollectionSharding,
    has_schema: bool,
    schema_file: &str,
    indexes: &[IndexDef],
    index_file: &str,
) {
    let needs_schema = decl.tenant_key.is_some()
        || decl
            .shard_key
            .iter()
            .flat_map(|k| &k.fields)
            .any(|(f, _)| f != "_id");
    if needs_schema && !has_schema {
        let what = if decl.tenant_key.is_some() {
            "tenantKey"
        } else {
            "shardKey"
        };
        r.error(
            p.key(what),
            format!("{what} needs a schema that requires its fields: add {schema_file}"),
        );
    }
    let Some(key) = &decl.shard_key else { return };
    let kp = p.key("shardKey");
    if let Some(t) = decl
        .tenant_key
        .as_ref()
        .filter(|t| key.fields.first().map(|(f, _)| f) != Some(*t))
    {
        r.warn(
            kp.clone(),
            format!("the shard key does not start with the tenant key \"{t}\": {UNSCOPED}"),
        );
    }
    let id_backs_it = key.fields.len() == 1 && key.fields[0] == ("_id".into(), KeyKind::Ranged);
    if !id_backs_it && !indexes.iter().any(|i| supports(i, key)) {
        let unique = if key.unique { " (unique)" } else { "" };
        r.warn(
            kp,
            format!(
                "no declared index in {index_file} starts with the shard key: shardCollection will create {}{unique} (on an empty collection; it fails on one with documents) — declare it there so the spec matches the cluster",
                key.key_doc()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{Loaded, MANIFEST_FILE, load};

    /// A workspace with one shared collection `chat.messages` declared as `decl`, the
    /// top-level `sharding` section `top`, and the other files given.
    fn load_with(decl: &str, top: &str, files: &[(&str, &str)]) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            "{{\n  \"project\": \"p\",\n  \"sharding\": {top},\n  \"domains\": {{\"chat\": {{\"database\": \"chat\", \"collections\": {{\n    \"messages\": {decl}\n  }}}}}}\n}}"
        );
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest).unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        load(dir.path())
    }

    fn messages(l: &Loaded) -> Vec<String> {
        l.diagnostics.iter().map(ToString::to_string).collect()
    }

    const SCHEMA: (&str, &str) = (
        "schemas/chat/messages.json",
        "{\n  \"bsonType\": \"object\",\n  \"required\": [\"tenant_id\", \"created_at\"],\n  \"properties\": {\"tenant_id\": {\"bsonType\": \"string\"}, \"created_at\": {\"bsonType\": \"date\"}, \"body\": {\"bsonType\": \"string\"}}\n}",
    );
    const INDEX: (&str, &str) = (
        "indexes/chat/messages.json",
        r#"{"indexes": [{"key": {"tenant_id": 1, "created_at": 1}}]}"#,
    );
    const ZONES: &str = r#"{"zones": {"eu": ["shard-eu"], "us": ["shard-us-1", "shard-us-2"]}}"#;

    #[test]
    fn a_complete_declaration_is_clean() {
        let l = load_with(
            r#"{"tenantKey": "tenant_id", "shardKey": {"tenant_id": 1, "created_at": 1},
                "zoneRanges": [
                  {"zone": "us", "min": {"tenant_id": "m"}, "max": {"tenant_id": {"$maxKey": 1}}},
                  {"zone": "eu", "min": {"tenant_id": {"$minKey": 1}}, "max": {"tenant_id": "m"}}]}"#,
            ZONES,
            &[SCHEMA, INDEX],
        );
        assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
        let ws = l.workspace.unwrap();
        let c = &ws.manifest.domains[0].collections[0].sharding;
        assert_eq!(c.tenant_key.as_deref(), Some("tenant_id"));
        assert_eq!(c.zone_ranges.len(), 2);
        // Bounds are stored extended to the whole key, as config.tags holds them.
        assert_eq!(
            c.zone_ranges[0].min,
            bson::doc! {"tenant_id": "m", "created_at": bson::Bson::MinKey}
        );
        assert_eq!(
            ws.manifest.sharding.zones["us"],
            ["shard-us-1", "shard-us-2"]
        );
    }

    #[test]
    fn the_tenant_key_must_be_required_by_the_schema() {
        let schema = (
            "schemas/chat/messages.json",
            "{\n  \"bsonType\": \"object\",\n  \"required\": [\"body\"],\n  \"properties\": {\"tenant_id\": {\"bsonType\": \"string\"}, \"body\": {}}\n}",
        );
        let l = load_with(r#"{"tenantKey": "tenant_id"}"#, "{}", &[schema]);
        assert_eq!(
            messages(&l),
            [
                "schemas/chat/messages.json:3:3: error: required: the collection's tenantKey: field \"tenant_id\" must be listed in \"required\""
            ]
        );
    }

    #[test]
    fn a_tenant_key_without_a_schema_is_an_error_in_the_manifest() {
        let l = load_with(r#"{"tenantKey": "tenant_id"}"#, "{}", &[]);
        assert_eq!(
            messages(&l),
            [
                "mongoctl.json:5:18: error: domains.chat.collections.messages.tenantKey: tenantKey needs a schema that requires its fields: add schemas/chat/messages.json"
            ]
        );
    }

    #[test]
    fn indexes_and_shard_keys_without_the_tenant_prefix_are_warned() {
        let index = (
            "indexes/chat/messages.json",
            r#"{"indexes": [{"key": {"tenant_id": 1, "created_at": 1}}, {"key": {"created_at": -1}}, {"key": {"expires_at": 1}, "expireAfterSeconds": 0}]}"#,
        );
        let l = load_with(
            r#"{"tenantKey": "tenant_id", "shardKey": {"created_at": 1}}"#,
            "{}",
            &[SCHEMA, index],
        );
        let m = messages(&l);
        assert_eq!(l.errors(), 0, "{m:?}");
        assert!(
            m.contains(&"indexes/chat/messages.json:1:59: warning: indexes[1].key: index \"created_at_-1\" does not start with the tenant key \"tenant_id\": a query without the tenant prefix scans every tenant".to_string()),
            "{m:?}"
        );
        assert!(
            m.iter().any(|d| d.starts_with("mongoctl.json:5:44: warning: domains.chat.collections.messages.shardKey: the shard key does not start with the tenant key")),
            "{m:?}"
        );
        assert!(
            !m.iter().any(|d| d.contains("expires_at")),
            "a TTL index is not a tenant query: {m:?}"
        );
    }

    #[test]
    fn shard_key_fields_must_be_declared_and_required() {
        let l = load_with(r#"{"shardKey": {"region": 1, "body": 1}}"#, "{}", &[SCHEMA]);
        let m = messages(&l);
        assert!(
            m.contains(&"schemas/chat/messages.json:4:3: error: properties: shard key field: field \"region\" is not declared in the schema's properties".to_string()),
            "{m:?}"
        );
        assert!(
            m.contains(&"schemas/chat/messages.json:3:3: error: required: shard key field: field \"body\" must be listed in \"required\"".to_string()),
            "{m:?}"
        );
    }

    #[test]
    fn an_unsupported_shard_key_says_an_index_will_be_created() {
        let l = load_with(r#"{"shardKey": {"tenant_id": 1}}"#, "{}", &[SCHEMA]);
        let m = messages(&l);
        assert_eq!(l.errors(), 0, "{m:?}");
        assert!(
            m[0].contains("no declared index in indexes/chat/messages.json starts with the shard key: shardCollection will create { \"tenant_id\": 1 }"),
            "{m:?}"
        );
        // The _id index backs {_id: 1}; {_id: "hashed"} needs its own.
        let l = load_with(r#"{"shardKey": {"_id": 1}}"#, "{}", &[]);
        assert!(l.diagnostics.is_empty(), "{:?}", messages(&l));
        let l = load_with(r#"{"shardKey": {"_id": "hashed"}}"#, "{}", &[]);
        assert_eq!(l.diagnostics.len(), 1, "{:?}", messages(&l));
        // A sparse index does not back a shard key; a unique key needs a unique index.
        let sparse = (
            "indexes/chat/messages.json",
            r#"{"indexes": [{"key": {"tenant_id": 1}, "sparse": true}]}"#,
        );
        let l = load_with(r#"{"shardKey": {"tenant_id": 1}}"#, "{}", &[SCHEMA, sparse]);
        assert_eq!(l.diagnostics.len(), 1, "{:?}", messages(&l));
        let l = load_with(
            r#"{"shardKey": {"tenant_id": 1, "created_at": 1}, "shardOptions": {"unique": true}}"#,
            "{}",
            &[SCHEMA, INDEX],
        );
        assert!(messages(&l)[0].contains("(unique)"), "{:?}", messages(&l));
    }

    fn errors_of(decl: &str, top: &str) -> Vec<String> {
        let l = load_with(decl, top, &[SCHEMA, INDEX]);
        l.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn shard_key_shapes() {
        let p = "domains.chat.collections.messages";
        assert_eq!(
            errors_of(r#"{"shardKey": {"a": "hashed", "b": "hashed"}}"#, "{}"),
            [format!(
                "{p}.shardKey.b: a shard key may have at most one hashed field"
            )]
        );
        assert_eq!(
            errors_of(r#"{"shardKey": {"a": -1}}"#, "{}"),
            [format!(
                "{p}.shardKey.a: a shard key field is 1 (ranged) or \"hashed\", found -1"
            )]
        );
        assert_eq!(
            errors_of(r#"{"shardKey": {}}"#, "{}"),
            [format!(
                "{p}.shardKey: a shard key needs at least one field"
            )]
        );
        assert_eq!(
            errors_of(
                r#"{"shardKey": {"_id": "hashed"}, "shardOptions": {"unique": true}}"#,
                "{}"
            ),
            [format!(
                "{p}.shardOptions.unique: a hashed shard key cannot be unique"
            )]
        );
        assert_eq!(
            errors_of(r#"{"shardOptions": {"unique": true}}"#, "{}"),
            [format!(
                "{p}.shardOptions: shardOptions needs a shardKey in the same collection"
            )]
        );
        assert_eq!(
            errors_of(
                r#"{"shardKey": {"_id": 1}, "shardOptions": {"numInitialChunks": 4}}"#,
                "{}"
            ),
            [format!(
                "{p}.shardOptions.numInitialChunks: numInitialChunks applies to a hashed shard key only"
            )]
        );
    }

    #[test]
    fn zone_ranges_are_ordered_non_overlapping_prefixes_of_declared_zones() {
        let p = "domains.chat.collections.messages.zoneRanges";
        let key = r#""shardKey": {"tenant_id": 1, "created_at": 1}"#;
        let with = |ranges: &str| errors_of(&format!("{{{key}, \"zoneRanges\": {ranges}}}"), ZONES);
        assert_eq!(
            with(r#"[{"zone": "eu", "min": {"tenant_id": "m"}, "max": {"tenant_id": "a"}}]"#),
            [format!(
                "{p}[0].max: max {{ \"tenant_id\": \"a\", \"created_at\": MinKey }} must be greater than min {{ \"tenant_id\": \"m\", \"created_at\": MinKey }} (in BSON order)"
            )]
        );
        let overlap = with(
            r#"[{"zone": "eu", "min": {"tenant_id": "a"}, "max": {"tenant_id": "n"}},
                {"zone": "us", "min": {"tenant_id": "m"}, "max": {"tenant_id": "z"}}]"#,
        );
        assert_eq!(overlap.len(), 1, "{overlap:?}");
        assert!(
            overlap[0].starts_with(&format!("{p}[1]: zone range 1 overlaps zone range 0")),
            "{overlap:?}"
        );
        // Touching ranges (max of one = min of the next) do not overlap.
        assert!(
            with(
                r#"[{"zone": "eu", "min": {"tenant_id": "a"}, "max": {"tenant_id": "m"}},
                {"zone": "us", "min": {"tenant_id": "m"}, "max": {"tenant_id": "z"}}]"#
            )
            .is_empty()
        );
        assert_eq!(
            with(r#"[{"zone": "europe", "min": {"tenant_id": "a"}, "max": {"tenant_id": "m"}}]"#),
            [format!(
                "{p}[0].zone: zone \"europe\" is not declared in sharding.zones; did you mean \"eu\"?"
            )]
        );
        assert_eq!(
            with(r#"[{"zone": "eu", "min": {"created_at": 1}, "max": {"tenant_id": "m"}}]"#),
            [format!(
                "{p}[0].min: a range bound names a prefix of the shard key, in order (tenant_id, created_at), found (created_at)"
            )]
        );
        assert_eq!(
            with(r#"[{"zone": "eu", "min": {"tenant_id": "a"}}]"#),
            [format!(
                "{p}[0]: missing required field \"max\" in a zone range"
            )]
        );
    }

    #[test]
    fn hashed_bounds_are_hash_values() {
        let p = "domains.chat.collections.messages.zoneRanges";
        let decl = r#"{"shardKey": {"tenant_id": 1, "_id": "hashed"}, "shardOptions": {"presplitHashedZones": true},
            "zoneRanges": [{"zone": "eu", "min": {"tenant_id": "a", "_id": 5}, "max": {"tenant_id": "b"}}]}"#;
        assert_eq!(
            errors_of(decl, ZONES),
            [format!(
                "{p}[0].min._id: a hashed field's bound is a hash value ({{\"$numberLong\": \"...\"}}) or {{\"$minKey\": 1}} / {{\"$maxKey\": 1}}"
            )]
        );
        let decl = r#"{"shardKey": {"tenant_id": 1, "_id": "hashed"}, "shardOptions": {"presplitHashedZones": true}}"#;
        assert_eq!(
            errors_of(decl, ZONES),
            [
                "domains.chat.collections.messages.shardOptions.presplitHashedZones: presplitHashedZones needs zoneRanges on this collection (shardCollection refuses it without zones)"
            ]
        );
    }

    #[test]
    fn zones_name_their_shards() {
        assert_eq!(
            errors_of("{}", r#"{"zones": {"eu": []}}"#),
            [
                "sharding.zones.eu: name at least one shard for the zone (its ranges would have nowhere to go)"
            ]
        );
        assert_eq!(
            errors_of("{}", r#"{"zones": {"eu": ["a", "a"]}}"#),
            ["sharding.zones.eu[1]: shard \"a\" is listed twice"]
        );
        assert_eq!(
            errors_of("{}", r#"{"zone": {}}"#),
            [
                "sharding.zone: unknown field \"zone\" in the sharding section; did you mean \"zones\"?"
            ]
        );
    }
}
