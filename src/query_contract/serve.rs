//! Offline: can a declared index serve a query contract? The planner's prefix rules, as the
//! server applies them: equality fields first (in any order), then the sort's fields in order
//! with all directions the same or all reversed (a sort is non-blocking only then), then range
//! fields (ESR). A covered query needs every filtered, sorted and projected field in the index,
//! `_id` excluded unless the index has it, and no multikey (array) field. Pure.

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, doc};
use serde::Serialize;

use super::{Expect, IndexExpect, QueryContract, Shape};
use crate::hints::did_you_mean;
use crate::model::{IndexDef, as_f64, doc_to_json};
use crate::spec::diag::Diagnostic;
use crate::stats::{classify_fields, suggest_index};

/// (domain, collection)
pub type CollKey = (String, String);

/// Why no index serves a contract: the index it expected (ESR) and the closest candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unserved {
    pub expected: serde_json::Value,
    /// The best candidate and why it fails.
    pub best: Option<(String, String)>,
    /// Why no index at all can serve the query (an empty filter, a pipeline led by `$group`).
    pub no_index: Option<String>,
}

/// The index that serves the contract, or why none does.
pub fn serve(contract: &QueryContract, indexes: &[IndexDef]) -> Result<String, Box<Unserved>> {
    let shape = contract.query.shape();
    let fields = Fields::of(&shape);
    let expected = doc_to_json(&expected_key(&shape, &fields, &contract.expect));
    let unserved = |best, no_index| {
        Box::new(Unserved {
            expected: expected.clone(),
            best,
            no_index,
        })
    };
    if let Some(stage) = &shape.unindexable {
        return Err(unserved(
            None,
            Some(format!(
                "the pipeline starts with {stage}: only a leading $match or $sort can use an index"
            )),
        ));
    }
    if fields.all.is_empty() && fields.sort.is_empty() {
        return Err(unserved(
            None,
            Some("the query has neither a filter nor a sort: it reads every document".into()),
        ));
    }
    let id_index = IndexDef {
        name: "_id_".into(),
        key: doc! {"_id": 1},
        options: Document::new(),
    };
    let mut candidates: Vec<&IndexDef> = indexes.iter().collect();
    candidates.push(&id_index);
    if let IndexExpect::Named(name) = &contract.expect.index {
        let Some(ix) = candidates.iter().find(|i| &i.name == name) else {
            let hint = did_you_mean(name, candidates.iter().map(|i| i.name.as_str()))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            return Err(unserved(
                None,
                Some(format!("no declared index is named \"{name}\"{hint}")),
            ));
        };
        candidates = vec![ix];
    }
    let judged: Vec<(usize, Option<String>, &IndexDef)> = candidates
        .iter()
        .map(|ix| {
            let (score, why) = judge(&fields, &contract.expect, &contract.array_fields, ix);
            (score, why, *ix)
        })
        .collect();
    if let Some((_, _, ix)) = judged
        .iter()
        .filter(|(_, why, _)| why.is_none())
        .max_by_key(|(score, _, _)| *score)
    {
        return Ok(ix.name.clone());
    }
    let best = judged
        .iter()
        .filter(|(score, _, _)| *score > 0)
        .max_by_key(|(score, _, _)| *score)
        .or(judged.first().filter(|_| judged.len() == 1))
        .map(|(_, why, ix)| (ix.name.clone(), why.clone().unwrap_or_default()));
    Err(unserved(best, None))
}

/// The ESR key, with a covered contract's projected fields after it.
fn expected_key(shape: &Shape, fields: &Fields, expect: &Expect) -> Document {
    let mut key = suggest_index(&shape.filter, shape.sort.as_ref());
    for f in &fields.all {
        if !key.contains_key(f) {
            key.insert(f.clone(), 1);
        }
    }
    if expect.covered {
        for f in fields.projected.iter().filter(|f| *f != "_id") {
            if !key.contains_key(f) {
                key.insert(f.clone(), 1);
            }
        }
    }
    key
}

/// The fields a query uses, by role.
#[derive(Debug, Default)]
struct Fields {
    filter: Document,
    equality: Vec<String>,
    range: Vec<String>,
    /// Every field the filter names, `$or` branches included.
    all: Vec<String>,
    sort: Vec<(String, f64)>,
    /// An inclusion projection's fields (`_id` when it is not excluded).
    projected: Vec<String>,
    /// The projection excludes fields (it cannot be covered), or there is none.
    inclusion: bool,
}

