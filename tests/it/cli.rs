//! CLI behaviour: health and its failure messages, secrets never printed, spec-schema,
//! usage errors.

use crate::common;
use crate::support::{mongoctl, refusing_port, repo};

#[tokio::test]
async fn health_reports_a_replica_set_and_its_members() {
    let server = common::replica_set(1).await;
    let out = mongoctl(&repo(), &["health", "-o", "json"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    let h = &out.json()["health"];
    assert_eq!(h["topology"], "replica set");
    assert_eq!(h["replica_set"], "rs0");
    assert_eq!(
        h["server_version"].as_str().unwrap().split('.').next(),
        Some("6")
    );
    assert_eq!(h["members"][0]["state"], "PRIMARY");
    assert!(h["latency_ms"].as_f64().unwrap() > 0.0);

    let table = mongoctl(&repo(), &["health"]).uri(&server.uri()).run();
    assert!(
        table.stdout.contains("replica set (rs0)") && table.stdout.contains("PRIMARY"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn health_names_the_cause_of_a_connection_failure() {
    let closed = refusing_port();
    let uri = format!(
        "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=1500",
        closed.port
    );
    let out = mongoctl(&repo(), &["health"]).uri(&uri).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("unreachable: connection refused"),
        "{}",
        out.stderr
    );

    let out = mongoctl(&repo(), &["health"])
        .uri("mongodb://no-such-host.invalid:27017/?serverSelectionTimeoutMS=1500")
        .run();
    out.expect_code(1);
    assert!(out.stderr.contains("DNS lookup failed"), "{}", out.stderr);

    // TLS asked of a server that does not speak it.
    let server = common::standalone().await;
    let port = server.ports()[0];
    let out = mongoctl(&repo(), &["health"])
        .uri(&format!(
            "mongodb://127.0.0.1:{port}/?tls=true&serverSelectionTimeoutMS=1500"
        ))
        .run();
    out.expect_code(1);
    assert!(out.stderr.contains("TLS failure"), "{}", out.stderr);

    // A listener that accepts and never answers: a timeout, not "refused".
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let uri =
        format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=1500&connectTimeoutMS=500");
    let out = tokio::task::spawn_blocking(move || mongoctl(&repo(), &["health"]).uri(&uri).run())
        .await
        .unwrap();
    drop(silent);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("timed out waiting for a suitable server"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn passwords_never_appear_in_output_even_on_failure() {
    let server = common::auth_standalone().await;
    let ok_uri = server.uri();
    assert!(ok_uri.contains(common::ROOT_PASSWORD));
    let ws = repo().join("examples").join("illajwala");
    for args in [
        &["health"][..],
        &["apply"],
        &["plan", "-o", "json"],
        &["list"],
    ] {
        let out = mongoctl(&ws, args).uri(&ok_uri).run();
        out.expect_code(0);
        assert!(
            !out.all().contains(common::ROOT_PASSWORD),
            "{args:?} printed the password:\n{}",
            out.all()
        );
    }
    let health = mongoctl(&ws, &["health", "-o", "json"]).uri(&ok_uri).run();
    assert_eq!(
        health.json()["health"]["authenticated_users"][0],
        "root@admin"
    );
    assert!(
        health.json()["health"]["uri"]
            .as_str()
            .unwrap()
            .contains("root:****@")
    );

    let wrong = "Wr0ng-Secret-Pw";
    let bad_uri = ok_uri.replace(common::ROOT_PASSWORD, wrong);
    let out = mongoctl(&ws, &["health"]).uri(&bad_uri).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("authentication failed"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(wrong), "{}", out.all());
    let out = mongoctl(&ws, &["plan"]).uri(&bad_uri).run();
    out.expect_code(1);
    assert!(!out.all().contains(wrong), "{}", out.all());

    // Unauthenticated: the server says so, and we say which credentials are missing.
    let out = mongoctl(&ws, &["plan"])
        .uri(&server.uri_without_credentials())
        .run();
    out.expect_code(1);
    assert!(out.stderr.to_lowercase().contains("auth"), "{}", out.stderr);
}

#[test]
fn missing_uri_names_every_source() {
    let out = mongoctl(&repo(), &["plan"]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("--uri")
            && out.stderr.contains("MONGODB_URI")
            && out.stderr.contains("MONGODB_LOCAL_URI"),
        "{}",
        out.stderr
    );
    let out = mongoctl(&repo(), &["--env", "nope", "plan"]).run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("environment \"nope\" is not declared"),
        "{}",
        out.stderr
    );
    let out = mongoctl(&repo(), &["plan", "--domain", "auht"])
        .env("MONGODB_URI", "mongodb://127.0.0.1:1")
        .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("did you mean \"auth\"?"),
        "{}",
        out.stderr
    );
}

#[test]
fn spec_schema_prints_and_writes_the_editor_schemas() {
    let out = mongoctl(&repo(), &["spec-schema", "manifest"]).run();
    out.expect_code(0);
    let schema = out.json();
    assert!(
        schema["properties"]["domains"].is_object(),
        "{}",
        out.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    mongoctl(
        &repo(),
        &["spec-schema", "--write", dir.path().to_str().unwrap()],
    )
    .run()
    .expect_code(0);
    for f in [
        "manifest.schema.json",
        "indexes.schema.json",
        "seeds.schema.json",
        "migration.schema.json",
        "queries.schema.json",
    ] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
}

#[test]
fn check_is_clean_on_the_default_workspace_and_every_example() {
    for ws in [
        repo(),
        repo().join("examples/carechat"),
        repo().join("examples/chat-platform"),
        repo().join("examples/illajwala"),
        repo().join("examples/reference-data"),
        repo().join("examples/nilecare"),
    ] {
        let out = mongoctl(&ws, &["check", "-o", "json"]).run();
        out.expect_code(0);
        assert_eq!(out.json()["errors"], 0, "{}", out.stdout);
    }
}

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in [
        "check",
        "plan",
        "apply",
        "setup",
        "list",
        "health",
        "spec-schema",
        "sandbox",
        "sandbox up",
        "sandbox status",
        "sandbox down",
        "sandbox logs",
        "migrate",
        "migrate status",
        "migrate plan",
        "migrate up",
        "migrate rollback",
    ] {
        let args: Vec<&str> = sub.split(' ').chain(["--help"]).collect();
        let out = mongoctl(&repo(), &args).run();
        out.expect_code(0);
        assert!(
            out.stdout.contains("Example:"),
            "{sub} --help has no example:\n{}",
            out.stdout
        );
    }
}
