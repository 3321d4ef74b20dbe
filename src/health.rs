//! What `health` gathers: can we reach the cluster, what is it, how fast does it answer, who
//! are we. Returns data; `render::health` prints it. Connection failures are classified (DNS,
//! refused, TLS, authentication, timeout) so the message says what to fix.

use std::time::{Duration, Instant};

use anyhow::Result;
use bson::{Document, doc};
use mongodb::Client;
use serde::Serialize;

/// What `health` found on a cluster that answered.
#[derive(Serialize)]
pub struct Health {
    pub uri: String,
    pub server_version: String,
    pub topology: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_set: Option<String>,
    pub members: Vec<Member>,
    pub latency_ms: f64,
    /// The median round trip, unrounded (the table shows it with two decimals).
    #[serde(skip)]
    pub round_trip: Duration,
    pub authenticated_users: Vec<String>,
}

#[derive(Serialize)]
pub struct Member {
    pub host: String,
    pub state: String,
    pub health: String,
}

/// The answer to the first ping decides which of the two a probe is.
pub enum Probe {
    /// The cluster did not answer; the error is classified and scrubbed of secrets.
    Unreachable {
        error: String,
    },
    Reachable(Health),
}

/// Pings the cluster (the median of five steady-state round trips), then reads its version,
/// topology, replica-set members and the authenticated users. `uri` is the URI as shown
/// (without credentials).
pub async fn probe(client: &Client, uri: &str) -> Result<Probe> {
    let admin = client.database("admin");
    let start = Instant::now();
    let ping = admin.run_command(doc! {"ping": 1}).await;
    if let Err(e) = ping {
        return Ok(Probe::Unreachable {
            error: crate::redact::scrub(&crate::error::describe_driver_error(&e)),
        });
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
                if let Ok(list) = status.get_array("members") {
                    members.extend(list.iter().filter_map(|b| b.as_document()).map(member));
                }
            }
            Err(e) => members.push(Member {
                host: "(unavailable)".into(),
                state: format!("replSetGetStatus: {e}"),
                health: "?".into(),
            }),
        }
    }
    let topology = topology(&hello);
    let status = admin.run_command(doc! {"connectionStatus": 1}).await?;
    let users = authenticated_users(&status);
    let health = Health {
        uri: uri.to_string(),
        server_version: build.get_str("version").unwrap_or("?").to_string(),
        topology,
        replica_set: set_name,
        members,
        latency_ms: (latency.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        authenticated_users: users,
        round_trip: latency,
    };
    Ok(Probe::Reachable(health))
}

/// One member of `replSetGetStatus.members`.
fn member(m: &Document) -> Member {
    Member {
        host: m.get_str("name").unwrap_or_default().to_string(),
        state: m.get_str("stateStr").unwrap_or_default().to_string(),
        health: if m.get_f64("health").unwrap_or(0.0) == 1.0 || m.get_i32("health") == Ok(1) {
            "up".into()
        } else {
            "down".into()
        },
    }
}

/// Replica set, mongos or standalone, from the `hello` answer.
fn topology(hello: &Document) -> String {
    match (hello.get_str("setName").ok(), hello.get_str("msg")) {
        (Some(_), _) => "replica set".to_string(),
        (None, Ok("isdbgrid")) => "sharded cluster (mongos)".to_string(),
        _ => "standalone".to_string(),
    }
}

/// `user@db` of each authenticated user in a `connectionStatus` answer.
fn authenticated_users(status: &Document) -> Vec<String> {
    status
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
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_health_accepts_double_and_int_one_only() {
        let up = member(&doc! {"name": "h:1", "stateStr": "PRIMARY", "health": 1.0});
        assert_eq!(
            (up.host.as_str(), up.state.as_str(), up.health.as_str()),
            ("h:1", "PRIMARY", "up")
        );
        assert_eq!(member(&doc! {"health": 1}).health, "up");
        assert_eq!(member(&doc! {"health": 0.0}).health, "down");
        assert_eq!(member(&doc! {}).health, "down");
    }

    #[test]
    fn topology_from_hello() {
        assert_eq!(
            topology(&doc! {"setName": "rs0", "msg": "isdbgrid"}),
            "replica set"
        );
        assert_eq!(
            topology(&doc! {"msg": "isdbgrid"}),
            "sharded cluster (mongos)"
        );
        assert_eq!(topology(&doc! {"isWritablePrimary": true}), "standalone");
    }

    #[test]
    fn users_from_connection_status() {
        let status = doc! {"authInfo": {"authenticatedUsers": [
            {"user": "root", "db": "admin"}, {"user": "app"}
        ]}};
        assert_eq!(authenticated_users(&status), vec!["root@admin", "app@?"]);
        assert!(authenticated_users(&doc! {"authInfo": {}}).is_empty());
    }
}
