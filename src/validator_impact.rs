//! Validator impact: after `diff`, the stored documents each validator change would leave
//! violating its new validator, counted by the server and explained by `crate::conformance`.
//! `diff` stays pure; this is the I/O step that annotates its plan.

use anyhow::Result;
use bson::Document;
use mongodb::Client;

use crate::conformance::violations;
use crate::model::ClusterState;
use crate::plan::{Action, Plan, Violations};
use crate::spec::Workspace;

/// How many violating documents a plan explains per change.
pub const SAMPLES: usize = 3;

/// A change whose impact is counted: its index in the plan and the validator it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub change: usize,
    pub domain: String,
    pub database: String,
    pub collection: String,
    pub schema: Document,
    pub validation_level: String,
    pub validation_action: String,
}

/// The changes that make an existing collection's validation stricter: a new or changed
/// `$jsonSchema`, a `validationAction` raised to `error`, a `validationLevel` raised towards
/// `strict`. Validators at `validationLevel: off` check nothing and are left out.
pub fn candidates(plan: &Plan, desired: &ClusterState, live: &ClusterState) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if !matches!(c.action, Action::UpdateValidator | Action::UpdateOptions) {
            continue;
        }
        let Some(coll_name) = c.collection.as_deref() else {
            continue;
        };
        let sets_validation = c.commands.iter().any(|cmd| {
            cmd.contains_key("collMod")
                && (cmd.contains_key("validator") || cmd.contains_key("validationAction"))
        });
        if !sets_validation {
            continue;
        }
        let Some(db) = desired.database(&c.database) else {
            continue;
        };
        let Some(d) = db.collection(coll_name) else {
            continue;
        };
        let Some(l) = live
            .database(&c.database)
            .and_then(|l| l.collection(coll_name))
        else {
            continue;
        };
        let Some(schema) = &d.validator else {
            continue;
        };
        let (level, action) = d.effective_validation();
        if level == "off" {
            continue;
        }
        if c.action == Action::UpdateOptions && !stricter(l.effective_validation(), (level, action))
        {
            continue;
        }
        out.push(Candidate {
            change: i,
            domain: db.domain.clone(),
            database: c.database.clone(),
            collection: coll_name.to_string(),
            schema: schema.clone(),
            validation_level: level.to_string(),
            validation_action: action.to_string(),
        });
    }
    out
}

/// Whether going from `live` to `new` (level, action) makes the server reject or check more.
fn stricter(live: (&str, &str), new: (&str, &str)) -> bool {
    let rank = |level: &str| match level {
        "off" => 0,
        "moderate" => 1,
        _ => 2,
    };
    (live.1 == "warn" && new.1 == "error") || rank(new.0) > rank(live.0)
}

/// Counts, for every [`candidates`] change, the stored documents that violate the validator
/// it sets, and explains up to [`SAMPLES`] of them; the counts land in `Change::violations`.
pub async fn annotate(
    client: &Client,
    ws: &Workspace,
    desired: &ClusterState,
    live: &ClusterState,
    plan: &mut Plan,
) -> Result<()> {
    for c in candidates(plan, desired, live) {
        let Some(file) = ws.schemas.get(&(c.domain.clone(), c.collection.clone())) else {
            continue;
        };
        let (count, samples) = violations(
            client,
            ws,
            file,
            &c.database,
            &c.collection,
            &c.schema,
            SAMPLES,
        )
        .await?;
        plan.changes[c.change].violations = Some(Violations {
            count,
            samples,
            validation_level: c.validation_level,
            validation_action: c.validation_action,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::diff::diff;
    use crate::diff::fixtures::*;

    fn validated(name: &str, action: Option<&str>) -> crate::model::CollectionState {
        let mut c = coll(name);
        c.validator = Some(doc! {"required": ["a"]});
        c.options.validation_action = action.map(str::to_string);
        c
    }

    #[test]
    fn schema_changes_and_stricter_actions_are_counted_looser_ones_not() {
        let mut changed = validated("changed", None);
        changed.validator = Some(doc! {"required": ["a", "b"]});
        let desired = cluster(vec![
            changed,
            validated("promoted", Some("error")),
            validated("loosened", Some("warn")),
        ]);
        let live = cluster(vec![
            validated("changed", None),
            validated("promoted", Some("warn")),
            validated("loosened", Some("error")),
        ]);
        let plan = diff(&desired, &live, false);
        let got: Vec<(String, String)> = candidates(&plan, &desired, &live)
            .into_iter()
            .map(|c| (c.collection, c.validation_action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("changed".to_string(), "error".to_string()),
                ("promoted".to_string(), "error".to_string())
            ]
        );
    }

    #[test]
    fn new_collections_and_removed_validators_are_not_counted() {
        let desired = cluster(vec![validated("new", None), coll("unvalidated")]);
        let live = cluster(vec![validated("unvalidated", None)]);
        let plan = diff(&desired, &live, false);
        assert!(candidates(&plan, &desired, &live).is_empty(), "{plan:?}");
    }

    #[test]
    fn stricter_ranks_levels_and_actions() {
        assert!(stricter(("strict", "warn"), ("strict", "error")));
        assert!(stricter(("moderate", "error"), ("strict", "error")));
        assert!(!stricter(("strict", "error"), ("moderate", "error")));
        assert!(!stricter(("strict", "error"), ("strict", "warn")));
    }
}
