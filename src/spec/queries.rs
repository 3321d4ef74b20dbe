//! `queries/<domain>/<collection>.json`: the collection's query contracts, each a named find
//! (filter, sort, projection) or aggregation pipeline in Extended JSON with what it must meet.
//! Checked here for shape, operators and fields the collection's schema does not declare;
//! whether an index serves each is `query_contract::serve`'s question.

use std::collections::BTreeSet;

use bson::{Bson, Document};
use serde_json::{Map, Value};

use super::fields::{Reader, describe, did_you_mean, json_kind};
use super::mql;
use crate::jsonpath::JsonPath;
use crate::query_contract::{Expect, IndexExpect, Query, QueryContract};

const CONTRACT_FIELDS: &[&str] = &[
    "description",
    "filter",
    "sort",
    "projection",
    "pipeline",
    "expect",
];
const EXPECT_FIELDS: &[&str] = &[
    "index",
    "noBlockingSort",
    "covered",
    "maxKeysExaminedPerReturned",
];
/// Aggregation stages a contract's pipeline may use (read-only ones: a contract is a query).
const STAGES: &[&str] = &[
    "$match",
    "$sort",
    "$project",
    "$limit",
    "$skip",
    "$group",
    "$count",
    "$unwind",
    "$lookup",
    "$addFields",
    "$set",
    "$unset",
    "$facet",
    "$bucket",
    "$bucketAuto",
    "$sortByCount",
    "$replaceRoot",
    "$replaceWith",
    "$sample",
    "$graphLookup",
    "$densify",
    "$fill",
    "$setWindowFields",
    "$unionWith",
    "$redact",
];

/// The contracts of one file; `schema` is the collection's `$jsonSchema` (fields are checked
/// against it when there is one).
pub fn read(
    r: &mut Reader,
    v: &Value,
    key: &(String, String),
    schema: Option<&Value>,
) -> Vec<QueryContract> {
    let root = JsonPath::root();
    let Some(top) = r.object(&root, v, &["queries"], "a queries file") else {
        return vec![];
    };
    let Some(list) = r.required(&root, top, "queries", "a queries file") else {
        return vec![];
    };
    let lp = root.key("queries");
    let Some(items) = list.as_object() else {
        r.error(
            lp,
            format!(
                "expected an object of named queries ({{\"name\": {{\"filter\": …}}}}), found {}",
                json_kind(list)
            ),
        );
        return vec![];
    };
    let mut out = Vec::new();
    for (name, item) in items {
        let p = lp.key(name.as_str());
        if name.trim().is_empty() {
            r.error(p.clone(), "a query needs a name");
            continue;
        }
        if let Some(c) = read_contract(r, &p, name, item, key, schema) {
            out.push(c);
        }
    }
    out
}

