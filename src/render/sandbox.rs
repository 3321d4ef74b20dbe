//! The output of `sandbox`: what `up` started, the members' states, stop messages, log tails.

use std::path::Path;

use crate::sandbox::{self, Member, SandboxState};

/// The sandbox that `up` started (or found): JSON, the export line alone (`--quiet`, for
/// `eval`), or a few lines for people.
pub fn announce(dir: &Path, state: &SandboxState, verb: &str, as_json: bool, quiet: bool) {
    if as_json {
        super::json(
            &serde_json::json!({"dir": dir, "uri": state.uri, "auth": state.auth, "members": state.members, "export": sandbox::export_line(dir, state)}),
        );
    } else if quiet {
        println!("{}", sandbox::export_line(dir, state));
    } else {
        println!(
            "Sandbox {verb}: replica set {} with {} member(s) in {}",
            state.repl_set,
            state.members.len(),
            dir.display()
        );
        println!(
            "URI: {}{}",
            state.uri,
            if state.auth {
                "  (credentials in credentials / uri files, 0600)"
            } else {
                ""
            }
        );
        println!("{}", sandbox::export_line(dir, state));
    }
}

/// One row per member with its state (`roles`, from `sandbox::member_states`), and the URI.
pub fn status(dir: &Path, state: &SandboxState, alive: &[bool], roles: &[String], as_json: bool) {
    if as_json {
        let members: Vec<_> = state
            .members
            .iter()
            .zip(roles)
            .map(|(m, r)| serde_json::json!({"port": m.port, "pid": m.pid, "state": r}))
            .collect();
        super::json(
            &serde_json::json!({"dir": dir, "uri": state.uri, "auth": state.auth, "running": alive.iter().all(|a| *a), "members": members}),
        );
    } else {
        let mut t = super::table(&["member", "pid", "state"]);
        for (m, r) in state.members.iter().zip(roles) {
            t.add_row(vec![
                format!("127.0.0.1:{}", m.port),
                m.pid.to_string(),
                r.clone(),
            ]);
        }
        println!("{t}");
        println!("URI: {}", state.uri);
    }
}

/// After `down`: whether there was a sandbox, and whether its data went too.
pub fn down(dir: &Path, stopped: bool, purge: bool) {
    if !stopped {
        println!("No sandbox running in {}.", dir.display());
        return;
    }
    println!(
        "Sandbox stopped{}.",
        if purge { " and its data deleted" } else { "" }
    );
}

/// `==> 127.0.0.1:PORT (LOG) <==` before a member's log lines, as `tail` does.
pub fn log_header(m: &Member) {
    println!("==> 127.0.0.1:{} ({}) <==", m.port, m.log.display());
}

pub fn lines(lines: &[String]) {
    for l in lines {
        println!("{l}");
    }
}
