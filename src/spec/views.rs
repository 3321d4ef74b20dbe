//! A domain's `"views"` in the manifest: `{"name": {"viewOn": "source", "pipeline": [...],
//! "collation": {...}}}`, or `{"absent": true}` for a view that must not exist. The pipeline
//! is checked for its shape (an array of one-key stage documents with stage names the server
//! knows, no `$out`/`$merge`, which a view refuses) and read as Extended JSON the way the
//! server's drivers read it; the source must be a declared collection or view of the same
//! domain, without a cycle, and a view on a view has its collation. A collection the pipeline
//! reads besides its source (`$lookup`, `$graphLookup`, `$unionWith`) that the domain does
//! not declare is a warning: the server accepts the view and reads nothing from it.

use std::collections::BTreeMap;

use bson::{Bson, Document};
use serde_json::Value;

use super::fields::{Reader, did_you_mean, json_kind};
use super::manifest::{CollectionDecl, Manifest, read_collation};
use crate::jsonpath::JsonPath;
use crate::model::{ViewState, doc_to_json};

const VIEW: &[&str] = &["viewOn", "pipeline", "collation", "description", "absent"];

/// The aggregation stages of MongoDB 6.0 and 7.0.
const STAGES: &[&str] = &[
    "$addFields",
    "$bucket",
    "$bucketAuto",
    "$changeStream",
    "$changeStreamSplitLargeEvent",
    "$collStats",
    "$count",
    "$currentOp",
    "$densify",
    "$documents",
    "$facet",
    "$fill",
    "$geoNear",
    "$graphLookup",
    "$group",
    "$indexStats",
    "$limit",
    "$listLocalSessions",
    "$listSampledQueries",
    "$listSearchIndexes",
    "$listSessions",
    "$lookup",
    "$match",
    "$merge",
    "$out",
    "$planCacheStats",
    "$project",
    "$redact",
    "$replaceRoot",
    "$replaceWith",
    "$sample",
    "$search",
    "$searchMeta",
    "$set",
    "$setWindowFields",
    "$shardedDataDistribution",
    "$skip",
    "$sort",
    "$sortByCount",
    "$unionWith",
    "$unset",
    "$unwind",
    "$vectorSearch",
];

/// Stages that write: the server refuses them in a view's pipeline.
const WRITING: &[&str] = &["$out", "$merge"];

/// Reads every domain's `"views"` from the manifest `r` reads into `manifest`'s domains,
/// then checks them against the domain's collections.
pub fn read_domains(r: &mut Reader, manifest: &mut Manifest) {
    let value = r.src.value.clone();
    let envs = &manifest.environments;
    for d in &mut manifest.domains {
        let Some(v) = value
            .get("domains")
            .and_then(|ds| ds.get(&d.name))
            .and_then(|dv| dv.get("views"))
        else {
            continue;
        };
        let vp = JsonPath::root()
            .key("domains")
            .key(d.name.as_str())
            .key("views");
        d.views = read(r, &vp, v);
        check_sources(r, &vp, &d.collections, &d.views);
        let databases = super::manifest::resolved_databases(d, envs);
        for view in d.views.iter().filter(|v| !v.absent) {
            super::manifest::check_namespace(r, &vp, &databases, &view.name);
        }
    }
}

/// Reads the `"views"` object of a domain at `p`.
fn read(r: &mut Reader, p: &JsonPath, v: &Value) -> Vec<ViewState> {
    let Some(map) = v.as_object() else {
        r.error(
            p.clone(),
            format!(
                "expected an object mapping view names to their definitions, found {}",
                json_kind(v)
            ),
        );
        return vec![];
    };
    let mut views = Vec::new();
    for (name, def) in map {
        let vp = p.key(name.as_str());
        // A view names no spec file, so `/` is allowed.
        if let Some(problem) = super::names::namespace_name_problem("view", name) {
            r.error(vp.clone(), problem);
        }
        if let Some(view) = read_view(r, &vp, name, def) {
            views.push(view);
        }
    }
    views
}

