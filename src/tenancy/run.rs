//! Applies the tenant plans of a [`FleetPlan`], `jobs` tenants at a time. A tenant's plan runs
//! in order and stops at its first failure (`crate::apply::execute`); other tenants go on
//! unless `fail_fast`, in which case tenants not yet started are skipped. A re-run converges
//! the rest, since plans are recomputed from the live state.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use mongodb::Client;
use serde::Serialize;

use super::fleet::FleetPlan;
use crate::apply::{self, ApplyReport};
use crate::secrets::Secrets;

#[derive(Debug, Clone, Serialize)]
pub struct TenantOutcome {
    pub tenant: String,
    /// Not started (`--fail-fast` after another tenant failed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    pub report: ApplyReport,
}

impl TenantOutcome {
    pub fn failed(&self) -> Option<(usize, &str)> {
        self.report.failed()
    }
}

/// What the fleet run tells its observer (the renderer drives a progress bar from these).
pub enum FleetEvent<'a> {
    Started { tenant: &'a str },
    Finished { tenant: &'a str, ok: bool },
}

pub async fn execute(
    client: &Client,
    fleet: &FleetPlan,
    secrets: &Secrets,
    jobs: usize,
    fail_fast: bool,
    observe: &(dyn Fn(FleetEvent) + Sync),
) -> Vec<TenantOutcome> {
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let runs = fleet
        .changed
        .iter()
        .filter(|t| !t.plan.changes.is_empty())
        .map(|t| async move {
            if stop.load(Ordering::SeqCst) {
                return TenantOutcome {
                    tenant: t.tenant.clone(),
                    skipped: true,
                    report: ApplyReport {
                        steps: vec![apply::StepStatus::NotRun; t.plan.changes.len()],
                    },
                };
            }
            observe(FleetEvent::Started { tenant: &t.tenant });
            let report = apply::execute(client, &t.plan, secrets, false, |_| {}).await;
            let ok = report.failed().is_none();
            if !ok && fail_fast {
                stop.store(true, Ordering::SeqCst);
            }
            observe(FleetEvent::Finished {
                tenant: &t.tenant,
                ok,
            });
            TenantOutcome {
                tenant: t.tenant.clone(),
                skipped: false,
                report,
            }
        });
    let mut out: Vec<TenantOutcome> = futures::stream::iter(runs)
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    out
}
