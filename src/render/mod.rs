//! What mongoctl prints: tables for people, JSON for machines, progress bars driven by
//! apply events. Logic modules return data and never print; this module and its submodules
//! (one per area: `stats`, `health`, `verify`, `audit`, `sandbox`, `profile`, `explain`,
//! `list`, `init`) turn that data into output, and `crate::render::backup` does the same for
//! backup and restore. Not yet true everywhere: `main` prints errors, and a few command files
//! (`apply`, `backup`, `restore`, `check`, `users`, `spec_schema`) still print short messages
//! of their own.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::apply::{ApplyReport, Event, StepStatus};
use crate::plan::{Action, Plan, Violations};
use crate::spec::Diagnostic;

pub mod alerts;
pub mod audit;
pub mod backup;
pub mod charts;
pub mod drill;
pub mod explain;
pub mod health;
pub mod import;
pub mod init;
pub mod list;
pub mod migrate;
pub mod profile;
pub mod prometheus;
pub mod query_contracts;
pub mod quotas;
pub mod report;
pub mod retention;
pub mod sandbox;
pub mod sharding;
pub mod stats;
pub mod tenants;
pub mod verify;

pub fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    t
}

static STDOUT_HAS_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a JSON document was printed on stdout (then an error is not printed as another).
pub fn stdout_has_json() -> bool {
    STDOUT_HAS_JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// `{"error": …, "kind": …}` on stdout, for `-o json` readers of a failed command.
pub fn error_object(message: &str, kind: crate::error::ErrorKind) {
    json(&serde_json::json!({"error": message, "kind": kind}));
}

/// Pretty JSON on stdout; a closed pipe (`| head`) is not an error worth a message.
pub fn json<T: Serialize>(value: &T) {
    STDOUT_HAS_JSON.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

/// Diagnostics one per line on stderr (warnings of a command that goes on).
pub fn diagnostics_to_stderr(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

pub fn diagnostics(diags: &[Diagnostic], as_json: bool) {
    if as_json {
        json(&serde_json::json!({
            "ok": !diags.iter().any(Diagnostic::is_error),
            "errors": diags.iter().filter(|d| d.is_error()).count(),
            "warnings": diags.iter().filter(|d| !d.is_error()).count(),
            "diagnostics": diags,
        }));
    } else {
        for d in diags {
            eprintln!("{d}");
        }
    }
}

fn target(c: &crate::plan::Change) -> String {
    let mut s = c.database.clone();
    if let Some(coll) = &c.collection {
        s.push('.');
        s.push_str(coll);
    }
    s
}

/// The plan as a table (one row per change, details indented below) plus unmanaged objects.
pub fn plan(plan: &Plan, prune: bool, verbose: bool) {
    print!("{}", plan_text(plan, prune, verbose));
}

/// The text [`plan`] prints, every line ending in a newline.
pub fn plan_text(plan: &Plan, prune: bool, verbose: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes: the cluster matches the spec.\n");
    } else if plan.changes.is_empty() && plan.tenants.is_some() {
        out.push_str("Shared databases: no changes.\n");
    } else if plan.changes.is_empty() {
        out.push_str("No structural changes.\n");
    } else {
        let mut t = table(&["#", "action", "target", "change"]);
        for (i, c) in plan.changes.iter().enumerate() {
            let mut action = c.action.label().to_string();
            if c.destructive {
                action.push_str(" ⚠");
            }
            let mut text = c.summary.clone();
            let limit = if verbose { usize::MAX } else { 12 };
            for d in c.details.iter().take(limit) {
                text.push_str("\n  ");
                text.push_str(d);
            }
            if c.details.len() > limit {
                text.push_str(&format!("\n  … {} more (use -v)", c.details.len() - limit));
            }
            if let Some(v) = &c.violations {
                text.push('\n');
                text.push_str(&violations_text(v));
            }
            t.add_row(vec![(i + 1).to_string(), action, target(c), text]);
        }
        out.push_str(&format!("{t}\n"));
        let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
        let destructive = plan.destructive().count();
        let blocked = count(Action::Blocked);
        let mut line = format!("Plan: {} change(s)", plan.changes.len() - blocked);
        if destructive > 0 {
            line.push_str(&format!(", {destructive} destructive (⚠)"));
        }
        if blocked > 0 {
            line.push_str(&format!(", {blocked} blocked (cannot be applied in place)"));
        }
        out.push_str(&format!("{line}.\n"));
    }
    if !plan.migrations.is_empty() {
        out.push_str(&migrate::pending_text(&plan.migrations));
    }
    if !plan.unmanaged.is_empty() && !prune {
        let mut t = table(&["unmanaged", "target"]);
        for u in &plan.unmanaged {
            let mut what = u.target();
            if u.protected {
                what.push_str(" (connected as; never dropped)");
            }
            t.add_row(vec![u.kind.to_string(), what]);
        }
        out.push_str(&format!("{t}\n"));
        out.push_str(&format!(
            "{} unmanaged object(s) exist live but are not declared; `--prune` drops them.\n",
            plan.unmanaged.len()
        ));
    }
    if let Some(fleet) = &plan.tenants {
        out.push_str(&tenants::fleet_text(fleet, prune, verbose));
    }
    out.push_str(&query_contracts::warnings_text(&plan.contract_warnings));
    out
}

/// What a validator change does to the documents already stored: how many violate it, what
/// the server will do about them, and the samples as `verify` shows them.
pub fn violations_text(v: &Violations) -> String {
    let mut text = format!("{} stored document(s) violate the new validator", v.count);
    if v.count == 0 {
        return text;
    }
    text.push_str(match (v.validation_level.as_str(), v.validation_action.as_str()) {
        ("moderate", _) => {
            " (validationLevel moderate: the server checks only documents that already pass, so these stay writable as they are)"
        }
        (_, "warn") => " (validationAction warn: writes to them are logged, not rejected)",
        _ => " (validationAction error: writes to them will be rejected)",
    });
    for line in verify::samples_text(&v.samples, v.count).lines() {
        text.push_str("\n  ");
        text.push_str(line);
    }
    text
}

/// Why `apply` runs nothing: each refused validator change with its violators, and the ways on.
pub fn violations_refused(plan: &Plan, refusal: &crate::validator_gate::Refusal) -> String {
    let mut text = format!(
        "{} validator change(s) would reject documents already stored; nothing was applied",
        refusal.refused.len()
    );
    for &i in &refusal.refused {
        let c = &plan.changes[i];
        let Some(v) = &c.violations else { continue };
        text.push_str(&format!(
            "\n  step {} {} {}: {} stored document(s) violate it",
            i + 1,
            c.action.label(),
            crate::validator_gate::namespace(c),
            v.count
        ));
        for line in verify::samples_text(&v.samples, v.count).lines() {
            text.push_str("\n    ");
            text.push_str(line);
        }
    }
    text.push_str("\nfix those documents, or rerun with --warn-first (set a new $jsonSchema at validationAction warn; a later apply promotes it to error) or --allow-violations (apply anyway; the documents stay as they are)");
    text
}

/// A progress bar over apply steps, or nothing when progress is off.
pub struct ApplyProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl ApplyProgress {
    pub fn new(total: usize, show: bool, quiet: bool) -> Self {
        let bar = show.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{pos}/{len}] {elapsed_precise} {prefix} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        ApplyProgress { bar, quiet }
    }

    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    pub fn on_event(&self, e: Event) {
        match (&self.bar, e) {
            (Some(b), Event::Started { label, .. }) => {
                b.set_prefix("");
                b.set_message(label);
            }
            (Some(b), Event::IndexBuild { done, total }) if total > 0 => {
                b.set_prefix(format!("scan {}%", done * 100 / total))
            }
            (Some(b), Event::Finished { steps, .. }) => b.inc(steps.len() as u64),
            (None, Event::Started { label, .. }) if !self.quiet => eprintln!("… {label}"),
            _ => {}
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// After an apply: on success a one-line summary; on failure every step with its status.
pub fn apply_report(plan: &Plan, report: &ApplyReport) {
    match report.failed() {
        None => println!("Applied {} change(s).", report.done()),
        Some(_) => {
            let mut t = table(&["#", "status", "action", "target", "change"]);
            for (i, (c, s)) in plan.changes.iter().zip(&report.steps).enumerate() {
                let status = match s {
                    StepStatus::Done { .. } => "done".to_string(),
                    StepStatus::Failed { error } => format!("FAILED: {error}"),
                    StepStatus::NotRun => "not run".to_string(),
                };
                t.add_row(vec![
                    (i + 1).to_string(),
                    status,
                    c.action.label().to_string(),
                    target(c),
                    c.summary.clone(),
                ]);
            }
            println!("{t}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, Unmanaged, UnmanagedKind};

    fn change(
        action: Action,
        collection: Option<&str>,
        destructive: bool,
        details: usize,
    ) -> Change {
        Change {
            action,
            database: "shop".into(),
            collection: collection.map(str::to_string),
            index: None,
            destructive,
            summary: format!("{} summary", action.label()),
            details: (1..=details).map(|i| format!("detail {i}")).collect(),
            commands: vec![bson::doc! {"ping": 1}],
            secret: None,
            violations: None,
        }
    }

    fn sample_plan() -> Plan {
        Plan {
            changes: vec![
                change(Action::CreateCollection, Some("orders"), false, 0),
                change(Action::DropIndex, Some("orders"), true, 14),
                change(Action::Blocked, Some("events"), false, 0),
            ],
            unmanaged: vec![Unmanaged {
                kind: UnmanagedKind::User,
                database: "admin".into(),
                collection: None,
                index: None,
                name: Some("ops".into()),
                protected: true,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn empty_plan_says_so_and_nothing_else() {
        assert_eq!(
            plan_text(&Plan::default(), false, false),
            "No changes: the cluster matches the spec.\n"
        );
    }

    #[test]
    fn plan_table_has_one_numbered_row_per_change_and_a_summary_line() {
        let text = plan_text(&sample_plan(), false, false);
        let row = |n: &str, action: &str, target: &str| {
            text.lines().any(|l| {
                let cells: Vec<&str> = l.split('┆').map(str::trim).collect();
                cells.len() >= 4
                    && cells[0].trim_start_matches('│').trim() == n
                    && cells[1] == action
                    && cells[2] == target
            })
        };
        assert!(row("1", "create collection", "shop.orders"), "{text}");
        assert!(row("2", "drop index ⚠", "shop.orders"), "{text}");
        assert!(row("3", "blocked", "shop.events"), "{text}");
        // Details are cut at 12 without -v, with a count of the rest.
        assert!(text.contains("detail 12"), "{text}");
        assert!(!text.contains("detail 13"), "{text}");
        assert!(text.contains("… 2 more (use -v)"), "{text}");
        // Blocked changes are not counted as changes to apply.
        assert!(
            text.contains(
                "Plan: 2 change(s), 1 destructive (⚠), 1 blocked (cannot be applied in place).\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("ops@admin (connected as; never dropped)"),
            "{text}"
        );
        assert!(text.ends_with(
            "1 unmanaged object(s) exist live but are not declared; `--prune` drops them.\n"
        ));
    }

    #[test]
    fn verbose_shows_every_detail_and_prune_hides_unmanaged() {
        let text = plan_text(&sample_plan(), true, true);
        assert!(text.contains("detail 14"), "{text}");
        assert!(!text.contains("more (use -v)"), "{text}");
        assert!(!text.contains("unmanaged"), "{text}");
    }

    #[test]
    fn plan_json_shape() {
        let v = serde_json::to_value(sample_plan()).unwrap();
        let changes = v["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1]["action"], "drop_index");
        assert_eq!(changes[1]["destructive"], true);
        assert_eq!(changes[1]["collection"], "orders");
        assert_eq!(changes[1]["details"].as_array().unwrap().len(), 14);
        // Empty and absent fields are left out rather than null.
        assert!(changes[0].get("details").is_none(), "{v}");
        assert!(changes[0].get("index").is_none(), "{v}");
        assert!(changes[0].get("password_source").is_none(), "{v}");
        assert_eq!(changes[0]["commands"], serde_json::json!([{"ping": 1}]));
        assert_eq!(v["unmanaged"][0]["kind"], "user");
        assert_eq!(v["unmanaged"][0]["name"], "ops");
        assert_eq!(v["unmanaged"][0]["protected"], true);
        assert!(v["unmanaged"][0].get("collection").is_none(), "{v}");
    }
}
