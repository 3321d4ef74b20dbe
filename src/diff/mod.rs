//! `diff(desired, live) -> Plan`: a pure function, no client, no clock, no printing.
//!
//! Both sides are normalised before comparing (option defaults, the server's expansion of
//! collations and text indexes, numeric types), and every change carries the exact commands
//! `apply` will send, so the plan a user reads is the plan that runs.

mod access;
mod collections;
mod indexes;
mod json_diff;
pub mod seeds;
pub mod views;

use bson::doc;
use serde::Serialize;

use access::diff_access;
use collections::{create_collection, diff_collection};
use indexes::{is_id_index, matched_by_key};
use views::{diff_views, drop_view};

use crate::model::{ClusterState, DatabaseState};
use crate::plan::{Action, Change, Plan, Unmanaged, UnmanagedKind};

/// Computes what must change for `live` to match `desired`. With `prune`, unmanaged
/// collections, views and indexes become drop changes; without it they are only listed.
pub fn diff(desired: &ClusterState, live: &ClusterState, prune: bool) -> Plan {
    let mut plan = Plan::default();
    let mut changes: Vec<Change> = Vec::new();
    for db in &desired.databases {
        let live_db = live.database(&db.name);
        diff_database(db, live_db, &mut changes, &mut plan.unmanaged);
    }
    if let (Some(d), Some(l)) = (&desired.access, &live.access) {
        diff_access(d, l, &mut changes, &mut plan.unmanaged);
    }
    if prune {
        // Users before roles, so no drop leaves a user pointing at a missing role.
        let order = |u: &Unmanaged| match u.kind {
            UnmanagedKind::User => 0,
            UnmanagedKind::Role => 1,
            _ => 2,
        };
        let mut drops: Vec<&Unmanaged> = plan.unmanaged.iter().collect();
        drops.sort_by_key(|u| order(u));
        changes.extend(drops.into_iter().filter_map(prune_change));
    }
    // The one place the order is decided: by phase (see `Phase`), stably.
    changes.sort_by_key(|c| c.action.phase());
    plan.changes = changes;
    plan
}

fn diff_database(
    db: &DatabaseState,
    live_db: Option<&DatabaseState>,
    out: &mut Vec<Change>,
    unmanaged: &mut Vec<Unmanaged>,
) {
    if live_db.is_none() && !db.collections.is_empty() {
        let mut c = Change::new(
            Action::CreateDatabase,
            &db.name,
            None,
            format!("domain {}", db.domain),
        );
        c.details.push("created by its first collection".into());
        out.push(c);
    }
    for coll in &db.collections {
        match live_db.and_then(|l| l.collection(&coll.name)) {
            None if live_db.and_then(|l| l.view(&coll.name)).is_some() => {
                let mut c = Change::new(
                    Action::Blocked,
                    &db.name,
                    Some(&coll.name),
                    "a view of that name exists".into(),
                );
                c.details
                    .push("drop the view or rename the declared collection".into());
                out.push(c);
            }
            None => create_collection(&db.name, coll, out),
            Some(l) => diff_collection(&db.name, coll, l, out),
        }
    }
    diff_views(db, live_db, out, unmanaged);
    let Some(live_db) = live_db else { return };
    for l in &live_db.collections {
        if l.name.starts_with("system.") {
            continue;
        }
        match db.collection(&l.name) {
            // A collection in a declared view's place is reported as blocked there.
            None if db.view(&l.name).is_some_and(|v| !v.absent) => {}
            None => unmanaged.push(Unmanaged::collection(
                UnmanagedKind::Collection,
                &db.name,
                &l.name,
                None,
            )),
            Some(d) => {
                for idx in &l.indexes {
                    if !is_id_index(idx)
                        && !d.indexes.iter().any(|x| x.name == idx.name)
                        && !matched_by_key(d, l, idx)
                    {
                        unmanaged.push(Unmanaged::collection(
                            UnmanagedKind::Index,
                            &db.name,
                            &l.name,
                            Some(idx.name.clone()),
                        ));
                    }
                }
            }
        }
    }
}

fn prune_change(u: &Unmanaged) -> Option<Change> {
    if u.protected {
        return None;
    }
    let c = match (&u.collection, &u.index, &u.name) {
        (Some(coll), Some(name), _) => {
            let mut c = Change::new(
                Action::DropIndex,
                &u.database,
                Some(coll),
                format!("{name} (not declared)"),
            );
            c.index = Some(name.clone());
            c.commands.push(doc! {"dropIndexes": coll, "index": name});
            c
        }
        (Some(coll), None, _) if u.kind == UnmanagedKind::View => {
            drop_view(&u.database, coll, "not declared")
        }
        (Some(coll), None, _) => {
            let mut c = Change::new(
                Action::DropCollection,
                &u.database,
                Some(coll),
                format!("{} (not declared; its data is deleted)", u.kind),
            );
            c.commands.push(doc! {"drop": coll});
            c
        }
        (None, _, Some(name)) if u.kind == UnmanagedKind::User => {
            let mut c = Change::new(
                Action::DropUser,
                &u.database,
                None,
                format!("{name}@{} (not declared)", u.database),
            );
            c.commands.push(doc! {"dropUser": name});
            c
        }
        (None, _, Some(name)) => {
            let mut c = Change::new(
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

pub(super) fn show<T: Serialize>(v: &Option<T>) -> String {
    match v {
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
        None => "none".into(),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use bson::Document;

    use crate::model::{ClusterState, CollectionState, DatabaseState, IndexDef};
    use crate::plan::{Action, Plan};

    pub(crate) fn coll(name: &str) -> CollectionState {
        CollectionState::new(name)
    }

    pub(crate) fn idx(name: &str, key: Document, options: Document) -> IndexDef {
        IndexDef {
            name: name.into(),
            key,
            options,
        }
    }

    pub(crate) fn cluster(colls: Vec<CollectionState>) -> ClusterState {
        ClusterState {
            access: None,
            databases: vec![DatabaseState {
                domain: "auth".into(),
                name: "db".into(),
                collections: colls,
                views: vec![],
            }],
        }
    }

    pub(crate) fn actions(plan: &Plan) -> Vec<(Action, String)> {
        plan.changes
            .iter()
            .map(|c| (c.action, c.summary.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::fixtures::*;
    use super::*;
    use crate::model::{Capped, SeedSet};

    #[test]
    fn empty_cluster_gets_database_collection_indexes_and_seeds_in_order() {
        let mut users = coll("users");
        users.validator = Some(doc! {"bsonType": "object", "required": ["email"]});
        users.indexes = vec![idx("email_1", doc! {"email": 1}, doc! {"unique": true})];
        users.seeds = Some(SeedSet {
            key: vec!["email".into()],
            documents: vec![doc! {"email": "a@x"}],
            owns_collection: false,
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
}
