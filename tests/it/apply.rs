//! apply on an empty server, then plan shows nothing; history; failures; scope.

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;
use std::sync::{Arc, Mutex};

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo, write};

#[tokio::test]
async fn default_spec_applies_then_plans_clean_and_records_history() {
    let server = common::standalone().await;
    let ws = repo();
    let secrets = tempfile::tempdir().unwrap();
    let out = mongoctl(&ws, &["apply", "--yes"])
        .uri(&server.uri())
        .secrets_in(secrets.path())
        .run();
    out.expect_code(0);
    assert!(out.stdout.contains("Applied"), "{}", out.stdout);

    let plan = mongoctl(&ws, &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);

    let client = server.client();
    let dbs = client.list_database_names().await.unwrap();
    for d in [
        "analysis",
        "auth",
        "chatbot",
        "data",
        "event",
        "feedback",
        "forecast",
        "notification",
        "optimization",
        "reminder",
        "translation",
    ] {
        assert!(
            dbs.contains(&format!("reminderdb_{d}")),
            "missing reminderdb_{d} in {dbs:?}"
        );
    }
    // What the seed document asks for, as the server reports it.
    let users = client
        .database("reminderdb_auth")
        .collection::<Document>("users");
    let idx: Vec<Document> = users
        .list_indexes()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| bson::to_document(&m).unwrap())
        .collect();
    let email = idx
        .iter()
        .find(|i| i.get_document("key").unwrap().contains_key("email"))
        .expect("email index");
    assert_eq!(email.get_bool("unique").ok(), Some(true), "{email:?}");
    let err = users
        .insert_one(doc! {"email": "x@y.z", "role": "janitor"})
        .await
        .expect_err("validator must reject");
    assert!(
        err.to_string().contains("Document failed validation"),
        "{err}"
    );

    let history = crate::support::all_documents(&client, "mongoctl", "apply_history").await;
    // The default workspace has migrations: one apply records its changes in two parts,
    // around them (the migrations are recorded in their changelog).
    assert_eq!(history.len(), 2, "one apply with migrations = two records");
    let stages: Vec<&str> = history
        .iter()
        .map(|h| h.get_str("stage").unwrap())
        .collect();
    assert_eq!(stages, ["before migrations", "after migrations"]);
    for h in &history {
        assert_eq!(h.get_str("status").unwrap(), "succeeded");
        assert_eq!(h.get_str("project").unwrap(), "healthtech");
    }
    let changes: usize = history
        .iter()
        .map(|h| h.get_array("changes").unwrap().len())
        .sum();
    assert!(changes > 100, "{changes}");
    let log: Vec<Document> = client
        .database("mongoctl")
        .collection::<Document>("migrations")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter()
            .all(|m| m.get_str("status").unwrap() == "applied")
    );

    // A second apply has nothing to do and records nothing.
    let again = mongoctl(&ws, &["setup"]).uri(&server.uri()).run();
    again.expect_code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    let n = client
        .database("mongoctl")
        .collection::<Document>("apply_history")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(n, 2, "a converged re-run records nothing");
}

#[tokio::test]
async fn every_example_applies_then_plans_clean() {
    // One server per example: users and roles are cluster-wide.
    for example in ["carechat", "chat-platform", "illajwala", "nilecare"] {
        let server = common::standalone().await;
        let ws = repo().join("examples").join(example);
        mongoctl(&ws, &["check"]).run().expect_code(0);
        // chat-platform declares sharding; without a mongos it is listed, not sent.
        let out = mongoctl(&ws, &["apply", "--skip-sharding"])
            .uri(&server.uri())
            .run();
        out.expect_code(0);
        let plan = mongoctl(&ws, &["plan", "--exit-code", "-o", "json"])
            .uri(&server.uri())
            .run();
        plan.expect_code(0);
        let p = plan.json();
        assert_eq!(
            p["changes"].as_array().unwrap().len(),
            0,
            "{example}: {}",
            plan.stdout
        );
        assert_eq!(
            p["unmanaged"].as_array().unwrap().len(),
            0,
            "{example}: {}",
            plan.stdout
        );
    }
}

