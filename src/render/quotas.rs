//! Tenant usage and quotas: the `stats --tenants` table, and the over-quota lines of `verify`.

use crate::spec::quotas::Quota;
use crate::stats::{Excess, TenantReport, TenantUsage};

use super::stats::bytes;

/// The `stats --tenants` table and the notes under it.
pub fn tenants(report: &TenantReport) {
    let mut t = super::table(&[
        "tenant",
        "class",
        "documents",
        "data size",
        "index size",
        "quota",
        "use",
        "status",
    ]);
    for r in &report.tenants {
        t.add_row(vec![
            if r.in_source {
                r.tenant.clone()
            } else {
                format!("{} *", r.tenant)
            },
            r.class.clone().unwrap_or_else(|| "-".into()),
            r.documents.to_string(),
            bytes(r.data_size as i64),
            r.databases
                .as_ref()
                .map(|d| bytes(d.index_size as i64))
                .unwrap_or_else(|| "-".into()),
            quota_text(&r.quota),
            r.use_percent
                .map(|p| format!("{p:.0}%"))
                .unwrap_or_else(|| "-".into()),
            status(r).into(),
        ]);
    }
    println!("{t}");
    if !report.shared_collections.is_empty() {
        println!(
            "Shared collections counted by tenant key (one $group each): {}. Sizes there are logical BSON sizes ($bsonSize), not storage.",
            report.shared_collections.join(", ")
        );
    }
    if report.tenants.iter().any(|r| !r.in_source) {
        println!("* found in a shared collection, not in the tenant source");
    }
    if report.without_tenant.documents > 0 {
        println!(
            "{} document(s) ({}) in shared collections have no tenant value.",
            report.without_tenant.documents,
            bytes(report.without_tenant.bson_size as i64)
        );
    }
    let over = report.over_quota().count();
    if over > 0 {
        println!("{over} tenant(s) over quota.");
    } else if !report.quotas_declared {
        println!(
            "No quotas declared (\"tenantClasses\" in the manifest, \"quota\" in the tenants file)."
        );
    }
}

pub fn status(r: &TenantUsage) -> &'static str {
    if r.is_over() { "OVER" } else { "ok" }
}

/// `10 docs, 512 MiB`, or `-` without limits.
pub fn quota_text(q: &Quota) -> String {
    let parts: Vec<String> = [
        q.max_documents.map(|n| format!("{n} docs")),
        q.max_data_size.map(|n| bytes(n as i64)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// `maxDocuments: 11 > 10` (sizes with units and in bytes).
pub fn excess_text(e: &Excess) -> String {
    match e.what {
        "maxDataSize" => format!(
            "{}: {} > {} ({} > {} bytes)",
            e.what,
            bytes(e.used as i64),
            bytes(e.limit as i64),
            e.used,
            e.limit
        ),
        _ => format!("{}: {} > {}", e.what, e.used, e.limit),
    }
}

/// One line per tenant over quota: `tenant acme (class free): maxDocuments: 11 > 10`.
pub fn over_quota_lines<'a>(rows: impl Iterator<Item = &'a TenantUsage>) -> Vec<String> {
    rows.map(|r| {
        let class = r
            .class
            .as_deref()
            .unwrap_or(crate::spec::quotas::DEFAULT_CLASS);
        let what: Vec<String> = r.over.iter().map(excess_text).collect();
        format!("tenant {} (class {class}): {}", r.tenant, what.join("; "))
    })
    .collect()
}
