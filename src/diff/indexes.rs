//! Indexes: normalising both sides to the form the server reports, telling indexes apart by
//! identity, and the create / collMod / replace changes between them.

use bson::{Bson, Document, doc};

use super::show;
use crate::model::{
    CollectionState, INDEX_OPTIONS, INDEX_OPTIONS_MODIFIABLE, IndexDef, as_i64, bson_eq, doc_eq,
    doc_to_json, to_json,
};
use crate::plan::{Action, Change};

fn index_document(idx: &IndexDef) -> Document {
    let mut d = doc! {"key": idx.key.clone(), "name": &idx.name};
    d.extend(idx.options.clone());
    d
}

pub(super) fn create_index_change(db: &str, coll: &str, idx: &IndexDef) -> Change {
    let mut c = Change::new(Action::CreateIndex, db, Some(coll), describe_index(idx));
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

pub(super) fn is_id_index(idx: &IndexDef) -> bool {
    idx.name == "_id_"
}

/// The declared index that a live index of another name stands for (same key and
/// collation/partial filter): it is renamed by replacing, not reported as unmanaged.
pub(super) fn matched_by_key(
    d: &CollectionState,
    l: &CollectionState,
    live_idx: &IndexDef,
) -> bool {
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
pub(super) fn collation_matches(desired: Option<&Document>, live: Option<&Document>) -> bool {
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

pub(super) fn diff_indexes(
    db: &str,
    d: &CollectionState,
    l: &CollectionState,
    out: &mut Vec<Change>,
) {
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
                let mut c = Change::new(
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
                out.push(c);
            } else {
                out.push(create_index_change(db, coll, want));
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
            let mut c = Change::new(
                Action::ModifyIndex,
                db,
                Some(coll),
                format!("{} ({})", want.name, diffs.join(", ")),
            );
            c.commands.push(doc! {"collMod": coll, "index": spec});
            c
        } else {
            let mut c = Change::new(
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
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::diff::diff;
    use crate::diff::fixtures::*;

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
}
