//! `health`: can we reach the cluster, what is it, how fast does it answer, who are we.
//! Connection failures are classified (DNS, refused, TLS, authentication, timeout) so the
//! message says what to fix.

use std::time::{Duration, Instant};

use anyhow::Result;
use bson::{Document, doc};
use serde::Serialize;

use crate::context::Ctx;
use crate::exit::{ERROR, Reported, SUCCESS};
use crate::render;

#[derive(Serialize)]
pub struct Health {
    pub uri: String,
    pub server_version: String,
    pub topology: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_set: Option<String>,
    pub members: Vec<Member>,
    pub latency_ms: f64,
    pub authenticated_users: Vec<String>,
}

#[derive(Serialize)]
pub struct Member {
    pub host: String,
    pub state: String,
    pub health: String,
}

pub async fn run(ctx: &Ctx) -> Result<u8> {
    let ws = crate::spec::load(&ctx.global.spec).workspace;
    let (client, choice) = ctx.connect(ws.as_ref()).await?;
    let admin = client.database("admin");
    let start = Instant::now();
    let ping = admin.run_command(doc! {"ping": 1}).await;
    if let Err(e) = ping {
        let msg = crate::redact::scrub(&crate::error::describe_driver_error(&e));
        if ctx.json() {
            render::json(&serde_json::json!({"ok": false, "uri": choice.shown, "error": msg}));
        } else {
            eprintln!("error: {}: {msg}", choice.shown);
        }
        return Err(Reported(ERROR).into());
    }
    // The first ping includes connection set-up; measure steady-state round trips.
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        admin.run_command(doc! {"ping": 1}).await?;
        samples.push(t.elapsed());
    }
    samples.sort();
    let latency = samples
        .get(samples.len() / 2)
        .copied()
        .unwrap_or_else(|| start.elapsed());

    let build = admin.run_command(doc! {"buildInfo": 1}).await?;
    let hello = admin.run_command(doc! {"hello": 1}).await?;
    let set_name = hello.get_str("setName").ok().map(str::to_string);
    let mut members = Vec::new();
    if set_name.is_some() {
        match admin.run_command(doc! {"replSetGetStatus": 1}).await {
            Ok(status) => {
                for m in status
                    .get_array("members")
                    .map(|a| {
                        a.iter()
                            .filter_map(|b| b.as_document())
                            .cloned()
                            .collect::<Vec<Document>>()
                    })
                    .unwrap_or_default()
                {
                    members.push(Member {
                        host: m.get_str("name").unwrap_or_default().to_string(),
                        state: m.get_str("stateStr").unwrap_or_default().to_string(),
                        health: if m.get_f64("health").unwrap_or(0.0) == 1.0
                            || m.get_i32("health") == Ok(1)
                        {
                            "up".into()
                        } else {
                            "down".into()
                        },
                    });
                }
            }
            Err(e) => members.push(Member {
                host: "(unavailable)".into(),
                state: format!("replSetGetStatus: {e}"),
                health: "?".into(),
            }),
        }
    }
    let topology = match (&set_name, hello.get_str("msg")) {
        (Some(_), _) => "replica set".to_string(),
        (None, Ok("isdbgrid")) => "sharded cluster (mongos)".to_string(),
        _ => "standalone".to_string(),
    };
    let status = admin.run_command(doc! {"connectionStatus": 1}).await?;
    let users = status
        .get_document("authInfo")
        .and_then(|a| a.get_array("authenticatedUsers"))
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_document())
                .map(|u| {
                    format!(
                        "{}@{}",
                        u.get_str("user").unwrap_or("?"),
                        u.get_str("db").unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let health = Health {
        uri: choice.shown,
        server_version: build.get_str("version").unwrap_or("?").to_string(),
        topology,
        replica_set: set_name,
        members,
        latency_ms: (latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        authenticated_users: users,
    };
    if ctx.json() {
        render::json(&serde_json::json!({"ok": true, "health": health}));
    } else {
        print_health(&health, latency);
    }
    Ok(SUCCESS)
}

fn print_health(h: &Health, latency: Duration) {
    let mut t = render::table(&["check", "result"]);
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
        let mut m = render::table(&["member", "state", "health"]);
        for x in &h.members {
            m.add_row(vec![x.host.clone(), x.state.clone(), x.health.clone()]);
        }
        println!("{m}");
    }
}