fn read_contract(
    r: &mut Reader,
    p: &JsonPath,
    name: &str,
    v: &Value,
    key: &(String, String),
    schema: Option<&Value>,
) -> Option<QueryContract> {
    let map = r.object(p, v, CONTRACT_FIELDS, "a query contract")?;
    let before = r.diags.iter().filter(|d| d.is_error()).count();
    if let Some(d) = map.get("description")
        && !d.is_string()
    {
        r.error(
            p.key("description"),
            format!("expected a string, found {}", json_kind(d)),
        );
    }
    let mut fields: Vec<(JsonPath, String)> = Vec::new();
    let query = if let Some(pipe) = map.get("pipeline") {
        for other in ["filter", "sort", "projection"] {
            if map.contains_key(other) {
                r.error(
                    p.key(other),
                    format!("a query is either a find (filter, sort, projection) or a pipeline, not both: put \"{other}\" in the pipeline's stages"),
                );
            }
        }
        let pipeline = read_pipeline(r, &p.key("pipeline"), pipe, &mut fields)?;
        Query::Aggregate { pipeline }
    } else {
        if !["filter", "sort"].iter().any(|k| map.contains_key(*k)) {
            r.error(
                p.clone(),
                "a query contract needs a \"filter\", a \"sort\" or a \"pipeline\"",
            );
        }
        let filter = match map.get("filter") {
            Some(f) => read_filter(r, &p.key("filter"), f, &mut fields)?,
            None => Document::new(),
        };
        let sort = match map.get("sort") {
            Some(s) => Some(read_sort(r, &p.key("sort"), s, &mut fields)?),
            None => None,
        };
        let projection = match map.get("projection") {
            Some(pr) => Some(read_projection(r, &p.key("projection"), pr, &mut fields)?),
            None => None,
        };
        Query::Find {
            filter,
            sort,
            projection,
        }
    };
    let expect = read_expect(r, &p.key("expect"), map.get("expect"))?;
    if expect.covered && query.shape().projection.is_none() {
        r.error(
            p.key("expect").key("covered"),
            "a covered query needs a projection (e.g. {\"field\": 1, \"_id\": 0}): without one the server returns whole documents",
        );
    }
    let mut array_fields = BTreeSet::new();
    if let Some(schema) = schema {
        for (fp, field) in &fields {
            match resolve(schema, field) {
                Ok(is_array) => {
                    if is_array {
                        array_fields.insert(field.clone());
                    }
                }
                Err(known) => {
                    let hint = did_you_mean(field, known.iter().map(String::as_str))
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default();
                    r.error(
                        fp.clone(),
                        format!(
                            "unknown field \"{field}\": schemas/{}/{}.json does not declare it{hint}",
                            key.0, key.1
                        ),
                    );
                }
            }
        }
    }
    if r.diags.iter().filter(|d| d.is_error()).count() > before {
        return None;
    }
    let (line, column) = r.src.locate(p);
    Some(QueryContract {
        domain: key.0.clone(),
        collection: key.1.clone(),
        name: name.to_string(),
        file: r.src.rel.clone(),
        path: p.clone(),
        line,
        column,
        query,
        expect,
        array_fields,
    })
}

fn to_doc(r: &mut Reader, p: &JsonPath, v: &Value, what: &str) -> Option<Document> {
    if !v.is_object() {
        r.error(
            p.clone(),
            format!("expected {what} (an object), found {}", json_kind(v)),
        );
        return None;
    }
    match Bson::try_from(v.clone()) {
        Ok(Bson::Document(d)) => Some(d),
        Ok(_) => {
            r.error(p.clone(), format!("expected {what} (an object)"));
            None
        }
        Err(e) => {
            r.error(p.clone(), format!("invalid Extended JSON: {e}"));
            None
        }
    }
}

fn read_filter(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    fields: &mut Vec<(JsonPath, String)>,
) -> Option<Document> {
    let mut problems = Vec::new();
    mql::check_filter(v, p, &mut problems);
    for (pp, msg) in problems {
        r.error(pp, msg);
    }
    filter_fields(v, p, fields);
    to_doc(r, p, v, "a query filter")
}

/// The fields a filter names (top level and inside `$and` / `$or` / `$nor`).
fn filter_fields(v: &Value, p: &JsonPath, out: &mut Vec<(JsonPath, String)>) {
    let Some(map) = v.as_object() else { return };
    for (k, val) in map {
        let kp = p.key(k.as_str());
        if matches!(k.as_str(), "$and" | "$or" | "$nor") {
            for (i, item) in val.as_array().into_iter().flatten().enumerate() {
                filter_fields(item, &kp.index(i), out);
            }
        } else if !k.starts_with('$') {
            out.push((kp, k.clone()));
        }
    }
}

fn read_sort(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    fields: &mut Vec<(JsonPath, String)>,
) -> Option<Document> {
    let map = v.as_object();
    if map.is_some_and(Map::is_empty) {
        r.error(p.clone(), "a sort needs at least one field");
        return None;
    }
    for (k, d) in map.into_iter().flatten() {
        let ok = d.as_f64().is_some_and(|n| n == 1.0 || n == -1.0)
            || d.get("$meta").is_some_and(Value::is_string);
        if !ok {
            r.error(
                p.key(k.as_str()),
                format!("a sort direction is 1 or -1, found {}", describe(d)),
            );
        }
        fields.push((p.key(k.as_str()), k.clone()));
    }
    to_doc(r, p, v, "a sort")
}

