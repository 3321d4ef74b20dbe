//! Query contracts in `verify`'s output (each with its winning plan) and in `plan`'s (the
//! contracts an index change would break).

use crate::plan::ContractWarning;
use crate::query_contract::verify::ContractCheck;

/// The winning plan in one line: stages, index, keys and documents examined, returned.
pub fn plan_line(c: &ContractCheck) -> String {
    let p = &c.plan;
    let index = if p.collscan {
        "COLLSCAN".to_string()
    } else {
        let used = p.used_indexes();
        if used.is_empty() {
            "-".to_string()
        } else {
            used.join(", ")
        }
    };
    format!(
        "{}; index {index}; keys examined {}, docs examined {}, returned {}{}",
        p.stages.join(" ← "),
        p.keys_examined,
        p.docs_examined,
        p.returned,
        if p.stages.iter().any(|s| s == "SORT") {
            "; SORT in memory"
        } else {
            ""
        }
    )
}

/// One row per contract (only breached ones when `quiet`).
pub fn table(checks: &[ContractCheck], quiet: bool) {
    let rows: Vec<&ContractCheck> = checks.iter().filter(|c| !quiet || !c.ok()).collect();
    if rows.is_empty() {
        return;
    }
    let mut t = super::table(&["query contract", "collection", "result", "winning plan"]);
    for c in rows {
        let mut text = plan_line(c);
        for b in &c.breaches {
            text.push_str(&format!("\n✗ {b}"));
        }
        t.add_row(vec![
            format!("{}\n{}:{}", c.name, c.file, c.line),
            format!("{}.{}", c.database, c.collection),
            if c.ok() { "met" } else { "BREACHED" }.to_string(),
            text,
        ]);
    }
    println!("{t}");
}

/// The annotation message of a breached contract.
pub fn breach_message(c: &ContractCheck) -> String {
    let mut msg = format!(
        "query contract \"{}\" on {}.{} breached",
        c.name, c.database, c.collection
    );
    for b in &c.breaches {
        msg.push_str(&format!("\n  {b}"));
    }
    msg.push_str(&format!("\n  winning plan: {}", plan_line(c)));
    msg
}

/// `plan`'s warnings, one per contract an index change breaks.
pub fn warnings_text(warnings: &[ContractWarning]) -> String {
    let mut out = String::new();
    for w in warnings {
        out.push_str(&format!(
            "⚠ query contract \"{}\" ({}:{}): {}\n",
            w.contract, w.file, w.line, w.message
        ));
    }
    out
}
