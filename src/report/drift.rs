//! The drift part: the plan's summary (what `apply` would change), one line per change, and
//! what exists live without being declared.

use serde::Serialize;

use crate::plan::{Change, Plan};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DriftLine {
    pub action: String,
    /// `db`, `db.collection` or `db.collection index name`.
    pub target: String,
    pub summary: String,
    pub destructive: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Drift {
    pub changes: usize,
    pub destructive: usize,
    pub migrations_pending: usize,
    pub tenants_changed: usize,
    /// The shared databases' and cluster-wide changes.
    pub lines: Vec<DriftLine>,
    /// Live, not declared (`db.collection`, `db.collection index x`, `user@db`).
    pub unmanaged: Vec<String>,
}

impl Drift {
    pub fn in_sync(&self) -> bool {
        self.changes == 0 && self.migrations_pending == 0 && self.tenants_changed == 0
    }
}

/// Pure: the summary of a plan.
pub fn drift(plan: &Plan) -> Drift {
    let tenants = plan.tenants.as_ref();
    Drift {
        changes: plan.changes.len() + tenants.map_or(0, |t| t.change_count()),
        destructive: plan.destructive().count() + tenants.map_or(0, |t| t.destructive_count()),
        migrations_pending: plan.migrations.len(),
        tenants_changed: tenants.map_or(0, |t| {
            t.changed
                .iter()
                .filter(|p| !p.plan.changes.is_empty())
                .count()
        }),
        lines: plan.changes.iter().map(line).collect(),
        unmanaged: plan.unmanaged.iter().map(|u| u.target()).collect(),
    }
}

fn line(c: &Change) -> DriftLine {
    let mut target = c.database.clone();
    if let Some(coll) = &c.collection {
        target = format!("{target}.{coll}");
    }
    if let Some(i) = &c.index {
        target = format!("{target} index {i}");
    }
    DriftLine {
        action: c.action.label().to_string(),
        target,
        summary: c.summary.clone(),
        destructive: c.destructive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Unmanaged, UnmanagedKind};

    #[test]
    fn summarizes_changes_destructive_ones_and_unmanaged() {
        let mut plan = Plan::default();
        assert!(drift(&plan).in_sync());
        let mut idx = Change::new(Action::DropIndex, "shop", Some("orders"), "drop x_1".into());
        idx.index = Some("x_1".into());
        plan.changes.push(idx);
        plan.changes.push(Change::new(
            Action::CreateCollection,
            "shop",
            Some("carts"),
            "create".into(),
        ));
        plan.unmanaged.push(Unmanaged::collection(
            UnmanagedKind::Collection,
            "shop",
            "scratch",
            None,
        ));
        let d = drift(&plan);
        assert!(!d.in_sync());
        assert_eq!((d.changes, d.destructive), (2, 1));
        assert_eq!(d.lines[0].target, "shop.orders index x_1");
        assert_eq!(d.lines[0].action, "drop index");
        assert_eq!(d.unmanaged, ["shop.scratch"]);
    }
}
