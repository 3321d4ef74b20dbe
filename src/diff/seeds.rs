//! Seed documents: matched to live documents by their natural key, inserted when missing and
//! `$set` field by field when they differ; inserts are batched under the server's limits.
//! A file that owns its collection also deletes the live documents it does not declare and
//! replaces documents carrying fields it does not declare.

use std::collections::HashMap;

use bson::{Bson, Document, doc};

use super::show;
use crate::model::{MAX_BSON_OBJECT_SIZE, SeedSet, bson_eq, bson_size, eq_key_of_all, to_json};
use crate::plan::{Action, Change};

pub(super) fn insert_seeds_change(
    db: &str,
    coll: &str,
    seeds: &SeedSet,
    docs: &[&Document],
) -> Change {
    let mut c = Change::new(
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

/// Splits documents (inserted documents, or delete statements) into batches by count and by size: the documents of a batch add
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

pub(super) fn diff_seeds(
    db: &str,
    coll: &str,
    seeds: &SeedSet,
    live: Option<&SeedSet>,
    out: &mut Vec<Change>,
) {
    let live_docs = live.map(|s| s.documents.as_slice()).unwrap_or(&[]);
    // Live documents by natural key: one lookup per seed keeps this linear in the seed count.
    let mut live_by_key: HashMap<String, Vec<(Vec<Bson>, usize)>> = HashMap::new();
    for (i, l) in live_docs.iter().enumerate() {
        if let Some(lk) = seeds.key_of(l) {
            live_by_key
                .entry(eq_key_of_all(&lk, false))
                .or_default()
                .push((lk, i));
        }
    }
    let mut matched = vec![false; live_docs.len()];
    let mut missing = Vec::new();
    let mut updates = Vec::new();
    for want in &seeds.documents {
        let Some(key) = seeds.key_of(want) else {
            continue;
        };
        let found = live_by_key
            .get(&eq_key_of_all(&key, false))
            .and_then(|candidates| {
                candidates.iter().find(|(lk, i)| {
                    !matched[*i]
                        && lk.iter().zip(&key).all(|(a, b)| bson_eq(a, b, false))
                        && (!seeds.owns_collection || same_id(want, &live_docs[*i]))
                })
            })
            .map(|(_, i)| *i);
        let Some(i) = found else {
            missing.push(want);
            continue;
        };
        matched[i] = true;
        updates.extend(update_seed_change(
            db,
            coll,
            seeds,
            &key,
            want,
            &live_docs[i],
        ));
    }
    // Deletes first: an extra document may hold an `_id` or a unique value a seed needs.
    if seeds.owns_collection {
        let extra: Vec<&Document> = live_docs
            .iter()
            .zip(&matched)
            .filter(|(_, m)| !**m)
            .map(|(d, _)| d)
            .collect();
        if !extra.is_empty() {
            out.push(delete_seeds_change(db, coll, seeds, &extra));
        }
    }
    out.extend(updates);
    if !missing.is_empty() {
        out.push(insert_seeds_change(db, coll, seeds, &missing));
    }
}

/// Whether `want` declares no `_id` or the one `have` has. `_id` cannot be updated: in an owned
/// collection a seed declaring another `_id` is inserted and the live document deleted (first).
fn same_id(want: &Document, have: &Document) -> bool {
    match (want.get("_id"), have.get("_id")) {
        (Some(w), Some(h)) => bson_eq(w, h, true),
        _ => true,
    }
}

/// The update that makes `have` match `want`: a `$set` of the differing declared fields, or,
/// when the file owns the collection and `have` carries fields `want` lacks, a replacement by
/// `want` (the server keeps `_id`), marked destructive since those fields' data is lost.
fn update_seed_change(
    db: &str,
    coll: &str,
    seeds: &SeedSet,
    key: &[Bson],
    want: &Document,
    have: &Document,
) -> Option<Change> {
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
    let removed: Vec<(&String, &Bson)> = if seeds.owns_collection {
        have.iter()
            .filter(|(k, _)| k.as_str() != "_id" && !want.contains_key(k))
            .collect()
    } else {
        Vec::new()
    };
    if set.is_empty() && removed.is_empty() {
        return None;
    }
    let key_json = to_json(&Bson::Array(key.to_vec()));
    let summary = if removed.is_empty() {
        format!("{key_json}: {} field(s)", set.len())
    } else {
        format!(
            "{key_json}: {} field(s) set, {} removed",
            set.len(),
            removed.len()
        )
    };
    let mut c = Change::new(Action::UpdateSeed, db, Some(coll), summary);
    details.extend(
        removed
            .iter()
            .map(|(k, v)| format!("{k}: {} → removed", to_json(v))),
    );
    c.details = details;
    let update = if removed.is_empty() {
        doc! {"q": key_filter(seeds, key), "u": {"$set": set}}
    } else {
        c.destructive = true;
        let q = match have.get("_id") {
            Some(id) => doc! {"_id": id.clone()},
            None => key_filter(seeds, key),
        };
        doc! {"q": q, "u": want.clone()}
    };
    c.commands.push(doc! {"update": coll, "updates": [update]});
    Some(c)
}

/// One change deleting, by `_id`, the live documents of an owned collection its seed file does
/// not declare; the details name each one by natural key (or say it has none).
fn delete_seeds_change(db: &str, coll: &str, seeds: &SeedSet, docs: &[&Document]) -> Change {
    let mut c = Change::new(
        Action::DeleteSeed,
        db,
        Some(coll),
        format!(
            "{} document(s) not in the seed file (it owns the collection)",
            docs.len()
        ),
    );
    c.details = docs
        .iter()
        .map(|d| {
            let id = show(&d.get("_id").map(to_json));
            match seeds.key_of(d) {
                Some(k) => format!("- {} (_id {id})", to_json(&Bson::Array(k))),
                None => format!("- _id {id} (no natural key {})", seeds.key.join("+")),
            }
        })
        .collect();
    let statements: Vec<Document> = docs
        .iter()
        .filter_map(|d| d.get("_id"))
        .map(|id| doc! {"q": {"_id": id.clone()}, "limit": 1})
        .collect();
    let refs: Vec<&Document> = statements.iter().collect();
    for batch in insert_batches(&refs) {
        let deletes: Vec<Bson> = batch.iter().map(|d| Bson::Document((*d).clone())).collect();
        c.commands
            .push(doc! {"delete": coll, "deletes": deletes, "ordered": true});
    }
    c
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::diff::diff;
    use crate::diff::fixtures::*;

    #[test]
    fn seeds_insert_missing_and_set_only_changed_declared_fields() {
        let seeds = SeedSet {
            key: vec!["code".into()],
            documents: vec![
                doc! {"code": "a", "name": "A", "n": 1},
                doc! {"code": "b", "name": "B"},
                doc! {"code": "c", "name": "C"},
            ],
            owns_collection: false,
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
            owns_collection: false,
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

    fn owned_plan(want: Vec<Document>, have: Vec<Document>, owns: bool) -> crate::plan::Plan {
        let mut d = coll("s");
        d.seeds = Some(SeedSet {
            key: vec!["code".into()],
            documents: want,
            owns_collection: owns,
        });
        let mut l = coll("s");
        l.seeds = Some(SeedSet {
            key: vec!["code".into()],
            documents: have,
            owns_collection: owns,
        });
        diff(&cluster(vec![d]), &cluster(vec![l]), false)
    }

    #[test]
    fn owned_collection_deletes_undeclared_documents_first_by_id() {
        let plan = owned_plan(
            vec![doc! {"code": "a", "name": "A"}, doc! {"code": "c"}],
            vec![
                doc! {"_id": 1, "code": "a", "name": "Old"},
                doc! {"_id": 2, "code": "b"},
                doc! {"_id": 3, "name": "no code"},
                // A second live document with a seed's key: only one of them is that seed.
                doc! {"_id": 4, "code": "a", "name": "A"},
            ],
            true,
        );
        assert_eq!(
            actions(&plan),
            vec![
                (
                    Action::DeleteSeed,
                    "3 document(s) not in the seed file (it owns the collection)".to_string()
                ),
                (Action::UpdateSeed, "[\"a\"]: 1 field(s)".to_string()),
                (Action::InsertSeeds, "1 document(s) by code".to_string()),
            ]
        );
        let delete = &plan.changes[0];
        assert!(delete.destructive);
        assert_eq!(
            delete.details,
            [
                "- [\"b\"] (_id 2)",
                "- _id 3 (no natural key code)",
                "- [\"a\"] (_id 4)"
            ]
        );
        assert_eq!(
            delete.commands,
            [doc! {"delete": "s", "deletes": [
                {"q": {"_id": 2}, "limit": 1},
                {"q": {"_id": 3}, "limit": 1},
                {"q": {"_id": 4}, "limit": 1},
            ], "ordered": true}]
        );
        // Updating declared fields only stays a non-destructive $set.
        assert!(!plan.changes[1].destructive);
        assert_eq!(
            plan.changes[1].commands[0],
            doc! {"update": "s", "updates": [{"q": {"code": "a"}, "u": {"$set": {"name": "A"}}}]}
        );
    }

    #[test]
    fn owned_collection_replaces_documents_with_undeclared_fields() {
        let plan = owned_plan(
            vec![doc! {"code": "a", "name": "A"}, doc! {"code": "b", "n": 1}],
            vec![
                doc! {"_id": 1, "code": "a", "name": "A", "legacy": true, "old": {"x": 1}},
                doc! {"_id": 2, "code": "b", "n": 2, "extra": "e"},
            ],
            true,
        );
        assert_eq!(
            actions(&plan),
            vec![
                (
                    Action::UpdateSeed,
                    "[\"a\"]: 0 field(s) set, 2 removed".to_string()
                ),
                (
                    Action::UpdateSeed,
                    "[\"b\"]: 1 field(s) set, 1 removed".to_string()
                ),
            ]
        );
        let a = &plan.changes[0];
        assert!(a.destructive);
        assert_eq!(
            a.details,
            ["legacy: true → removed", "old: {\"x\":1} → removed"]
        );
        assert_eq!(
            a.commands[0],
            doc! {"update": "s", "updates": [{"q": {"_id": 1}, "u": {"code": "a", "name": "A"}}]}
        );
        assert_eq!(
            plan.changes[1].details,
            ["n: 2 → 1", "extra: \"e\" → removed"]
        );
    }

    #[test]
    fn not_owned_collection_keeps_undeclared_documents_and_fields() {
        let want = vec![doc! {"code": "a", "name": "A"}];
        let have = vec![
            doc! {"_id": 1, "code": "a", "name": "A", "legacy": true},
            doc! {"_id": 2, "code": "b"},
        ];
        assert!(owned_plan(want.clone(), have.clone(), false).is_empty());
        let owned = owned_plan(want, have, true);
        assert_eq!(owned.destructive().count(), 2);
    }

    #[test]
    fn owned_collection_matching_the_file_gives_no_change() {
        let plan = owned_plan(
            vec![doc! {"code": "a", "n": 1}],
            vec![doc! {"_id": 7, "code": "a", "n": 1.0}],
            true,
        );
        assert!(plan.is_empty(), "{:?}", actions(&plan));
    }

    #[test]
    fn owned_collection_emptied_by_the_file_deletes_everything() {
        let plan = owned_plan(vec![], vec![doc! {"_id": 1, "code": "a"}], true);
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::DeleteSeed);
    }

    #[test]
    fn deletes_are_batched() {
        let have: Vec<Document> = (0..1200).map(|i| doc! {"_id": i, "code": i}).collect();
        let plan = owned_plan(vec![], have, true);
        let sizes: Vec<usize> = plan.changes[0]
            .commands
            .iter()
            .map(|c| c.get_array("deletes").unwrap().len())
            .collect();
        assert_eq!(sizes, [500, 500, 200]);
        assert_eq!(plan.changes[0].details.len(), 1200);
    }

    #[test]
    fn owned_seed_with_another_id_is_deleted_and_inserted() {
        let plan = owned_plan(
            vec![doc! {"_id": 2, "code": "a"}],
            vec![doc! {"_id": 1, "code": "a"}],
            true,
        );
        assert_eq!(
            plan.changes.iter().map(|c| c.action).collect::<Vec<_>>(),
            [Action::DeleteSeed, Action::InsertSeeds]
        );
        assert_eq!(plan.changes[0].details, ["- [\"a\"] (_id 1)"]);
    }
}