fn read_projection(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    fields: &mut Vec<(JsonPath, String)>,
) -> Option<Document> {
    for k in v.as_object().into_iter().flat_map(Map::keys) {
        if k.starts_with('$') {
            r.error(p.key(k.as_str()), format!("\"{k}\" is not a field name"));
        } else if k != "_id" {
            fields.push((p.key(k.as_str()), k.clone()));
        }
    }
    to_doc(r, p, v, "a projection")
}

fn read_pipeline(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    fields: &mut Vec<(JsonPath, String)>,
) -> Option<Vec<Document>> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!("expected an array of stages, found {}", json_kind(v)),
        );
        return None;
    };
    if items.is_empty() {
        r.error(p.clone(), "a pipeline needs at least one stage");
        return None;
    }
    let mut out = Vec::new();
    let mut leading = true;
    for (i, stage) in items.iter().enumerate() {
        let sp = p.index(i);
        let Some((name, body)) = stage
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
        else {
            r.error(
                sp,
                "a pipeline stage is an object with exactly one $stage field",
            );
            return None;
        };
        let bp = sp.key(name.as_str());
        if matches!(name.as_str(), "$out" | "$merge") {
            r.error(
                bp,
                format!("{name} writes: a query contract is a read (drop the stage)"),
            );
            return None;
        }
        if !STAGES.contains(&name.as_str()) {
            let hint = did_you_mean(name, STAGES.iter().copied())
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            r.error(bp, format!("unknown pipeline stage \"{name}\"{hint}"));
            return None;
        }
        // Only the leading $match / $sort / $project read stored fields by name; later stages
        // may name computed ones.
        match name.as_str() {
            "$match" if leading => {
                read_filter(r, &bp, body, fields)?;
            }
            "$sort" if leading => {
                read_sort(r, &bp, body, fields)?;
            }
            "$project" if leading => {
                read_projection(r, &bp, body, fields)?;
                leading = false;
            }
            "$match" => {
                let mut problems = Vec::new();
                mql::check_filter(body, &bp, &mut problems);
                for (pp, msg) in problems {
                    r.error(pp, msg);
                }
            }
            _ => leading = false,
        }
        out.push(to_doc(r, &sp, stage, "a pipeline stage")?);
    }
    Some(out)
}

fn read_expect(r: &mut Reader, p: &JsonPath, v: Option<&Value>) -> Option<Expect> {
    let mut e = Expect {
        index: IndexExpect::Any,
        no_blocking_sort: true,
        covered: false,
        max_keys_per_returned: None,
    };
    let Some(v) = v else { return Some(e) };
    let map = r.object(p, v, EXPECT_FIELDS, "a contract's expectations")?;
    let mut ok = true;
    for (k, val) in map {
        let kp = p.key(k.as_str());
        match (k.as_str(), val) {
            ("index", Value::Bool(true)) => e.index = IndexExpect::Any,
            ("index", Value::String(s)) if !s.is_empty() => e.index = IndexExpect::Named(s.clone()),
            ("index", other) => {
                r.error(
                    kp,
                    format!(
                        "expected true (any index) or an index name, found {}",
                        describe(other)
                    ),
                );
                ok = false;
            }
            ("noBlockingSort", Value::Bool(b)) => e.no_blocking_sort = *b,
            ("covered", Value::Bool(b)) => e.covered = *b,
            ("noBlockingSort" | "covered", other) => {
                r.error(
                    kp,
                    format!("expected true or false, found {}", json_kind(other)),
                );
                ok = false;
            }
            ("maxKeysExaminedPerReturned", n) => match n.as_f64() {
                Some(x) if x >= 1.0 => e.max_keys_per_returned = Some(x),
                _ => {
                    r.error(
                        kp,
                        format!("expected a number of at least 1, found {}", describe(n)),
                    );
                    ok = false;
                }
            },
            _ => {}
        }
    }
    ok.then_some(e)
}

/// Whether the schema declares the dotted `field` (and whether it, or a field on its path, is
/// an array); `Err` with the names known where the path left the schema.
fn resolve(schema: &Value, field: &str) -> Result<bool, Vec<String>> {
    if field == "_id" || field.starts_with("_id.") {
        return Ok(false);
    }
    let mut node = schema;
    let mut is_array = false;
    for seg in field.split('.') {
        if declares_array(node) {
            is_array = true;
            match node.get("items") {
                Some(items) if items.is_object() => node = items,
                _ => return Ok(true),
            }
        }
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            // An object without declared properties (or a positional path): anything goes.
            return Ok(is_array);
        };
        match props.get(seg) {
            Some(next) => node = next,
            None if seg.parse::<usize>().is_ok() => continue,
            None => return Err(props.keys().cloned().collect()),
        }
    }
    Ok(is_array || declares_array(node))
}