impl Fields {
    fn of(shape: &Shape) -> Fields {
        let mut f = Fields {
            filter: shape.filter.clone(),
            ..Fields::default()
        };
        classify_fields(&shape.filter, &mut f.equality, &mut f.range);
        filter_fields(&shape.filter, &mut f.all);
        f.sort = shape
            .sort
            .iter()
            .flat_map(|s| s.iter())
            .map(|(k, v)| (k.clone(), as_f64(v).unwrap_or(1.0).signum()))
            .collect();
        if let Some(p) = &shape.projection {
            let truthy = |v: &Bson| !matches!(v, Bson::Boolean(false)) && as_f64(v) != Some(0.0);
            f.inclusion = p.iter().any(|(k, v)| k != "_id" && truthy(v));
            let id_out = p.get("_id").is_some_and(|v| !truthy(v));
            if f.inclusion {
                f.projected = p
                    .iter()
                    .filter(|(k, v)| *k != "_id" && truthy(v))
                    .map(|(k, _)| k.clone())
                    .collect();
            }
            if !id_out {
                f.projected.push("_id".into());
            }
        }
        f
    }
}

fn filter_fields(filter: &Document, out: &mut Vec<String>) {
    for (k, v) in filter {
        if matches!(k.as_str(), "$and" | "$or" | "$nor") {
            for c in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(c) = c.as_document() {
                    filter_fields(c, out);
                }
            }
        } else if !k.starts_with('$') && !out.contains(k) {
            out.push(k.clone());
        }
    }
}

/// The direction of an index key field: 1 / -1, or None for a special type (text, 2d, …).
fn direction(v: &Bson) -> Option<f64> {
    as_f64(v).map(f64::signum)
}

/// How well `ix` serves the query (higher is better) and, when it does not meet the
/// contract, why.
fn judge(
    fields: &Fields,
    expect: &Expect,
    arrays: &BTreeSet<String>,
    ix: &IndexDef,
) -> (usize, Option<String>) {
    let key: Vec<(&String, &Bson)> = ix.key.iter().collect();
    let in_filter = |f: &str| fields.all.iter().any(|x| x == f);
    let is_eq = |f: &str| fields.equality.iter().any(|x| x == f);
    // Fields bound by the filter, contiguous from the start of the key.
    let bound = key.iter().take_while(|(f, _)| in_filter(f)).count();
    let eq_prefix = key
        .iter()
        .take_while(|(f, v)| is_eq(f) && (direction(v).is_some() || v.as_str() == Some("hashed")))
        .count();
    let sort_rest: Vec<&(String, f64)> = fields.sort.iter().filter(|(f, _)| !is_eq(f)).collect();
    let sort_ok = sort_rest.is_empty() || {
        let seg = key.get(eq_prefix..eq_prefix + sort_rest.len());
        seg.is_some_and(|seg| {
            let same = seg
                .iter()
                .zip(&sort_rest)
                .all(|((kf, kv), (sf, sd))| *kf == sf && direction(kv) == Some(*sd));
            let reversed = seg
                .iter()
                .zip(&sort_rest)
                .all(|((kf, kv), (sf, sd))| *kf == sf && direction(kv) == Some(-*sd));
            same || reversed
        })
    };
    let mut score = bound * 4 + usize::from(sort_ok && !sort_rest.is_empty()) * 2;
    let fail = |score: usize, why: String| (score, Some(why));

    if ix.options.get_bool("hidden") == Ok(true) {
        return fail(
            score,
            "it is hidden: the planner ignores hidden indexes".into(),
        );
    }
    let leads_sort = sort_ok && !sort_rest.is_empty() && eq_prefix == 0;
    let first = key.first().map(|(f, _)| f.as_str()).unwrap_or_default();
    let first_kind_ok = key
        .first()
        .is_some_and(|(f, v)| direction(v).is_some() || (v.as_str() == Some("hashed") && is_eq(f)));
    if (bound == 0 || !first_kind_ok) && !leads_sort {
        return fail(
            score,
            format!(
                "its first field \"{first}\" is neither filtered on nor the sort's, so the planner cannot use it"
            ),
        );
    }
    if let Ok(partial) = ix.options.get_document("partialFilterExpression") {
        for (k, v) in partial {
            if fields.filter.get(k) != Some(v) {
                return fail(
                    score,
                    format!(
                        "it is partial ({}): the planner uses it only when the filter implies that, and the query does not repeat {k:?}",
                        doc_to_json(partial)
                    ),
                );
            }
        }
    }
    if ix.options.get_bool("sparse") == Ok(true) && bound == 0 {
        return fail(
            score,
            "it is sparse: the planner uses it only for a filter on its fields, not for a sort alone"
                .into(),
        );
    }
    if let Ok(c) = ix.options.get_document("collation")
        && c.get_str("locale").is_ok_and(|l| l != "simple")
        && has_string_value(&fields.filter)
    {
        return fail(
            score,
            format!(
                "it has the collation {}: a query without that collation cannot use it for string values",
                doc_to_json(c)
            ),
        );
    }
    if expect.no_blocking_sort && !sort_ok {
        let sort: Document = fields
            .sort
            .iter()
            .map(|(k, d)| (k.clone(), Bson::Int32(*d as i32)))
            .collect();
        let mut why = format!(
            "the sort {} would be blocking (in memory): the index must have the equality fields first, then the sort's fields in order, in the same or all reversed directions; its key is {}",
            doc_to_json(&sort),
            doc_to_json(&ix.key)
        );
        if let Some((r, _)) = key
            .iter()
            .take(eq_prefix + sort_rest.len())
            .skip(eq_prefix)
            .find(|(f, _)| fields.range.contains(f))
        {
            why.push_str(&format!(
                " (the range field \"{r}\" comes before the sort's: ESR puts range fields last)"
            ));
        }
        return fail(score, why);
    }
    if expect.no_blocking_sort
        && let Some((f, _)) = sort_rest.iter().find(|(f, _)| arrays.contains(f))
    {
        return fail(
            score,
            format!(
                "\"{f}\" is an array in the schema: on a multikey index the sort can be blocking"
            ),
        );
    }
    if expect.covered {
        if let Some(why) = not_covering(fields, arrays, ix) {
            return fail(score, why);
        }
        score += 1;
    }
    (score, None)
}

