//! Views: create the declared ones, `collMod` a changed `viewOn` or pipeline (a view cannot be
//! altered otherwise), drop and create one whose collation changed (`collMod` cannot change
//! it), drop those declared absent, and list the live ones not declared as unmanaged. Pure.

use bson::{Bson, Document, doc};

use super::indexes::collation_matches;
use super::show;
use crate::model::{DatabaseState, ViewState, bson_eq, doc_to_json};
use crate::plan::{Action, Change, Unmanaged, UnmanagedKind};

/// The changes that bring `live`'s views to `desired`'s, in creation order (a view after the
/// view it is defined on), and the live views not declared.
pub(super) fn diff_views(
    desired: &DatabaseState,
    live: Option<&DatabaseState>,
    out: &mut Vec<Change>,
    unmanaged: &mut Vec<Unmanaged>,
) {
    let db = desired.name.as_str();
    for d in creation_order(&desired.views) {
        let live_view = live.and_then(|l| l.view(&d.name));
        if d.absent {
            if live_view.is_some() {
                out.push(drop_view(db, &d.name, "declared absent"));
            }
            continue;
        }
        if live.and_then(|l| l.collection(&d.name)).is_some() {
            let mut c = Change::new(
                Action::Blocked,
                db,
                Some(&d.name),
                "a collection of that name exists".into(),
            );
            c.details
                .push("drop or rename the collection, or rename the declared view".into());
            out.push(c);
            continue;
        }
        match live_view {
            None => {
                let mut c = Change::new(Action::CreateView, db, Some(&d.name), create_summary(d));
                c.commands.push(create_command(d));
                out.push(c);
            }
            Some(l) => out.extend(diff_view(db, d, l)),
        }
    }
    let Some(live) = live else { return };
    for l in &live.views {
        // A view in a declared collection's place is reported as blocked there.
        if desired.view(&l.name).is_none() && desired.collection(&l.name).is_none() {
            unmanaged.push(Unmanaged::collection(
                UnmanagedKind::View,
                db,
                &l.name,
                None,
            ));
        }
    }
}

/// The `create` command of a view.
pub fn create_command(v: &ViewState) -> Document {
    let mut cmd = doc! {
        "create": &v.name,
        "viewOn": &v.view_on,
        "pipeline": pipeline_bson(&v.pipeline),
    };
    if let Some(c) = &v.collation {
        cmd.insert("collation", c.clone());
    }
    cmd
}

/// `drop` of a view (it holds no data: only its definition goes).
pub(super) fn drop_view(db: &str, name: &str, why: &str) -> Change {
    let mut c = Change::new(
        Action::DropView,
        db,
        Some(name),
        format!("view ({why}; its definition is deleted)"),
    );
    c.commands.push(doc! {"drop": name});
    c
}

fn pipeline_bson(pipeline: &[Document]) -> Vec<Bson> {
    pipeline.iter().cloned().map(Bson::Document).collect()
}

fn create_summary(v: &ViewState) -> String {
    let mut s = format!("on {}, {} stage(s)", v.view_on, v.pipeline.len());
    if v.collation.is_some() {
        s.push_str(", collation");
    }
    s
}

/// Stages compare as the server runs them: field order matters (`$sort`, `$project`),
/// number types do not.
fn same_pipeline(a: &[Document], b: &[Document]) -> bool {
    bson_eq(
        &Bson::Array(pipeline_bson(a)),
        &Bson::Array(pipeline_bson(b)),
        true,
    )
}

fn diff_view(db: &str, d: &ViewState, l: &ViewState) -> Option<Change> {
    let pipeline_differs = !same_pipeline(&d.pipeline, &l.pipeline);
    let source_differs = d.view_on != l.view_on;
    let collation_differs = !collation_matches(d.collation.as_ref(), l.collation.as_ref());
    if !(pipeline_differs || source_differs || collation_differs) {
        return None;
    }
    let mut details = Vec::new();
    if source_differs {
        details.push(format!("viewOn: {} → {}", l.view_on, d.view_on));
    }
    if pipeline_differs {
        details.extend(pipeline_diff(&l.pipeline, &d.pipeline));
    }
    let name = d.name.as_str();
    let mut c = if collation_differs {
        details.insert(
            0,
            format!(
                "collation: {} → {}",
                show(&l.collation.as_ref().map(doc_to_json)),
                show(&d.collation.as_ref().map(doc_to_json))
            ),
        );
        let mut c = Change::new(
            Action::ReplaceView,
            db,
            Some(name),
            "collation changed: collMod cannot change it, so the view is dropped and created"
                .into(),
        );
        c.commands.push(doc! {"drop": name});
        c.commands.push(create_command(d));
        c
    } else {
        let what = match (source_differs, pipeline_differs) {
            (true, true) => "viewOn and pipeline",
            (true, false) => "viewOn",
            _ => "pipeline",
        };
        let mut c = Change::new(Action::ModifyView, db, Some(name), format!("change {what}"));
        c.commands.push(doc! {
            "collMod": name,
            "viewOn": &d.view_on,
            "pipeline": pipeline_bson(&d.pipeline),
        });
        c
    };
    c.details = details;
    Some(c)
}