fn read_view(r: &mut Reader, p: &JsonPath, name: &str, v: &Value) -> Option<ViewState> {
    let map = r.object(p, v, VIEW, "a view")?;
    if let Some(d) = map.get("description") {
        r.string(&p.key("description"), d);
    }
    if let Some(a) = map.get("absent") {
        let ap = p.key("absent");
        match r.boolean(&ap, a) {
            Some(true) => {
                for k in ["viewOn", "pipeline", "collation"] {
                    if map.contains_key(k) {
                        r.error(
                            p.key(k),
                            format!(
                                "a view declared absent has no {k}: remove it, or remove \"absent\""
                            ),
                        );
                    }
                }
                return Some(ViewState {
                    name: name.to_string(),
                    view_on: String::new(),
                    pipeline: vec![],
                    collation: None,
                    absent: true,
                });
            }
            Some(false) => r.error(
                ap,
                "use true (the view must not exist), or leave absent out",
            ),
            None => {}
        }
    }
    let view_on = r
        .required(p, map, "viewOn", "a view")
        .and_then(|s| r.string(&p.key("viewOn"), s));
    let pipeline = match map.get("pipeline") {
        Some(pv) => read_pipeline(r, &p.key("pipeline"), pv),
        None => Some(vec![]),
    };
    let collation = match map.get("collation") {
        Some(c) => Some(read_collation(r, &p.key("collation"), c)?),
        None => None,
    };
    Some(ViewState {
        name: name.to_string(),
        view_on: view_on?,
        pipeline: pipeline?,
        collation,
        absent: false,
    })
}

/// A view's pipeline: its stages as BSON, or `None` when any is malformed (each problem is
/// reported at its stage).
fn read_pipeline(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<Vec<Document>> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!(
                "expected a pipeline (an array of stages), found {}",
                json_kind(v)
            ),
        );
        return None;
    };
    let mut problems = Vec::new();
    check_stages(items, p, true, &mut problems);
    let ok = problems.is_empty();
    for (path, message) in problems {
        r.error(path, message);
    }
    let mut stages = Vec::with_capacity(items.len());
    for (i, stage) in items.iter().enumerate() {
        match Bson::try_from(stage.clone()) {
            Ok(Bson::Document(d)) => stages.push(d),
            Ok(_) => {}
            Err(e) => {
                r.error(p.index(i), format!("invalid Extended JSON: {e}"));
                return None;
            }
        }
    }
    ok.then_some(stages)
}

