//! `sandbox`: up → health → up again (no-op) → down leaves no process; auth secrets stay in
//! 0600 files; a port in use is a clear error.

use std::os::unix::fs::PermissionsExt;

use crate::support::{free_ports_below_ephemeral, mongoctl, repo};

fn pids(state: &serde_json::Value) -> Vec<u32> {
    state["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pid"].as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn up_is_idempotent_and_down_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sbx");
    let d = d.to_str().unwrap();
    let up = mongoctl(&repo(), &["sandbox", "up", "--dir", d, "-o", "json"]).run();
    up.expect_code(0);
    let state = up.json();
    let uri = state["uri"].as_str().unwrap().to_string();
    assert!(uri.contains("replicaSet=rs0"), "{uri}");
    let members = pids(&state);
    assert!(members.iter().all(|p| mongoctl::mongod::pid_is_running(*p)));

    let again = mongoctl(&repo(), &["sandbox", "up", "--dir", d, "-o", "json"]).run();
    again.expect_code(0);
    assert_eq!(again.json()["uri"], uri.as_str());
    assert_eq!(pids(&again.json()), members, "a second up starts nothing");
    let quiet = mongoctl(&repo(), &["sandbox", "up", "--dir", d, "-q"]).run();
    assert_eq!(quiet.stdout.trim(), format!("export MONGODB_URI='{uri}'"));

    let health = mongoctl(&repo(), &["health", "-o", "json"]).uri(&uri).run();
    health.expect_code(0);
    assert_eq!(health.json()["health"]["members"][0]["state"], "PRIMARY");
    let status = mongoctl(&repo(), &["sandbox", "status", "--dir", d, "-o", "json"]).run();
    assert_eq!(status.json()["members"][0]["state"], "PRIMARY");

    mongoctl(&repo(), &["sandbox", "down", "--dir", d, "--purge"])
        .run()
        .expect_code(0);
    assert!(
        members
            .iter()
            .all(|p| !mongoctl::mongod::pid_is_running(*p)),
        "mongod still running after down"
    );
    assert!(!std::path::Path::new(d).exists());
}

#[test]
fn auth_sandbox_keeps_the_password_in_private_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sbx");
    let ds = d.to_str().unwrap();
    let up = mongoctl(&repo(), &["sandbox", "up", "--dir", ds, "--auth"]).run();
    up.expect_code(0);
    let creds = std::fs::read_to_string(d.join("credentials")).unwrap();
    let password = creds
        .lines()
        .find_map(|l| l.strip_prefix("password="))
        .unwrap()
        .to_string();
    assert!(password.len() >= 20);
    assert!(!up.all().contains(&password), "up printed the password");
    for f in ["credentials", "uri", "keyfile"] {
        let mode = std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let uri = std::fs::read_to_string(d.join("uri")).unwrap();
    let health = mongoctl(&repo(), &["health", "-o", "json"])
        .uri(uri.trim())
        .run();
    health.expect_code(0);
    assert!(!health.all().contains(&password));
    assert_eq!(
        health.json()["health"]["authenticated_users"][0],
        "root@admin"
    );
    // Without credentials the server refuses.
    let anon = mongoctl(&repo(), &["list"])
        .uri(
            up.stdout
                .lines()
                .find_map(|l| l.strip_prefix("URI: "))
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap(),
        )
        .run();
    anon.expect_code(1);
    let down = mongoctl(&repo(), &["sandbox", "down", "--dir", ds, "--purge"]).run();
    down.expect_code(0);
    assert!(!down.all().contains(&password));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sbx");
    let out = mongoctl(
        &repo(),
        &[
            "sandbox",
            "up",
            "--dir",
            d.to_str().unwrap(),
            "--port",
            &port,
        ],
    )
    .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains(&format!("port {port} is in use")),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn up_restarts_a_sandbox_whose_processes_are_gone_keeping_its_data() {
    use bson::{Document, doc};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sbx");
    let d = d.to_str().unwrap();
    // Ports no parallel test's server can take while this sandbox is down.
    let port = free_ports_below_ephemeral(1).to_string();
    let up = mongoctl(
        &repo(),
        &["sandbox", "up", "--dir", d, "--port", &port, "-o", "json"],
    )
    .run();
    up.expect_code(0);
    let state = up.json();
    let uri = state["uri"].as_str().unwrap().to_string();
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    client
        .database("t")
        .collection::<Document>("c")
        .insert_one(doc! {"kept": true})
        .await
        .unwrap();
    client.shutdown().await;
    // The processes disappear (a reboot, a kill): `up` restarts them on the same ports.
    for pid in pids(&state) {
        // SAFETY: sending SIGTERM to the sandbox's own mongod processes.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pids(&state)
        .iter()
        .any(|p| mongoctl::mongod::pid_is_running(*p))
    {
        assert!(std::time::Instant::now() < deadline, "mongod did not stop");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let again = mongoctl(&repo(), &["sandbox", "up", "--dir", d]).run();
    again.expect_code(0);
    assert!(again.stdout.contains("Sandbox resumed"), "{}", again.stdout);
    let status = mongoctl(&repo(), &["sandbox", "status", "--dir", d, "-o", "json"]).run();
    let status = status.json();
    assert_eq!(status["uri"], uri.as_str());
    assert_eq!(status["members"][0]["state"], "PRIMARY");
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let n = client
        .database("t")
        .collection::<Document>("c")
        .count_documents(doc! {"kept": true})
        .await
        .unwrap();
    client.shutdown().await;
    assert_eq!(n, 1, "data survives the restart");
    mongoctl(&repo(), &["sandbox", "down", "--dir", d, "--purge"])
        .run()
        .expect_code(0);
}
