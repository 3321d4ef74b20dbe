//! The output of `health`: a table of checks (and members), or JSON.

use crate::health::Health;

pub fn json(h: &Health) {
    super::json(&serde_json::json!({"ok": true, "health": h}));
}

/// A cluster that did not answer: JSON on stdout, or one line on stderr.
pub fn unreachable(uri: &str, error: &str, as_json: bool) {
    if as_json {
        super::json(&serde_json::json!({"ok": false, "uri": uri, "error": error}));
    } else {
        eprintln!("error: {uri}: {error}");
    }
}

/// The checks as a table, then one row per replica-set member.
pub fn table(h: &Health) {
    let latency = h.round_trip;
    let mut t = super::table(&["check", "result"]);
    t.add_row(vec!["ping".to_string(), "ok".to_string()]);
    t.add_row(vec![
        "server".to_string(),
        format!("MongoDB {}", h.server_version),
    ]);
    t.add_row(vec![
        "topology".to_string(),
        match &h.replica_set {
            Some(s) => format!("{} ({s})", h.topology),
            None => h.topology.clone(),
        },
    ]);
    t.add_row(vec![
        "round trip".to_string(),
        format!("{:.2} ms", latency.as_secs_f64() * 1000.0),
    ]);
    t.add_row(vec![
        "user".to_string(),
        if h.authenticated_users.is_empty() {
            "(not authenticated)".into()
        } else {
            h.authenticated_users.join(", ")
        },
    ]);
    t.add_row(vec!["uri".to_string(), h.uri.clone()]);
    println!("{t}");
    if !h.members.is_empty() {
        let mut m = super::table(&["member", "state", "health"]);
        for x in &h.members {
            m.add_row(vec![x.host.clone(), x.state.clone(), x.health.clone()]);
        }
        println!("{m}");
    }
}
