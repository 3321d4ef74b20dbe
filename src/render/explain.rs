//! The output of `explain`: the winning plan as a table, and the index to declare when the
//! query scans the whole collection.

use crate::stats::Explain;

/// `ns` heads the table; `domain` and `collection` name the index file of the hint.
pub fn table(e: &Explain, ns: &str, domain: &str, collection: &str) {
    let mut t = super::table(&["explain", ns]);
    let rows = [
        (
            "filter",
            serde_json::to_string(&e.filter).unwrap_or_default(),
        ),
        (
            "sort",
            e.sort
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default())
                .unwrap_or_else(|| "-".into()),
        ),
        ("plan", e.stages.join(" ← ")),
        (
            "index",
            if e.collscan {
                "⚠ none: COLLSCAN (reads every document)".to_string()
            } else if e.indexes.is_empty() {
                "-".to_string()
            } else if !e.filter_supported && e.suggested_index.is_some() {
                format!(
                    "{} (serves none of the filter's fields)",
                    e.indexes.join(", ")
                )
            } else {
                e.indexes.join(", ")
            },
        ),
        ("keys examined", e.keys_examined.to_string()),
        ("docs examined", e.docs_examined.to_string()),
        ("returned", e.returned.to_string()),
        ("time", format!("{} ms", e.time_ms)),
        ("rejected plans", e.rejected_plans.to_string()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    println!("{t}");
    if let Some(k) = &e.suggested_index {
        let key = serde_json::to_string(k).unwrap_or_default();
        println!(
            "hint: no index supports this filter. Declare one in indexes/{}/{}.json:\n  {{\"key\": {key}}}\nthen run `mongoctl plan` and `mongoctl apply`.",
            domain, collection
        );
    }
}