/// The stages of a pipeline (and of the pipelines nested in `$lookup`, `$unionWith` and
/// `$facet`): one-key documents with a known stage name; `top`: the view's own pipeline.
fn check_stages(items: &[Value], p: &JsonPath, top: bool, out: &mut Vec<(JsonPath, String)>) {
    for (i, stage) in items.iter().enumerate() {
        let sp = p.index(i);
        let Some(map) = stage.as_object().filter(|m| m.len() == 1) else {
            let found = match stage.as_object() {
                Some(m) if m.is_empty() => "an empty object".to_string(),
                Some(m) => format!(
                    "{} fields ({})",
                    m.len(),
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                None => json_kind(stage).to_string(),
            };
            out.push((
                sp,
                format!(
                    "a pipeline stage is an object with exactly one $stage field, found {found}"
                ),
            ));
            continue;
        };
        let (name, body) = map.iter().next().expect("one key");
        let bp = sp.key(name.as_str());
        if WRITING.contains(&name.as_str()) {
            let place = if top {
                "a view"
            } else {
                "a view's nested pipeline"
            };
            out.push((
                bp,
                format!("{name} writes documents; {place} is read-only, so the server refuses it"),
            ));
            continue;
        }
        if !STAGES.contains(&name.as_str()) {
            let hint = did_you_mean(name, STAGES.iter().copied())
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            out.push((bp, format!("unknown aggregation stage \"{name}\"{hint}")));
            continue;
        }
        match (name.as_str(), body) {
            ("$lookup" | "$unionWith", Value::Object(o)) => {
                if let Some(nested) = o.get("pipeline") {
                    nested_pipeline(nested, &bp.key("pipeline"), out);
                }
            }
            ("$facet", Value::Object(facets)) => {
                for (f, nested) in facets {
                    nested_pipeline(nested, &bp.key(f.as_str()), out);
                }
            }
            ("$match" | "$sort" | "$group" | "$facet" | "$lookup", other) if !other.is_object() => {
                out.push((
                    bp,
                    format!("{name} takes an object, found {}", json_kind(other)),
                ));
            }
            ("$limit" | "$skip", other)
                if other.as_u64().is_none_or(|n| n == 0 && name == "$limit") =>
            {
                out.push((bp, format!("{name} takes a positive whole number")));
            }
            _ => {}
        }
    }
}

fn nested_pipeline(v: &Value, p: &JsonPath, out: &mut Vec<(JsonPath, String)>) {
    match v.as_array() {
        Some(items) => check_stages(items, p, false, out),
        None => out.push((
            p.clone(),
            format!(
                "expected a pipeline (an array of stages), found {}",
                json_kind(v)
            ),
        )),
    }
}

/// The checks that need the whole domain: a view is not named like a collection, its source
/// is a declared collection or (present) view of the domain, views do not form a cycle, and
/// a view on a view has the same collation (the server refuses it otherwise).
pub fn check_sources(
    r: &mut Reader,
    p: &JsonPath,
    collections: &[CollectionDecl],
    views: &[ViewState],
) {
    let by_name: BTreeMap<&str, &ViewState> = views.iter().map(|v| (v.name.as_str(), v)).collect();
    for v in views {
        let vp = p.key(v.name.as_str());
        if collections.iter().any(|c| c.name == v.name) {
            r.error(
                vp.clone(),
                format!(
                    "\"{}\" is declared both as a collection and as a view of this domain",
                    v.name
                ),
            );
        }
        if v.absent {
            continue;
        }
        let source_view = by_name.get(v.view_on.as_str()).copied();
        let is_collection = collections.iter().any(|c| c.name == v.view_on);
        match source_view {
            Some(s) if s.absent => r.error(
                vp.key("viewOn"),
                format!("view \"{}\" is declared absent; a view cannot read it", s.name),
            ),
            Some(s) if !same_collation(s.collation.as_ref(), v.collation.as_ref()) => r.error(
                vp.key("collation"),
                format!(
                    "a view on view \"{}\" must have its collation ({}); the server refuses another",
                    s.name,
                    describe_collation(s.collation.as_ref())
                ),
            ),
            Some(_) => {}
            None if is_collection => {}
            None => {
                let names = collections
                    .iter()
                    .map(|c| c.name.as_str())
                    .chain(views.iter().filter(|x| !x.absent).map(|x| x.name.as_str()));
                let hint = did_you_mean(&v.view_on, names)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                r.error(
                    vp.key("viewOn"),
                    format!(
                        "\"{}\" is neither a collection nor a view declared in this domain{hint}",
                        v.view_on
                    ),
                );
            }
        }
        let declared = |name: &str| {
            collections.iter().any(|c| c.name == name)
                || by_name.get(name).is_some_and(|x| !x.absent)
        };
        let stages: Vec<&Document> = v.pipeline.iter().collect();
        for (rp, stage, name) in foreign_reads(&stages, &vp.key("pipeline")) {
            if !declared(&name) {
                r.warn(
                    rp,
                    format!(
                        "{stage} reads \"{name}\", which is neither a collection nor a view declared in this domain; the server accepts the view and finds no documents there"
                    ),
                );
            }
        }
        if let Some(cycle) = cycle_from(v, &by_name) {
            r.error(
                vp.key("viewOn"),
                format!("views form a cycle: {}", cycle.join(" → ")),
            );
        }
    }
}

/// The collections a pipeline reads besides its source, with the path of the field that
/// names each and its stage: `$lookup.from`, `$graphLookup.from`, `$unionWith` (a name or
/// `{coll}`), in nested `$lookup`/`$unionWith`/`$facet` pipelines too.
fn foreign_reads(pipeline: &[&Document], p: &JsonPath) -> Vec<(JsonPath, &'static str, String)> {
    let mut out = Vec::new();
    for (i, stage) in pipeline.iter().enumerate() {
        let Some((name, body)) = stage.iter().next() else {
            continue;
        };
        let bp = p.index(i).key(name.as_str());
        let nested = |key: &str, out: &mut Vec<_>, body: &Document| {
            if let Ok(stages) = body.get_array(key) {
                let docs: Vec<&Document> = stages.iter().filter_map(|s| s.as_document()).collect();
                out.extend(foreign_reads(&docs, &bp.key(key)));
            }
        };
        match (name.as_str(), body) {
            ("$lookup", Bson::Document(b)) => {
                if let Ok(from) = b.get_str("from") {
                    out.push((bp.key("from"), "$lookup", from.to_string()));
                }
                nested("pipeline", &mut out, b);
            }
            ("$graphLookup", Bson::Document(b)) => {
                if let Ok(from) = b.get_str("from") {
                    out.push((bp.key("from"), "$graphLookup", from.to_string()));
                }
            }
            ("$unionWith", Bson::String(coll)) => {
                out.push((bp.clone(), "$unionWith", coll.clone()));
            }
            ("$unionWith", Bson::Document(b)) => {
                if let Ok(coll) = b.get_str("coll") {
                    out.push((bp.key("coll"), "$unionWith", coll.to_string()));
                }
                nested("pipeline", &mut out, b);
            }
            ("$facet", Bson::Document(facets)) => {
                for facet in facets.keys() {
                    nested(facet, &mut out, facets);
                }
            }
            _ => {}
        }
    }
    out
}

/// The chain of sources from `start` back to itself, if it leads there.
fn cycle_from<'a>(
    start: &'a ViewState,
    by_name: &BTreeMap<&str, &'a ViewState>,
) -> Option<Vec<&'a str>> {
    let mut chain = vec![start.name.as_str()];
    let mut cur = start;
    while let Some(next) = by_name.get(cur.view_on.as_str()) {
        chain.push(next.name.as_str());
        if next.name == start.name {
            return Some(chain);
        }
        if chain.len() > by_name.len() + 1 {
            // A cycle that does not pass through `start`: reported at its own members.
            return None;
        }
        cur = next;
    }
    None
}

