//! The fleet plan: per-tenant plans (kept only for tenants with something to do, so a
//! converged fleet costs a counter), orphans, and the pure grouping `render` prints
//! ("3 changes on each of 480 tenants; 2 tenants missing; 1 tenant with drift: …").

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::plan::{FleetPlan, TenantPlan};

/// Tenants that share one plan shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub kind: GroupKind,
    pub tenants: Vec<String>,
    /// The changes, in template terms.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// Existing tenants with the same changes (two or more of them).
    Common,
    /// New tenants: their databases do not exist yet.
    Missing,
    /// A tenant whose changes no other tenant shares.
    Drift,
    /// Orphan tenants whose databases `--prune` drops.
    Orphan,
}

/// Groups the tenants with changes by kind and plan signature, largest groups first.
pub fn groups(fleet: &FleetPlan) -> Vec<Group> {
    let mut by: BTreeMap<(u8, &[String]), Vec<String>> = BTreeMap::new();
    for t in fleet.changed.iter().filter(|t| !t.plan.changes.is_empty()) {
        let class = if t.orphan {
            3
        } else if t.missing {
            1
        } else {
            0
        };
        by.entry((class, &t.signature))
            .or_default()
            .push(t.tenant.clone());
    }
    let mut out: Vec<Group> = by
        .into_iter()
        .map(|((class, sig), tenants)| Group {
            kind: match class {
                3 => GroupKind::Orphan,
                1 => GroupKind::Missing,
                _ if tenants.len() == 1 => GroupKind::Drift,
                _ => GroupKind::Common,
            },
            tenants,
            changes: sig.to_vec(),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.kind, std::cmp::Reverse(a.tenants.len()), &a.tenants).cmp(&(
            b.kind,
            std::cmp::Reverse(b.tenants.len()),
            &b.tenants,
        ))
    });
    out
}

/// Up to `max` names, then "and N more".
pub fn some_names(names: &[String], max: usize) -> String {
    if names.len() <= max {
        return names.join(", ");
    }
    format!(
        "{}, and {} more",
        names[..max].join(", "),
        names.len() - max
    )
}

/// The one-line headline of each group (the renderer adds the changes with `-v`).
pub fn headline(g: &Group, verbose: bool) -> String {
    let n = g.changes.len();
    let names = if verbose {
        g.tenants.join(", ")
    } else {
        some_names(&g.tenants, 5)
    };
    let k = g.tenants.len();
    let s = |n: usize| if n == 1 { "" } else { "s" };
    match g.kind {
        GroupKind::Common => format!("{n} change{} on each of {k} tenants: {names}", s(n)),
        GroupKind::Missing => format!(
            "{k} tenant{} missing (databases to create, {n} change{} each): {names}",
            s(k),
            s(n)
        ),
        GroupKind::Drift => format!("1 tenant with drift: {names} ({n} change{})", s(n)),
        GroupKind::Orphan => format!("{k} orphan tenant{} to drop (--prune): {names}", s(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Change, Plan};

    fn tenant(id: &str, missing: bool, sig: &[&str]) -> TenantPlan {
        let mut plan = Plan::default();
        for s in sig {
            plan.changes.push(Change::new(
                Action::CreateIndex,
                "db",
                Some("c"),
                s.to_string(),
            ));
        }
        TenantPlan {
            tenant: id.into(),
            missing,
            orphan: false,
            plan,
            signature: sig.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn tenants_group_by_kind_and_plan_shape() {
        let fleet = FleetPlan {
            tenants: 7,
            converged: 1,
            changed: vec![
                tenant("a", false, &["x", "y", "z"]),
                tenant("b", false, &["x", "y", "z"]),
                tenant("c", false, &["x", "y", "z"]),
                tenant("d", false, &["x"]),
                tenant("e", true, &["db", "x", "y", "z"]),
                tenant("f", true, &["db", "x", "y", "z"]),
            ],
            orphans: vec![],
        };
        let g = groups(&fleet);
        let lines: Vec<String> = g.iter().map(|g| headline(g, false)).collect();
        assert_eq!(
            lines,
            [
                "3 changes on each of 3 tenants: a, b, c",
                "2 tenants missing (databases to create, 4 changes each): e, f",
                "1 tenant with drift: d (1 change)",
            ]
        );
        assert_eq!(fleet.change_count(), 3 * 3 + 1 + 2 * 4);
    }

    #[test]
    fn long_tenant_lists_are_cut_unless_verbose() {
        let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
        assert_eq!(some_names(&names, 5), "t0, t1, t2, t3, t4, and 3 more");
        let g = Group {
            kind: GroupKind::Common,
            tenants: names,
            changes: vec!["x".into()],
        };
        assert!(headline(&g, true).ends_with("t6, t7"));
    }
}