#[tokio::test]
async fn apply_on_a_replica_set_converges_too() {
    let server = common::replica_set(1).await;
    let ws = repo().join("examples").join("carechat");
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let plan = mongoctl(&ws, &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
}

/// The command monitoring proof: an idempotent re-apply, run in-process through the same
/// command code as the CLI, sends only reads.
#[tokio::test]
async fn idempotent_reapply_sends_no_write_commands() {
    let server = common::standalone().await;
    let ws = repo();
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .secrets_in(tempfile::tempdir().unwrap().path())
        .run()
        .expect_code(0);

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut opts = ClientOptions::parse(server.uri()).await.unwrap();
    let sink = seen.clone();
    opts.command_event_handler = Some(mongodb::event::EventHandler::callback(
        move |e: CommandEvent| {
            if let CommandEvent::Started(s) = e {
                sink.lock().unwrap().push(s.command_name.clone());
            }
        },
    ));
    let client = mongodb::Client::with_options(opts).unwrap();
    let cli = <mongoctl::cli::Cli as clap::Parser>::parse_from([
        "mongoctl",
        "--spec",
        ws.to_str().unwrap(),
        "apply",
    ]);
    let ctx = mongoctl::context::Ctx::with_client(cli.global, client);
    let code = mongoctl::commands::run(cli.command, &ctx).await.unwrap();
    assert_eq!(code, 0);
    let names = seen.lock().unwrap().clone();
    assert!(
        names.iter().any(|n| n == "listIndexes"),
        "the re-apply must inspect the server: {names:?}"
    );
    let reads = [
        "listDatabases",
        "listCollections",
        "listIndexes",
        "find",
        "getMore",
        "usersInfo",
        "rolesInfo",
        "connectionStatus",
        "hello",
        "isMaster",
        "ping",
        "endSessions",
        "killCursors",
        "buildInfo",
    ];
    let writes: Vec<&String> = names
        .iter()
        .filter(|n| !reads.contains(&n.as_str()))
        .collect();
    assert!(
        writes.is_empty(),
        "re-apply sent non-read commands: {writes:?}"
    );
}

#[tokio::test]
async fn failed_apply_says_what_ran_and_a_rerun_converges() {
    let server = common::standalone().await;
    let client = server.client();
    // Existing data that violates the declared unique index on users.email.
    let users = client
        .database("reminderdb_auth")
        .collection::<Document>("users");
    users
        .insert_many([doc! {"email": "dup@x.org"}, doc! {"email": "dup@x.org"}])
        .await
        .unwrap();

    let ws = repo();
    // The documents also violate the users validator: let apply set it anyway, so that the
    // unique index is what fails.
    let out = mongoctl(&ws, &["apply", "--domain", "auth", "--allow-violations"])
        .uri(&server.uri())
        .run();
    out.expect_code(1);
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
    assert!(out.stdout.contains("not run"), "{}", out.stdout);
    assert!(out.stdout.contains("done"), "{}", out.stdout);
    assert!(
        out.stderr.contains("E11000") || out.stderr.contains("duplicate key"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("run apply again"), "{}", out.stderr);
    // The newest record: the default workspace's migrations split an apply in two parts.
    let rec = client
        .database("mongoctl")
        .collection::<Document>("apply_history")
        .find_one(doc! {})
        .sort(doc! {"started_at": -1})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.get_str("status").unwrap(), "failed");
    assert!(
        rec.get_array("steps")
            .unwrap()
            .iter()
            .any(|s| s.as_str() == Some("not_run"))
    );

    users.delete_one(doc! {"email": "dup@x.org"}).await.unwrap();
    mongoctl(&ws, &["apply", "--domain", "auth"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(&ws, &["plan", "--domain", "auth", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn domain_scope_and_database_name_from_env() {
    let server = common::standalone().await;
    let ws = repo();
    mongoctl(&ws, &["apply", "--domain", "auth"])
        .uri(&server.uri())
        .env("DB_NAME_AUTH", "custom_auth")
        .run()
        .expect_code(0);
    let dbs = server.client().list_database_names().await.unwrap();
    assert!(dbs.contains(&"custom_auth".to_string()), "{dbs:?}");
    assert!(
        !dbs.iter().any(|d| d.starts_with("reminderdb_")),
        "only the auth domain, under its env name: {dbs:?}"
    );

    let list = mongoctl(&ws, &["list", "-o", "json"])
        .uri(&server.uri())
        .env("DB_NAME_AUTH", "custom_auth")
        .run();
    list.expect_code(0);
    let rows = list.json();
    let auth = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["domain"] == "auth")
        .unwrap();
    assert_eq!(auth["database"], "custom_auth");
    assert_eq!(auth["database_source"], "env DB_NAME_AUTH");
    assert_eq!(auth["exists"], true);
    assert_eq!(auth["missing"].as_array().unwrap().len(), 0);
    let feedback = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["domain"] == "feedback")
        .unwrap();
    assert_eq!(feedback["exists"], false);

    // The manifest's environments: a prefix and the URI variable.
    let tmp = copy_workspace(&ws);
    let m = std::fs::read_to_string(tmp.path().join("mongoctl.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&m).unwrap();
    v["environments"]["ci"] = serde_json::json!({"uriEnv": "CI_MONGO", "databasePrefix": "ci_"});
    write(
        tmp.path(),
        "mongoctl.json",
        &serde_json::to_string_pretty(&v).unwrap(),
    );
    mongoctl(
        tmp.path(),
        &["--env", "ci", "apply", "--domain", "feedback"],
    )
    .env("CI_MONGO", &server.uri())
    .run()
    .expect_code(0);
    let dbs = server.client().list_database_names().await.unwrap();
    assert!(
        dbs.contains(&"ci_reminderdb_feedback".to_string()),
        "{dbs:?}"
    );
}

/// A one-domain workspace: `t_spec.items`, with the given schema and seed files.
fn items_workspace(schema: Option<&str>, seeds: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mongoctl.json",
        r#"{"project": "t", "domains": {"spec": {"database": "t_spec", "collections": {"items": {}}}}}"#,
    );
    if let Some(s) = schema {
        write(dir.path(), "schemas/spec/items.json", s);
    }
    if let Some(s) = seeds {
        write(dir.path(), "seeds/spec/items.json", s);
    }
    dir
}

#[tokio::test]
async fn seeds_adding_up_to_more_than_20_mb_apply_in_batches_by_size() {
    let server = common::standalone().await;
    // 24 documents of ~1 MB: one 500-document batch was a 24 MB insert the server refused.
    let blob = "x".repeat(1_000_000);
    let docs: Vec<String> = (0..24)
        .map(|i| format!(r#"{{"code": "c{i}", "blob": "{blob}"}}"#))
        .collect();
    let seeds = format!(
        r#"{{"key": ["code"], "documents": [{}]}}"#,
        docs.join(",\n")
    );
    let ws = items_workspace(None, Some(&seeds));
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    let out = mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    let items = server
        .client()
        .database("t_spec")
        .collection::<Document>("items");
    assert_eq!(items.count_documents(doc! {}).await.unwrap(), 24);
    let plan = mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[tokio::test]
async fn a_lookaround_pattern_passes_check_and_verify_agrees_with_the_server() {
    let server = common::standalone().await;
    let schema = r#"{"bsonType": "object", "properties": {"handle": {"bsonType": "string", "pattern": "^(?=.*[0-9])(?=.*[a-z]).{6,}$"}}}"#;
    let seeds = r#"{"key": ["code"], "documents": [{"code": "a", "handle": "abc123"}]}"#;
    let ws = items_workspace(Some(schema), Some(seeds));
    mongoctl(ws.path(), &["check"]).run().expect_code(0);
    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let verify = mongoctl(ws.path(), &["verify"]).uri(&server.uri()).run();
    verify.expect_code(0);

    let items = server
        .client()
        .database("t_spec")
        .collection::<Document>("items");
    items
        .insert_one(doc! {"code": "b", "handle": "zz9zz9"})
        .await
        .expect("the server accepts a matching value");
    let bad = doc! {"code": "c", "handle": "abcdefgh"};
    items
        .insert_one(bad.clone())
        .await
        .expect_err("the server refuses a value without a digit");
    items
        .insert_one(bad)
        .bypass_document_validation(true)
        .await
        .unwrap();
    let j = mongoctl(ws.path(), &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    j.expect_code(2);
    assert_eq!(j.json()["violating_documents"], 1, "{}", j.stdout);
}