fn same_collation(a: Option<&Document>, b: Option<&Document>) -> bool {
    let simple = |c: Option<&Document>| c.is_none_or(|c| c.get_str("locale") == Ok("simple"));
    (simple(a) && simple(b)) || a == b
}

fn describe_collation(c: Option<&Document>) -> String {
    c.map(|c| doc_to_json(c).to_string())
        .unwrap_or_else(|| "none".into())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::manifest::{MANIFEST_FILE, read as read_manifest};
    use crate::spec::source::SourceFile;

    /// The diagnostics of a one-domain manifest with `views`, as `path: message`.
    fn diags(views: &str) -> (Vec<ViewState>, Vec<String>) {
        let text = format!(
            r#"{{"project": "p", "domains": {{"s": {{"database": "s", "collections": {{"users": {{}}, "orders": {{}}}}, "views": {views}}}}}}}"#
        );
        let (src, mut d) = SourceFile::parse(Path::new(MANIFEST_FILE), text).unwrap();
        let mut r = Reader::new(&src, &mut d);
        let mut m = read_manifest(&mut r, &src.value, Path::new(".")).unwrap();
        read_domains(&mut r, &mut m);
        let views = m.domains[0].views.clone();
        (
            views,
            d.iter()
                .map(|x| format!("{}: {}", x.path, x.message))
                .collect(),
        )
    }

    #[test]
    fn a_view_is_read_with_its_pipeline_as_extended_json() {
        let (views, d) = diags(
            r#"{"recent": {"viewOn": "orders", "pipeline": [
                 {"$match": {"at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}, "n": {"$numberLong": "7"}}},
                 {"$lookup": {"from": "users", "localField": "u", "foreignField": "_id", "as": "u",
                              "pipeline": [{"$project": {"name": 1}}]}},
                 {"$facet": {"a": [{"$count": "n"}]}}, {"$limit": 10}],
               "collation": {"locale": "fr", "strength": 2}},
               "recent_fr": {"viewOn": "recent", "collation": {"locale": "fr", "strength": 2}},
               "old": {"absent": true}}"#,
        );
        assert!(d.is_empty(), "{d:#?}");
        let recent = &views[0];
        assert_eq!(recent.view_on, "orders");
        let m = recent.pipeline[0].get_document("$match").unwrap();
        assert!(matches!(
            m.get_document("at").unwrap().get("$gte"),
            Some(Bson::DateTime(_))
        ));
        assert_eq!(m.get("n"), Some(&Bson::Int64(7)));
        assert_eq!(recent.pipeline[3], bson::doc! {"$limit": 10});
        assert!(views[1].pipeline.is_empty());
        assert!(views[2].absent);
    }

    #[test]
    fn bad_stages_are_named_at_their_json_path() {
        let (_, d) = diags(
            r#"{"v": {"viewOn": "orders", "pipeline": [
                 {"$match": {"a": 1}, "$sort": {"a": 1}}, {"$mtach": {}}, {"$out": "copy"},
                 {"$lookup": {"from": "users", "as": "u", "pipeline": [{"$merge": {"into": "x"}}]}},
                 {"$limit": -1}, 5]}}"#,
        );
        assert_eq!(
            d,
            [
                "domains.s.views.v.pipeline[0]: a pipeline stage is an object with exactly one $stage field, found 2 fields ($match, $sort)",
                "domains.s.views.v.pipeline[1].$mtach: unknown aggregation stage \"$mtach\"; did you mean \"$match\"?",
                "domains.s.views.v.pipeline[2].$out: $out writes documents; a view is read-only, so the server refuses it",
                "domains.s.views.v.pipeline[3].$lookup.pipeline[0].$merge: $merge writes documents; a view's nested pipeline is read-only, so the server refuses it",
                "domains.s.views.v.pipeline[4].$limit: $limit takes a positive whole number",
                "domains.s.views.v.pipeline[5]: a pipeline stage is an object with exactly one $stage field, found a number",
            ]
        );
        let (_, d) = diags(r#"{"v": {"viewOn": "orders", "pipeline": {"$match": {}}}}"#);
        assert_eq!(
            d,
            [
                "domains.s.views.v.pipeline: expected a pipeline (an array of stages), found an object"
            ]
        );
        let (_, d) = diags(
            r#"{"v": {"viewOn": "orders", "pipeline": [{"$match": {"_id": {"$oid": "nope"}}}]}}"#,
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("domains.s.views.v.pipeline[0]: invalid Extended JSON"),
            "{d:?}"
        );
    }

    #[test]
    fn sources_must_be_declared_acyclic_and_share_a_source_views_collation() {
        let (_, d) = diags(
            r#"{"a": {"viewOn": "order"}, "b": {"viewOn": "c"}, "c": {"viewOn": "b"},
               "users": {"viewOn": "orders"}, "fr": {"viewOn": "orders", "collation": {"locale": "fr"}},
               "on_fr": {"viewOn": "fr"}, "gone": {"absent": true}, "on_gone": {"viewOn": "gone"},
               "bad": {"absent": true, "viewOn": "orders"}}"#,
        );
        assert_eq!(
            d,
            [
                "domains.s.views.bad.viewOn: a view declared absent has no viewOn: remove it, or remove \"absent\"",
                "domains.s.views.a.viewOn: \"order\" is neither a collection nor a view declared in this domain; did you mean \"orders\"?",
                "domains.s.views.b.viewOn: views form a cycle: b → c → b",
                "domains.s.views.c.viewOn: views form a cycle: c → b → c",
                "domains.s.views.users: \"users\" is declared both as a collection and as a view of this domain",
                "domains.s.views.on_fr.collation: a view on view \"fr\" must have its collation ({\"locale\":\"fr\"}); the server refuses another",
                "domains.s.views.on_gone.viewOn: view \"gone\" is declared absent; a view cannot read it",
            ]
        );
        let (_, d) =
            diags(r#"{"v": {"pipeline": []}, "w": {"viewOn": "orders", "absent": false}}"#);
        assert_eq!(
            d,
            [
                "domains.s.views.v: missing required field \"viewOn\" in a view",
                "domains.s.views.w.absent: use true (the view must not exist), or leave absent out",
            ]
        );
    }

    #[test]
    fn collections_read_by_lookup_and_union_must_be_declared_or_are_warned_about() {
        let text = r#"{"project": "p", "domains": {"s": {"database": "s",
            "collections": {"users": {}, "orders": {}},
            "views": {
              "v": {"viewOn": "orders", "pipeline": [
                {"$lookup": {"from": "user", "localField": "u", "foreignField": "_id", "as": "u",
                             "pipeline": [{"$unionWith": {"coll": "archive"}}]}},
                {"$graphLookup": {"from": "users", "startWith": "$u", "connectFromField": "a",
                                  "connectToField": "b", "as": "g"}},
                {"$facet": {"all": [{"$unionWith": "refunds"}, {"$unionWith": "w"}]}}]},
              "w": {"viewOn": "users"}}}}}"#;
        let (src, mut d) = SourceFile::parse(Path::new(MANIFEST_FILE), text.into()).unwrap();
        let mut r = Reader::new(&src, &mut d);
        let mut m = read_manifest(&mut r, &src.value, Path::new(".")).unwrap();
        read_domains(&mut r, &mut m);
        let shown: Vec<String> = d
            .iter()
            .map(|x| {
                format!(
                    "{} {}: {}",
                    if x.warning { "W" } else { "E" },
                    x.path,
                    x.message
                )
            })
            .collect();
        let after = "which is neither a collection nor a view declared in this domain; the server accepts the view and finds no documents there";
        assert_eq!(
            shown,
            [
                format!(
                    "W domains.s.views.v.pipeline[0].$lookup.from: $lookup reads \"user\", {after}"
                ),
                format!(
                    "W domains.s.views.v.pipeline[0].$lookup.pipeline[0].$unionWith.coll: $unionWith reads \"archive\", {after}"
                ),
                format!(
                    "W domains.s.views.v.pipeline[2].$facet.all[0].$unionWith: $unionWith reads \"refunds\", {after}"
                ),
            ]
        );
    }

    #[test]
    fn a_views_namespace_fits_the_servers_limit_in_every_environment() {
        let name = "v".repeat(253); // "s." + name is 255 bytes, the limit
        let (_, d) = diags(&format!(r#"{{"{name}": {{"viewOn": "orders"}}}}"#));
        assert!(d.is_empty(), "{d:?}");
        let name = "v".repeat(254);
        let (_, d) = diags(&format!(r#"{{"{name}": {{"viewOn": "orders"}}}}"#));
        assert_eq!(
            d,
            [format!(
                "domains.s.views.{name}: namespace \"s.{name}\" is 256 bytes; MongoDB allows at most 255 for database.collection"
            )]
        );
        // A view declared absent names nothing to create.
        let (_, d) = diags(&format!(r#"{{"{name}": {{"absent": true}}}}"#));
        assert!(d.is_empty(), "{d:?}");
    }
}
