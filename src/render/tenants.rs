//! The fleet's part of `plan`, `apply` and `verify` output: grouped tenant plans, orphans,
//! the progress bar over tenants, and the per-tenant outcome of an apply.

use indicatif::{ProgressBar, ProgressStyle};

use crate::apply::StepStatus;
use crate::tenancy::fleet::{FleetPlan, groups, headline, some_names};
use crate::tenancy::run::{FleetEvent, TenantOutcome};

/// The fleet section: a headline per group of tenants (with `-v`, each group's changes in
/// template terms and every tenant name), then orphans.
pub fn fleet_text(fleet: &FleetPlan, prune: bool, verbose: bool) -> String {
    let mut out = String::new();
    let with_changes = fleet
        .changed
        .iter()
        .filter(|t| !t.plan.changes.is_empty() && !t.orphan)
        .count();
    out.push_str(&format!(
        "Tenants: {} planned, {} converged, {} with changes ({} change(s)).\n",
        fleet.tenants,
        fleet.converged,
        with_changes,
        fleet.change_count()
    ));
    for g in groups(fleet) {
        out.push_str(&format!("  {}\n", headline(&g, verbose)));
        if verbose {
            for c in &g.changes {
                out.push_str(&format!("      {c}\n"));
            }
        }
    }
    let unmanaged: usize = fleet.changed.iter().map(|t| t.plan.unmanaged.len()).sum();
    if unmanaged > 0 && !prune {
        let names: Vec<String> = fleet
            .changed
            .iter()
            .filter(|t| !t.plan.unmanaged.is_empty())
            .map(|t| t.tenant.clone())
            .collect();
        out.push_str(&format!(
            "  {unmanaged} unmanaged object(s) in the databases of {}; `--prune` drops them\n",
            some_names(&names, 5)
        ));
    }
    if !fleet.orphans.is_empty() && !prune {
        let names: Vec<String> = fleet.orphans.iter().map(|o| o.tenant.clone()).collect();
        out.push_str(&format!(
            "  {} orphan tenant(s) (not in the tenant source, databases exist; kept, `--prune` drops them): {}\n",
            names.len(),
            if verbose { names.join(", ") } else { some_names(&names, 5) }
        ));
    }
    out
}

/// A bar over tenants, hidden off a terminal (then nothing is printed per tenant).
pub struct FleetProgress {
    bar: Option<ProgressBar>,
}

impl FleetProgress {
    pub fn new(tenants: usize, show: bool) -> Self {
        let bar = show.then(|| {
            let b = ProgressBar::new(tenants as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} tenants [{pos}/{len}] {elapsed_precise} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        FleetProgress { bar }
    }

    pub fn on_event(&self, e: FleetEvent) {
        let Some(b) = &self.bar else { return };
        match e {
            FleetEvent::Started { tenant } => b.set_message(tenant.to_string()),
            FleetEvent::Finished { tenant, ok } => {
                if !ok {
                    b.println(format!("tenant {tenant}: FAILED"));
                }
                b.inc(1)
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// After a fleet apply: a summary line, and each failed tenant with the step that failed.
pub fn outcome_text(outcomes: &[TenantOutcome]) -> String {
    let mut out = String::new();
    let failed: Vec<&TenantOutcome> = outcomes.iter().filter(|o| o.failed().is_some()).collect();
    let skipped = outcomes.iter().filter(|o| o.skipped).count();
    let done = outcomes.len() - failed.len() - skipped;
    let steps: usize = outcomes.iter().map(|o| o.report.done()).sum();
    out.push_str(&format!(
        "Tenants: {done} applied, {} failed, {skipped} skipped ({steps} change(s) applied).\n",
        failed.len()
    ));
    for o in failed {
        let not_run = o
            .report
            .steps
            .iter()
            .filter(|s| matches!(s, StepStatus::NotRun))
            .count();
        if let Some((i, error)) = o.failed() {
            out.push_str(&format!(
                "  tenant {}: step {} failed: {error} ({} done, {not_run} not run)\n",
                o.tenant,
                i + 1,
                o.report.done()
            ));
        }
    }
    out
}