/// A line diff of the two pipelines as pretty relaxed Extended JSON: `- ` lines are live,
/// `+ ` lines declared, two lines of context around each change.
pub fn pipeline_diff(live: &[Document], declared: &[Document]) -> Vec<String> {
    let pretty = |p: &[Document]| {
        let v = serde_json::Value::Array(p.iter().map(doc_to_json).collect());
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    };
    let (old, new) = (pretty(live), pretty(declared));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(2).iter().enumerate() {
        if i > 0 {
            out.push("  …".to_string());
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                out.push(format!("{sign} {}", change.value().trim_end_matches('\n')));
            }
        }
    }
    out
}

/// The views in an order that creates each after the declared view it is defined on
/// (`check` refuses cycles; should one reach here, the declaration order is kept for it).
fn creation_order(views: &[ViewState]) -> Vec<&ViewState> {
    fn visit<'a>(i: usize, views: &'a [ViewState], state: &mut [u8], out: &mut Vec<&'a ViewState>) {
        // 0 unvisited, 1 in progress, 2 done
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        if let Some(j) = views.iter().position(|v| v.name == views[i].view_on) {
            visit(j, views, state, out);
        }
        state[i] = 2;
        out.push(&views[i]);
    }
    let mut state = vec![0u8; views.len()];
    let mut out = Vec::with_capacity(views.len());
    for i in 0..views.len() {
        visit(i, views, &mut state, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::diff::diff;
    use crate::diff::fixtures::*;
    use crate::model::ClusterState;

    fn view(name: &str, on: &str, pipeline: Vec<Document>) -> ViewState {
        ViewState {
            name: name.into(),
            view_on: on.into(),
            pipeline,
            collation: None,
            absent: false,
        }
    }

    fn with_views(colls: &[&str], views: Vec<ViewState>) -> ClusterState {
        let mut c = cluster(colls.iter().map(|n| coll(n)).collect());
        c.databases[0].views = views;
        c
    }

    #[test]
    fn a_declared_view_is_created_after_its_collection_and_the_view_it_reads() {
        let d = with_views(
            &["users"],
            vec![
                view(
                    "admins_emails",
                    "admins",
                    vec![doc! {"$project": {"email": 1}}],
                ),
                view("admins", "users", vec![doc! {"$match": {"role": "admin"}}]),
            ],
        );
        let plan = diff(&d, &ClusterState::default(), false);
        let got: Vec<(Action, Option<&str>)> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.collection.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Action::CreateDatabase, None),
                (Action::CreateCollection, Some("users")),
                (Action::CreateView, Some("admins")),
                (Action::CreateView, Some("admins_emails")),
            ]
        );
        assert_eq!(
            plan.changes[2].commands[0],
            doc! {"create": "admins", "viewOn": "users", "pipeline": [{"$match": {"role": "admin"}}]}
        );
        assert!(!plan.changes.iter().any(|c| c.destructive));
    }

    #[test]
    fn an_unchanged_view_plans_nothing_whatever_the_number_types_and_filled_collation() {
        let mut d = view("v", "c", vec![doc! {"$limit": 5, "$x": 1}]);
        d.collation = Some(doc! {"locale": "fr"});
        let mut l = view("v", "c", vec![doc! {"$limit": 5_i64, "$x": 1.0}]);
        l.collation = Some(doc! {"locale": "fr", "strength": 3, "version": "57.1"});
        let plan = diff(
            &with_views(&["c"], vec![d]),
            &with_views(&["c"], vec![l]),
            false,
        );
        assert!(plan.is_empty(), "{:?}", actions(&plan));
        assert!(plan.unmanaged.is_empty());
    }

    #[test]
    fn a_changed_pipeline_is_a_collmod_with_a_line_diff() {
        let d = view(
            "v",
            "c",
            vec![
                doc! {"$match": {"status": "open"}},
                doc! {"$sort": {"at": -1}},
            ],
        );
        let l = view(
            "v",
            "c",
            vec![
                doc! {"$match": {"status": "new"}},
                doc! {"$sort": {"at": -1}},
            ],
        );
        let plan = diff(
            &with_views(&["c"], vec![d]),
            &with_views(&["c"], vec![l]),
            false,
        );
        assert_eq!(
            actions(&plan),
            vec![(Action::ModifyView, "change pipeline".to_string())]
        );
        let c = &plan.changes[0];
        assert!(!c.destructive);
        assert_eq!(
            c.commands[0],
            doc! {"collMod": "v", "viewOn": "c", "pipeline": [{"$match": {"status": "open"}}, {"$sort": {"at": -1}}]}
        );
        assert!(
            c.details
                .contains(&"-       \"status\": \"new\"".to_string())
                && c.details
                    .contains(&"+       \"status\": \"open\"".to_string()),
            "{:#?}",
            c.details
        );
        // Field order is part of a stage ($sort by a then b is not b then a).
        let d = view("v", "c", vec![doc! {"$sort": {"a": 1, "b": 1}}]);
        let l = view("v", "c", vec![doc! {"$sort": {"b": 1, "a": 1}}]);
        let plan = diff(
            &with_views(&["c"], vec![d]),
            &with_views(&["c"], vec![l]),
            false,
        );
        assert_eq!(plan.changes.len(), 1);
    }

    #[test]
    fn a_new_source_is_a_collmod_and_a_new_collation_a_destructive_replace() {
        let d = view("v", "b", vec![]);
        let l = view("v", "a", vec![]);
        let plan = diff(
            &with_views(&["a", "b"], vec![d.clone()]),
            &with_views(&["a", "b"], vec![l.clone()]),
            false,
        );
        assert_eq!(
            actions(&plan),
            vec![(Action::ModifyView, "change viewOn".to_string())]
        );
        assert_eq!(plan.changes[0].details, ["viewOn: a → b"]);

        let mut d2 = d.clone();
        d2.collation = Some(doc! {"locale": "en", "strength": 2});
        let plan = diff(
            &with_views(&["a", "b"], vec![d2]),
            &with_views(&["a", "b"], vec![l]),
            false,
        );
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::ReplaceView);
        assert!(c.destructive);
        assert_eq!(c.commands[0], doc! {"drop": "v"});
        assert_eq!(
            c.commands[1]
                .get_document("collation")
                .unwrap()
                .get_i32("strength"),
            Ok(2)
        );
        assert_eq!(
            c.details[0],
            "collation: none → {\"locale\":\"en\",\"strength\":2}"
        );
    }

    #[test]
    fn undeclared_views_are_unmanaged_dropped_only_with_prune_and_absent_ones_dropped() {
        let d = with_views(&["c"], vec![]);
        let l = with_views(&["c"], vec![view("legacy", "c", vec![])]);
        let plan = diff(&d, &l, false);
        assert!(plan.is_empty());
        assert_eq!(plan.unmanaged.len(), 1);
        assert_eq!(plan.unmanaged[0].kind, UnmanagedKind::View);
        let plan = diff(&d, &l, true);
        assert_eq!(plan.changes.len(), 1);
        let c = &plan.changes[0];
        assert_eq!((c.action, c.destructive), (Action::DropView, true));
        assert_eq!(c.commands[0], doc! {"drop": "legacy"});

        let mut gone = view("legacy", "", vec![]);
        gone.absent = true;
        let declared_absent = with_views(&["c"], vec![gone]);
        let plan = diff(&declared_absent, &l, false);
        assert_eq!(
            actions(&plan),
            vec![(
                Action::DropView,
                "view (declared absent; its definition is deleted)".to_string()
            )]
        );
        assert!(plan.unmanaged.is_empty());
        // Already gone: nothing to do.
        assert!(diff(&declared_absent, &d, false).is_empty());
    }

    #[test]
    fn a_view_and_a_collection_of_one_name_block() {
        let d = with_views(&["c"], vec![view("x", "c", vec![])]);
        let l = with_views(&["c", "x"], vec![]);
        let plan = diff(&d, &l, false);
        assert_eq!(plan.blocked().count(), 1, "{:?}", actions(&plan));
        let d = with_views(&["c", "x"], vec![]);
        let l = with_views(&["c"], vec![view("x", "c", vec![])]);
        let plan = diff(&d, &l, false);
        assert_eq!(plan.blocked().count(), 1, "{:?}", actions(&plan));
        assert!(plan.unmanaged.is_empty(), "{:?}", plan.unmanaged);
    }

    #[test]
    fn pipeline_diff_shows_context_and_separates_distant_changes() {
        let live: Vec<Document> = (0..8).map(|i| doc! {"$set": {"f": i}}).collect();
        let mut declared = live.clone();
        declared[0] = doc! {"$set": {"f": 100}};
        declared[7] = doc! {"$set": {"f": 700}};
        let d = pipeline_diff(&live, &declared);
        assert!(d.contains(&"  …".to_string()), "{d:#?}");
        assert_eq!(d.iter().filter(|l| l.starts_with('+')).count(), 2);
        assert_eq!(d.iter().filter(|l| l.starts_with('-')).count(), 2);
    }
}
