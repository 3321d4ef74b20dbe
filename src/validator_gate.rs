//! `apply`'s decision on validator changes that stored documents violate: a validator that
//! rejects (`strict`/`error`) documents already stored would make every later write to them
//! fail, so such a change runs only when the operator says how (`--allow-violations`,
//! `--warn-first`) or when a pending migration fixes those documents first. Pure: it reads
//! the counts `crate::validator_impact` put on the plan.

use std::collections::BTreeSet;

use crate::plan::{Action, Change, Plan};

/// The operator's answer to stored violators (`apply` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViolationFlags {
    /// Run the change anyway; the documents stay as they are.
    pub allow_violations: bool,
    /// Set a new `$jsonSchema` at `validationAction: warn`; a later apply promotes it.
    pub warn_first: bool,
}

/// How each violated validator change of a plan runs (indices into `plan.changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Run as planned although stored documents violate it (`--allow-violations`).
    pub allowed: Vec<usize>,
    /// Run at `validationAction: warn` instead of `error` (`--warn-first`).
    pub warn_first: Vec<usize>,
    /// Run as planned: a pending migration fixes the namespace's documents before.
    pub fixed_by_migration: Vec<usize>,
}

/// Changes that may not run: their validator rejects stored documents and no flag or
/// migration says what to do about them. Nothing of the plan may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub refused: Vec<usize>,
}

/// `db.collection` of a change.
pub fn namespace(c: &Change) -> String {
    format!("{}.{}", c.database, c.collection.as_deref().unwrap_or(""))
}

/// Decides, for every change whose validator would reject stored documents, whether and how
/// it runs. `fixed_by_migration` holds the namespaces (`db.collection`) a pending migration
/// will fix; `--warn-first` applies to new `$jsonSchema`s only (a change of level or action
/// alone, such as promoting `warn` to `error`, has no looser form worth setting).
pub fn decide(
    plan: &Plan,
    fixed_by_migration: &BTreeSet<String>,
    flags: ViolationFlags,
) -> Result<Decision, Refusal> {
    let mut decision = Decision::default();
    let mut refused = Vec::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if !c.violations.as_ref().is_some_and(|v| v.blocks_writes()) {
            continue;
        }
        if fixed_by_migration.contains(&namespace(c)) {
            decision.fixed_by_migration.push(i);
        } else if flags.warn_first && c.action == Action::UpdateValidator {
            decision.warn_first.push(i);
        } else if flags.allow_violations {
            decision.allowed.push(i);
        } else {
            refused.push(i);
        }
    }
    if refused.is_empty() {
        Ok(decision)
    } else {
        Err(Refusal { refused })
    }
}

/// The plan as it runs under `decision`: `--warn-first` changes set `validationAction: warn`.
pub fn planned(plan: &Plan, decision: &Decision) -> Plan {
    let mut out = plan.clone();
    for &i in &decision.warn_first {
        let c = &mut out.changes[i];
        for cmd in &mut c.commands {
            if cmd.contains_key("validationAction") {
                cmd.insert("validationAction", "warn");
            }
        }
        c.summary
            .push_str(" at validationAction warn (--warn-first)");
        if let Some(v) = &mut c.violations {
            v.validation_action = "warn".into();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::plan::Violations;

    fn change(action: Action, coll: &str, count: u64, level: &str, validation: &str) -> Change {
        let mut c = Change::new(action, "db", Some(coll), "change $jsonSchema".into());
        c.commands.push(doc! {"collMod": coll, "validator": {"$jsonSchema": {}}, "validationLevel": level, "validationAction": validation});
        c.violations = Some(Violations {
            count,
            samples: Vec::new(),
            validation_level: level.into(),
            validation_action: validation.into(),
        });
        c
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            changes,
            unmanaged: Vec::new(),
            ..Plan::default()
        }
    }

    const NONE: ViolationFlags = ViolationFlags {
        allow_violations: false,
        warn_first: false,
    };

    #[test]
    fn a_rejecting_validator_with_violators_is_refused_without_a_flag() {
        let p = plan(vec![
            change(Action::UpdateValidator, "ok", 0, "strict", "error"),
            change(Action::UpdateValidator, "bad", 2, "strict", "error"),
            change(Action::UpdateOptions, "promote", 1, "strict", "error"),
        ]);
        assert_eq!(
            decide(&p, &BTreeSet::new(), NONE),
            Err(Refusal {
                refused: vec![1, 2]
            })
        );
    }

    #[test]
    fn warn_and_moderate_validators_and_clean_collections_pass() {
        let p = plan(vec![
            change(Action::UpdateValidator, "a", 5, "strict", "warn"),
            change(Action::UpdateValidator, "b", 5, "moderate", "error"),
            change(Action::UpdateValidator, "c", 0, "strict", "error"),
            Change::new(Action::CreateIndex, "db", Some("d"), "x".into()),
        ]);
        assert_eq!(decide(&p, &BTreeSet::new(), NONE), Ok(Decision::default()));
    }

    #[test]
    fn allow_violations_runs_every_violated_change_as_planned() {
        let p = plan(vec![
            change(Action::UpdateValidator, "a", 1, "strict", "error"),
            change(Action::UpdateOptions, "b", 1, "strict", "error"),
        ]);
        let flags = ViolationFlags {
            allow_violations: true,
            ..NONE
        };
        let d = decide(&p, &BTreeSet::new(), flags).unwrap();
        assert_eq!(d.allowed, vec![0, 1]);
        assert_eq!(planned(&p, &d).changes[0].commands, p.changes[0].commands);
    }

    #[test]
    fn warn_first_loosens_new_schemas_but_not_a_promotion() {
        let p = plan(vec![
            change(Action::UpdateValidator, "a", 1, "strict", "error"),
            change(Action::UpdateOptions, "b", 1, "strict", "error"),
        ]);
        let flags = ViolationFlags {
            warn_first: true,
            ..NONE
        };
        assert_eq!(
            decide(&p, &BTreeSet::new(), flags),
            Err(Refusal { refused: vec![1] })
        );
        let both = ViolationFlags {
            warn_first: true,
            allow_violations: true,
        };
        let d = decide(&p, &BTreeSet::new(), both).unwrap();
        assert_eq!(
            (d.warn_first.clone(), d.allowed.clone()),
            (vec![0], vec![1])
        );
        let run = planned(&p, &d);
        assert_eq!(
            run.changes[0].commands[0].get_str("validationAction"),
            Ok("warn")
        );
        assert_eq!(
            run.changes[1].commands[0].get_str("validationAction"),
            Ok("error")
        );
        assert_eq!(
            run.changes[0]
                .violations
                .as_ref()
                .unwrap()
                .validation_action,
            "warn"
        );
    }

    #[test]
    fn a_namespace_a_pending_migration_fixes_is_not_refused() {
        let p = plan(vec![
            change(Action::UpdateValidator, "a", 3, "strict", "error"),
            change(Action::UpdateValidator, "b", 3, "strict", "error"),
        ]);
        let fixed = BTreeSet::from(["db.a".to_string()]);
        assert_eq!(decide(&p, &fixed, NONE), Err(Refusal { refused: vec![1] }));
        let fixed = BTreeSet::from(["db.a".to_string(), "db.b".to_string()]);
        let d = decide(&p, &fixed, NONE).unwrap();
        assert_eq!(d.fixed_by_migration, vec![0, 1]);
    }
}
