//! Seed documents: matched to live documents by their natural key, inserted when missing and
//! `$set` field by field when they differ; inserts are batched under the server's limits.

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

pub(super) fn diff_seeds(
    db: &str,
    coll: &str,
    seeds: &SeedSet,
    live: Option<&SeedSet>,
    out: &mut Vec<Change>,
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
        let mut c = Change::new(
            Action::UpdateSeed,
            db,
            Some(coll),
            format!("{key_json}: {} field(s)", set.len()),
        );
        c.details = details;
        c.commands.push(
            doc! {"update": coll, "updates": [{"q": key_filter(seeds, &key), "u": {"$set": set}}]},
        );
        out.push(c);
    }
    if !missing.is_empty() {
        out.push(insert_seeds_change(db, coll, seeds, &missing));
    }
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
}