fn has_string_value(filter: &Document) -> bool {
    filter.iter().any(|(_, v)| match v {
        Bson::String(_) => true,
        Bson::Document(d) => has_string_value(d),
        Bson::Array(a) => a
            .iter()
            .any(|x| matches!(x, Bson::String(_)) || x.as_document().is_some_and(has_string_value)),
        _ => false,
    })
}

/// Why `ix` cannot cover the query, if it cannot.
fn not_covering(fields: &Fields, arrays: &BTreeSet<String>, ix: &IndexDef) -> Option<String> {
    if fields.projected.is_empty() && !fields.inclusion {
        return Some(
            "a covered query needs an inclusion projection (e.g. {\"field\": 1, \"_id\": 0})"
                .into(),
        );
    }
    if !fields.inclusion {
        return Some("an exclusion projection cannot be covered".into());
    }
    let needed = fields
        .all
        .iter()
        .chain(fields.sort.iter().map(|(f, _)| f))
        .chain(&fields.projected);
    for f in needed {
        match ix.key.get(f) {
            None if f == "_id" => {
                return Some(
                    "the projection returns _id, which is not in the index (add \"_id\": 0)".into(),
                );
            }
            None => {
                return Some(format!(
                    "\"{f}\" is not in the index, so documents must be fetched"
                ));
            }
            Some(v) if direction(v).is_none() => {
                return Some(format!(
                    "\"{f}\" is a {} field, which cannot cover a query",
                    v.as_str().unwrap_or("special")
                ));
            }
            Some(_) if arrays.contains(f) => {
                return Some(format!(
                    "\"{f}\" is an array in the schema: its index is multikey, which cannot cover a query"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// `check`'s errors: every contract that no declared index can serve, at its place in its
/// queries file, naming the query and the index it expected.
pub fn diagnostics(
    queries: &BTreeMap<CollKey, Vec<QueryContract>>,
    indexes: &BTreeMap<CollKey, Vec<IndexDef>>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, contracts) in queries {
        let declared = indexes.get(key).map(Vec::as_slice).unwrap_or_default();
        for c in contracts {
            if let Err(u) = serve(c, declared) {
                out.push(Diagnostic {
                    file: c.file.clone(),
                    path: c.path.clone(),
                    line: c.line,
                    column: c.column,
                    message: message(c, &u),
                    warning: false,
                });
            }
        }
    }
    out
}

/// "query \"x\": no declared index serves it; expected …; best candidate …".
pub fn message(c: &QueryContract, u: &Unserved) -> String {
    let head = match &c.expect.index {
        IndexExpect::Named(n) => format!("query \"{}\": index \"{n}\" cannot serve it", c.name),
        IndexExpect::Any => format!("query \"{}\": no declared index serves it", c.name),
    };
    format!("{head}{}", reason(c, u))
}

/// Why, the index expected and the best candidate: the tail of [`message`].
pub fn reason(c: &QueryContract, u: &Unserved) -> String {
    let file = format!("indexes/{}/{}.json", c.domain, c.collection);
    let mut m = String::new();
    if let Some(why) = &u.no_index {
        m.push_str(&format!(": {why}"));
    }
    if u.no_index.is_none() || matches!(c.expect.index, IndexExpect::Named(_)) {
        m.push_str(&format!(
            "; expected an index like {{\"key\": {}}} in {file}",
            u.expected
        ));
    }
    if let Some((name, why)) = &u.best {
        m.push_str(&format!("; best candidate {name}: {why}"));
    }
    m
}

/// The declared index each contract relies on: (domain, collection, index) → contract names.
/// `stats --indexes` shows these as used by their contracts, never as unused.
pub fn needed_indexes(
    queries: &BTreeMap<CollKey, Vec<QueryContract>>,
    indexes: &BTreeMap<CollKey, Vec<IndexDef>>,
) -> BTreeMap<(String, String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for (key, contracts) in queries {
        let declared = indexes.get(key).map(Vec::as_slice).unwrap_or_default();
        for c in contracts {
            if let Ok(ix) = serve(c, declared) {
                out.entry((key.0.clone(), key.1.clone(), ix))
                    .or_default()
                    .push(c.name.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query_contract::Query;
    use crate::query_contract::fixture::{find, index as ix};

    fn contract(
        filter: Document,
        sort: Option<Document>,
        projection: Option<Document>,
    ) -> QueryContract {
        find(("d", "c", "q"), filter, sort, projection)
    }

    #[test]
    fn equality_then_sort_then_range_is_served_without_a_blocking_sort() {
        let c = contract(
            doc! {"status": "open", "at": {"$gte": 1}},
            Some(doc! {"priority": -1}),
            None,
        );
        let esr = ix("esr", doc! {"status": 1, "priority": -1, "at": 1});
        assert_eq!(serve(&c, std::slice::from_ref(&esr)), Ok("esr".into()));
        // All reversed is fine too.
        let rev = ix("rev", doc! {"status": -1, "priority": 1, "at": -1});
        assert_eq!(serve(&c, &[rev]), Ok("rev".into()));
        // Range before sort: the sort is blocking.
        let ers = ix("ers", doc! {"status": 1, "at": 1, "priority": -1});
        let u = serve(&c, &[ers]).unwrap_err();
        let (name, why) = u.best.unwrap();
        assert_eq!(name, "ers");
        assert!(
            why.contains("blocking") && why.contains("range field \"at\""),
            "{why}"
        );
        assert_eq!(
            u.expected,
            serde_json::json!({"status": 1, "priority": -1, "at": 1})
        );
        // Mixed directions are not a reversal.
        let mixed = ix("mixed", doc! {"status": 1, "priority": 1, "x": 1});
        let c2 = contract(
            doc! {"status": "open"},
            Some(doc! {"priority": -1, "x": 1}),
            None,
        );
        assert!(serve(&c2, &[mixed]).is_err());
    }

    #[test]
    fn a_sort_on_an_equality_field_needs_no_index_order() {
        let c = contract(doc! {"a": 1, "b": 2}, Some(doc! {"a": 1, "c": 1}), None);
        assert_eq!(
            serve(&c, &[ix("i", doc! {"b": 1, "a": 1, "c": 1})]),
            Ok("i".into())
        );
    }

    #[test]
    fn an_index_whose_first_field_is_not_queried_is_not_used() {
        let c = contract(doc! {"b": 1}, None, None);
        let u = serve(&c, &[ix("a_1_b_1", doc! {"a": 1, "b": 1})]).unwrap_err();
        assert!(u.best.is_none(), "{u:?}");
        assert_eq!(u.expected, serde_json::json!({"b": 1}));
        let m = message(&c, &u);
        assert!(
            m.starts_with("query \"q\": no declared index serves it; expected an index like {\"key\": {\"b\":1}} in indexes/d/c.json"),
            "{m}"
        );
        // The implicit _id index serves _id lookups.
        let by_id = contract(doc! {"_id": 7}, None, None);
        assert_eq!(serve(&by_id, &[]), Ok("_id_".into()));
    }

    #[test]
    fn covered_needs_every_field_in_the_index_and_no_id_or_array() {
        let mut c = contract(
            doc! {"email": "a@b"},
            None,
            Some(doc! {"email": 1, "role": 1, "_id": 0}),
        );
        c.expect.covered = true;
        let both = ix("email_1_role_1", doc! {"email": 1, "role": 1});
        assert_eq!(
            serve(&c, std::slice::from_ref(&both)),
            Ok("email_1_role_1".into())
        );
        let only_email = ix("email_1", doc! {"email": 1});
        let (_, why) = serve(&c, &[only_email]).unwrap_err().best.unwrap();
        assert!(why.contains("\"role\" is not in the index"), "{why}");
        c.query = Query::Find {
            filter: doc! {"email": "a@b"},
            sort: None,
            projection: Some(doc! {"email": 1, "role": 1}),
        };
        let (_, why) = serve(&c, std::slice::from_ref(&both))
            .unwrap_err()
            .best
            .unwrap();
        assert!(why.contains("_id"), "{why}");
        c.query = Query::Find {
            filter: doc! {"email": "a@b"},
            sort: None,
            projection: Some(doc! {"email": 1, "role": 1, "_id": 0}),
        };
        c.array_fields.insert("role".into());
        let (_, why) = serve(&c, &[both]).unwrap_err().best.unwrap();
        assert!(why.contains("multikey"), "{why}");
    }

    #[test]
    fn a_named_index_must_exist_and_serve() {
        let mut c = contract(doc! {"a": 1}, None, None);
        c.expect.index = IndexExpect::Named("a_2".into());
        let u = serve(&c, &[ix("a_1", doc! {"a": 1})]).unwrap_err();
        assert!(u.no_index.unwrap().contains("did you mean \"a_1\""));
        c.expect.index = IndexExpect::Named("a_1".into());
        assert_eq!(
            serve(&c, &[ix("b_1", doc! {"b": 1}), ix("a_1", doc! {"a": 1})]),
            Ok("a_1".into())
        );
    }

    #[test]
    fn hidden_partial_and_collated_indexes_are_judged_like_the_planner() {
        let c = contract(doc! {"a": "x"}, None, None);
        let mut hidden = ix("h", doc! {"a": 1});
        hidden.options.insert("hidden", true);
        assert!(
            serve(&c, &[hidden])
                .unwrap_err()
                .best
                .unwrap()
                .1
                .contains("hidden")
        );
        let mut partial = ix("p", doc! {"a": 1});
        partial
            .options
            .insert("partialFilterExpression", doc! {"live": true});
        assert!(serve(&c, std::slice::from_ref(&partial)).is_err());
        let c2 = contract(doc! {"a": "x", "live": true}, None, None);
        assert_eq!(serve(&c2, &[partial]), Ok("p".into()));
        let mut coll = ix("k", doc! {"a": 1});
        coll.options.insert("collation", doc! {"locale": "fr"});
        assert!(
            serve(&c, &[coll])
                .unwrap_err()
                .best
                .unwrap()
                .1
                .contains("collation")
        );
    }

    #[test]
    fn a_pipeline_is_served_through_its_leading_match_and_sort() {
        let mut c = contract(doc! {}, None, None);
        c.query = Query::Aggregate {
            pipeline: vec![
                doc! {"$match": {"status": "open"}},
                doc! {"$sort": {"at": -1}},
                doc! {"$group": {"_id": "$customer"}},
            ],
        };
        assert_eq!(
            serve(&c, &[ix("s_a", doc! {"status": 1, "at": -1})]),
            Ok("s_a".into())
        );
        assert!(serve(&c, &[ix("s", doc! {"status": 1})]).is_err());
        c.query = Query::Aggregate {
            pipeline: vec![doc! {"$group": {"_id": "$status"}}],
        };
        let u = serve(&c, &[ix("s", doc! {"status": 1})]).unwrap_err();
        assert!(u.no_index.unwrap().contains("starts with $group"));
        // An empty find reads everything: no index can serve it.
        let all = contract(doc! {}, None, None);
        assert!(serve(&all, &[]).unwrap_err().no_index.is_some());
    }

    #[test]
    fn needed_indexes_map_each_contract_to_its_index() {
        let key = ("d".to_string(), "c".to_string());
        let queries = BTreeMap::from([(key.clone(), vec![contract(doc! {"a": 1}, None, None)])]);
        let indexes = BTreeMap::from([(key, vec![ix("a_1", doc! {"a": 1})])]);
        let needed = needed_indexes(&queries, &indexes);
        assert_eq!(
            needed.get(&("d".into(), "c".into(), "a_1".into())),
            Some(&vec!["q".to_string()])
        );
        assert!(diagnostics(&queries, &indexes).is_empty());
    }
}