fn declares_array(node: &Value) -> bool {
    let is =
        |t: &Value| t == "array" || t.as_array().is_some_and(|a| a.iter().any(|x| x == "array"));
    node.get("bsonType").is_some_and(is) || node.get("type").is_some_and(is)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::source::SourceFile;
    use serde_json::json;
    use std::path::Path;

    fn read_text(text: &str, schema: Option<&Value>) -> (Vec<QueryContract>, Vec<String>) {
        let (src, _) = SourceFile::parse(Path::new("queries/d/c.json"), text.into()).unwrap();
        let mut diags = Vec::new();
        let key = ("d".to_string(), "c".to_string());
        let out = read(&mut Reader::new(&src, &mut diags), &src.value, &key, schema);
        (out, diags.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_find_and_a_pipeline_are_read_with_their_expectations() {
        let schema = json!({"properties": {"status": {}, "at": {}, "tags": {"bsonType": "array"}}});
        let (c, d) = read_text(
            r#"{"queries": {
  "due": {"filter": {"status": "open", "at": {"$lt": {"$date": "2026-01-01T00:00:00Z"}}}, "sort": {"at": 1},
          "expect": {"index": "status_1_at_1", "maxKeysExaminedPerReturned": 2}},
  "by_tag": {"pipeline": [{"$match": {"tags": "x"}}, {"$group": {"_id": "$tag2", "n": {"$sum": 1}}}]}
}}"#,
            Some(&schema),
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name, "due");
        assert_eq!(c[0].line, 2);
        assert_eq!(
            c[0].expect.index,
            IndexExpect::Named("status_1_at_1".into())
        );
        assert_eq!(c[0].expect.max_keys_per_returned, Some(2.0));
        assert!(
            matches!(&c[0].query, Query::Find { filter, .. } if filter.get_document("at").unwrap().get_datetime("$lt").is_ok())
        );
        assert!(matches!(c[1].query, Query::Aggregate { .. }));
        assert!(c[1].array_fields.contains("tags"));
    }

    #[test]
    fn unknown_fields_operators_and_shapes_are_located() {
        let schema = json!({"properties": {"status": {}, "at": {}}});
        let (c, d) = read_text(
            r#"{"queries": {
  "a": {"filter": {"stauts": "open"}},
  "b": {"filter": {"at": {"$gte": 1, "$foo": 2}}, "sort": {"at": 2}},
  "c": {"filter": {"at": 1}, "pipeline": [{"$match": {}}]},
  "d": {"filter": {"at": 1}, "expect": {"covered": true, "indx": true}},
  "e": {"pipeline": [{"$out": "x"}]}
}}"#,
            Some(&schema),
        );
        assert!(c.is_empty());
        let want = [
            "queries/d/c.json:2:20: error: queries.a.filter.stauts: unknown field \"stauts\": schemas/d/c.json does not declare it; did you mean \"status\"?",
            "queries/d/c.json:3:38: error: queries.b.filter.at.$foo: unknown query operator \"$foo\"",
            "queries/d/c.json:3:60: error: queries.b.sort.at: a sort direction is 1 or -1, found 2",
            "queries/d/c.json:4:9: error: queries.c.filter: a query is either a find (filter, sort, projection) or a pipeline, not both: put \"filter\" in the pipeline's stages",
            "queries/d/c.json:5:58: error: queries.d.expect.indx: unknown field \"indx\" in a contract's expectations; did you mean \"index\"?",
            "queries/d/c.json:5:41: error: queries.d.expect.covered: a covered query needs a projection (e.g. {\"field\": 1, \"_id\": 0}): without one the server returns whole documents",
            "queries/d/c.json:6:23: error: queries.e.pipeline[0].$out: $out writes: a query contract is a read (drop the stage)",
        ];
        for w in want {
            assert!(d.iter().any(|x| x == w), "missing {w}\n{d:#?}");
        }
    }
}
