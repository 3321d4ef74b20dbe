//! `plan`'s warning before an index change: which query contracts the plan's index changes
//! (drops, key changes, rebuilds) or the spec's indexes would leave without an index. Pure:
//! the live indexes, the plan's index commands replayed on them, and `query_contract::serve`.

use std::collections::BTreeMap;

use bson::Document;

use crate::conformance::slash_path;
use crate::model::{ClusterState, IndexDef};
use crate::plan::{Change, ContractWarning};
use crate::query_contract::QueryContract;
use crate::query_contract::serve::{reason, serve};

pub fn warnings(
    queries: &BTreeMap<(String, String), Vec<QueryContract>>,
    desired: &ClusterState,
    live: &ClusterState,
    changes: &[Change],
) -> Vec<ContractWarning> {
    let mut out = Vec::new();
    for d in &desired.databases {
        for coll in &d.collections {
            let Some(contracts) = queries.get(&(d.domain.clone(), coll.name.clone())) else {
                continue;
            };
            let now: Vec<IndexDef> = live
                .database(&d.name)
                .and_then(|l| l.collection(&coll.name))
                .map(|c| c.indexes.clone())
                .unwrap_or_default();
            let mine: Vec<&Change> = changes
                .iter()
                .filter(|c| c.database == d.name && c.collection.as_deref() == Some(&coll.name))
                .collect();
            let (after, rebuilt) = replay(&now, &mine);
            let steady: Vec<IndexDef> = after
                .iter()
                .filter(|i| !rebuilt.contains(&i.name))
                .cloned()
                .collect();
            for c in contracts {
                let warn = |index: Option<String>, message: String| ContractWarning {
                    contract: c.name.clone(),
                    database: d.name.clone(),
                    collection: coll.name.clone(),
                    file: slash_path(&c.file),
                    line: c.line,
                    index,
                    message,
                };
                let served_now = serve(c, &now).ok().filter(|_| !now.is_empty());
                match (served_now, serve(c, &after)) {
                    (Some(ix), Err(u)) => {
                        let what = match after.iter().find(|i| i.name == ix) {
                            Some(new) => format!(
                                "changes index {ix} (new key {})",
                                crate::model::doc_to_json(&new.key)
                            ),
                            None => format!("drops index {ix}"),
                        };
                        out.push(warn(
                            Some(ix.clone()),
                            format!(
                                "this plan {what}, which serves it now; after it no index does{}",
                                reason(c, &u)
                            ),
                        ));
                    }
                    (Some(ix), Ok(_)) if rebuilt.contains(&ix) && serve(c, &steady).is_err() => {
                        out.push(warn(
                            Some(ix.clone()),
                            format!("this plan rebuilds index {ix} (drop, then create): until the build finishes no index serves it"),
                        ));
                    }
                    (_, Ok(ix)) => {
                        if let Err(u) = serve(c, &coll.indexes) {
                            out.push(warn(
                                Some(ix.clone()),
                                format!("it relies on index {ix}, which the spec no longer declares (listed as unmanaged; --prune drops it){}", reason(c, &u)),
                            ));
                        }
                    }
                    (None, Err(u)) => {
                        out.push(warn(
                            None,
                            format!(
                                "no index serves it, now or after this plan{}",
                                reason(c, &u)
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The collection's indexes once the changes' `dropIndexes` / `createIndexes` / `collMod`
/// commands have run, and the names they build anew.
fn replay(now: &[IndexDef], changes: &[&Change]) -> (Vec<IndexDef>, Vec<String>) {
    let mut ix = now.to_vec();
    let mut built = Vec::new();
    for cmd in changes.iter().flat_map(|c| &c.commands) {
        if let Ok(name) = cmd.get_str("index")
            && cmd.contains_key("dropIndexes")
        {
            ix.retain(|i| i.name != name);
        }
        for spec in cmd
            .get_array("indexes")
            .ok()
            .filter(|_| cmd.contains_key("createIndexes"))
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_document())
        {
            let mut options: Document = spec.clone();
            let key = options.remove("key").and_then(|k| k.as_document().cloned());
            let name = options
                .remove("name")
                .and_then(|n| n.as_str().map(str::to_string));
            if let (Some(key), Some(name)) = (key, name) {
                ix.retain(|i| i.name != name);
                built.push(name.clone());
                ix.push(IndexDef { name, key, options });
            }
        }
        if let Ok(m) = cmd.get_document("index")
            && cmd.contains_key("collMod")
            && let (Ok(name), Ok(hidden)) = (m.get_str("name"), m.get_bool("hidden"))
            && let Some(i) = ix.iter_mut().find(|i| i.name == name)
        {
            i.options.insert("hidden", hidden);
        }
    }
    (ix, built)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CollectionState, DatabaseState};
    use crate::plan::Action;
    use crate::query_contract::fixture::{find, index as ix};
    use bson::doc;

    fn state(indexes: Vec<IndexDef>) -> ClusterState {
        let mut c = CollectionState::new("orders");
        c.indexes = indexes;
        ClusterState {
            databases: vec![DatabaseState {
                domain: "shop".into(),
                name: "shop_db".into(),
                collections: vec![c],
                views: vec![],
            }],
            ..Default::default()
        }
    }

    fn queries() -> BTreeMap<(String, String), Vec<QueryContract>> {
        let c = find(
            ("shop", "orders", "open"),
            doc! {"status": "open"},
            Some(doc! {"at": -1}),
            None,
        );
        BTreeMap::from([(("shop".to_string(), "orders".to_string()), vec![c])])
    }

    fn change(action: Action, commands: Vec<Document>) -> Change {
        let mut c = Change::new(action, "shop_db", Some("orders"), "x".into());
        c.commands = commands;
        c
    }

    #[test]
    fn a_dropped_or_rekeyed_index_its_contract_needs_is_a_warning() {
        let good = ix("status_1_at_-1", doc! {"status": 1, "at": -1});
        let live = state(vec![good.clone()]);
        // The spec no longer declares it: without --prune it stays, unmanaged.
        let w = warnings(&queries(), &state(vec![]), &live, &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].message.starts_with(
                "it relies on index status_1_at_-1, which the spec no longer declares"
            ),
            "{}",
            w[0].message
        );
        assert!(
            w[0].message
                .contains("expected an index like {\"key\": {\"status\":1,\"at\":-1}}"),
            "{}",
            w[0].message
        );
        // --prune drops it.
        let drop = change(
            Action::DropIndex,
            vec![doc! {"dropIndexes": "orders", "index": "status_1_at_-1"}],
        );
        let w = warnings(&queries(), &state(vec![]), &live, &[drop]);
        assert!(
            w[0].message
                .starts_with("this plan drops index status_1_at_-1, which serves it now"),
            "{}",
            w[0].message
        );
        // A key change that no longer serves the sort.
        let rekeyed = ix("status_1_at_-1", doc! {"at": -1, "status": 1, "x": 1});
        let replace = change(
            Action::ReplaceIndex,
            vec![
                doc! {"dropIndexes": "orders", "index": "status_1_at_-1"},
                doc! {"createIndexes": "orders", "indexes": [{"key": {"status": 1, "x": 1}, "name": "status_1_at_-1"}]},
            ],
        );
        let w = warnings(&queries(), &state(vec![rekeyed]), &live, &[replace]);
        assert!(
            w[0].message
                .contains("changes index status_1_at_-1 (new key {\"status\":1,\"x\":1})"),
            "{}",
            w[0].message
        );
        // An option change rebuilds the same key: a window without the index.
        let rebuild = change(
            Action::ReplaceIndex,
            vec![
                doc! {"dropIndexes": "orders", "index": "status_1_at_-1"},
                doc! {"createIndexes": "orders", "indexes": [{"key": {"status": 1, "at": -1}, "name": "status_1_at_-1", "sparse": true}]},
            ],
        );
        let w = warnings(&queries(), &live, &live, &[rebuild]);
        assert!(
            w[0].message.contains("rebuilds index status_1_at_-1"),
            "{w:?}"
        );
        // Nothing changes: no warning.
        assert!(warnings(&queries(), &live, &live, &[]).is_empty());
    }
}
