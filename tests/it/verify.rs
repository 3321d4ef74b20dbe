//! `verify`: check, drift and data conformance in one CI gate, against a real server.

use bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::error::{ErrorKind, WriteFailure};

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo, write};

/// A private copy of the repository's workspace limited to what this issue manages
/// (domains, schemas, indexes, seeds): access control (roles/users) is left out.
pub fn collections_only_copy(src: &std::path::Path) -> tempfile::TempDir {
    let dir = copy_workspace(src);
    let path = dir.path().join("mongoctl.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let top = m.as_object_mut().unwrap();
    top.retain(|k, _| {
        [
            "project",
            "metadataDatabase",
            "defaultEnvironment",
            "environments",
            "domains",
            "commonIndexes",
            "sharding",
        ]
        .contains(&k.as_str())
    });
    // Without the tenant source, template domains go too.
    if let Some(domains) = top.get_mut("domains").and_then(|d| d.as_object_mut()) {
        for (name, _) in domains.iter().filter(|(_, d)| d.get("tenancy").is_some()) {
            for part in ["schemas", "indexes", "seeds"] {
                let _ = std::fs::remove_dir_all(dir.path().join(part).join(name));
            }
        }
        domains.retain(|_, d| d.get("tenancy").is_none());
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    dir
}

#[tokio::test]
async fn a_clean_cluster_passes_and_an_out_of_band_validator_change_is_drift() {
    let server = common::standalone().await;
    let copy = collections_only_copy(&repo());
    let ws = copy.path().to_path_buf();
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    let out = mongoctl(&ws, &["verify"]).uri(&server.uri()).run();
    out.expect_code(0);
    assert!(out.stdout.contains("verify ok"), "{}", out.stdout);
    let j = mongoctl(&ws, &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    j.expect_code(0);
    let report = j.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["violating_documents"], 0);
    let checked = report["conformance"].as_array().unwrap();
    assert!(
        checked
            .iter()
            .any(|c| c["collection"] == "users" && c["schema_file"] == "schemas/auth/users.json"),
        "{checked:?}"
    );

    // Out of band: "role" is no longer required on the server.
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("schemas/auth/users.json")).unwrap())
            .unwrap();
    schema["required"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f != "role");
    let schema = bson::to_document(&schema).unwrap();
    server
        .client()
        .database("reminderdb_auth")
        .run_command(doc! {"collMod": "users", "validator": {"$jsonSchema": schema}})
        .await
        .unwrap();
    server
        .client()
        .database("reminderdb_feedback")
        .run_command(doc! {"collMod": "feedback", "validationAction": "warn"})
        .await
        .unwrap();

    let j = mongoctl(&ws, &["verify", "-o", "json"])
        .uri(&server.uri())
        .run();
    j.expect_code(2);
    let report = j.json();
    assert_eq!(report["ok"], false);
    let changes = report["drift"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let validator = changes
        .iter()
        .find(|c| c["action"] == "update_validator")
        .unwrap();
    assert_eq!(validator["collection"], "users");
    assert!(
        changes
            .iter()
            .any(|c| c["action"] == "update_options" && c["collection"] == "feedback")
    );
    let details = validator["details"].to_string();
    assert!(details.contains("role"), "{details}");

    let gh = mongoctl(&ws, &["verify", "--output", "github"])
        .uri(&server.uri())
        .run();
    gh.expect_code(2);
    let line = gh
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation:\n{}", gh.stdout));
    assert!(
        line.starts_with("::error file=")
            && line.contains("schemas/auth/users.json,line=1,")
            && line.contains("::drift: update validator reminderdb_auth.users")
            && line.contains("role"),
        "{line}"
    );
    // An option change points at the collection's entry in the manifest.
    let opt = gh
        .stdout
        .lines()
        .find(|l| l.contains("::drift: update options reminderdb_feedback.feedback"))
        .unwrap_or_else(|| panic!("{}", gh.stdout));
    let line: usize = opt
        .split("mongoctl.json,line=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{opt}"));
    let manifest = std::fs::read_to_string(ws.join("mongoctl.json")).unwrap();
    assert!(line > 1, "{opt}");
    assert!(
        manifest
            .lines()
            .nth(line - 1)
            .unwrap()
            .contains("\"feedback\""),
        "line {line} of the manifest: {opt}"
    );
    assert!(gh.stdout.contains("verify FAILED"), "{}", gh.stdout);
}

/// `(document path, keyword)` pairs from the server's `errInfo.details` of a failed insert.
fn server_reasons(node: &Document, path: &str, out: &mut Vec<(String, String)>) {
    let op = node.get_str("operatorName").unwrap_or_default();
    match op {
        "$jsonSchema" => {
            for r in node.get_array("schemaRulesNotSatisfied").unwrap() {
                server_reasons(r.as_document().unwrap(), path, out);
            }
        }
        "properties" => {
            for p in node.get_array("propertiesNotSatisfied").unwrap() {
                let p = p.as_document().unwrap();
                let name = p.get_str("propertyName").unwrap();
                let child = if path == "$" {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                };
                for d in p.get_array("details").unwrap() {
                    server_reasons(d.as_document().unwrap(), &child, out);
                }
            }
        }
        other => out.push((path.to_string(), other.to_string())),
    }
}

fn valid_user(n: i32) -> Document {
    doc! {
        "_id": ObjectId::new(),
        "email": format!("user{n}@example.org"),
        "hashed_password": "$2b$12$abcdefghijklmnopqrstuv",
        "full_name": "Test User",
        "role": "doctor",
        "is_active": true,
        "approval_status": "approved",
        "created_at": DateTime::now(),
    }
}

#[tokio::test]
async fn violating_documents_are_counted_and_explained_like_the_server() {
    let server = common::standalone().await;
    let copy = collections_only_copy(&repo());
    let ws = copy.path().to_path_buf();
    mongoctl(&ws, &["apply", "--domain", "auth"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let users = server
        .client()
        .database("reminderdb_auth")
        .collection::<Document>("users");
    users.insert_one(valid_user(1)).await.unwrap();

    let mut bad = Vec::new();
    let mut d = valid_user(2);
    d.insert("role", "wizard");
    bad.push(d);
    let mut d = valid_user(3);
    d.remove("email");
    bad.push(d);
    let mut d = valid_user(4);
    d.insert("is_active", "yes");
    bad.push(d);
    let mut d = valid_user(5);
    d.insert("employee_id", "bad id");
    d.insert("permissions", vec![Bson::from("read"), Bson::from("read")]);
    bad.push(d);
    let mut d = valid_user(6);
    d.insert("full_name", "");
    d.remove("created_at");
    bad.push(d);

    // What the server itself says about each document.
    let mut expected = std::collections::BTreeMap::new();
    for d in &bad {
        let mut probe = d.clone();
        probe.insert("_id", ObjectId::new());
        let err = users
            .insert_one(probe)
            .await
            .expect_err("the server must reject the document");
        let info = match *err.kind {
            ErrorKind::Write(WriteFailure::WriteError(w)) => w.details.expect("errInfo"),
            other => panic!("unexpected error {other:?}"),
        };
        let mut reasons = Vec::new();
        server_reasons(info.get_document("details").unwrap(), "$", &mut reasons);
        reasons.sort();
        expected.insert(d.get_object_id("_id").unwrap().to_hex(), reasons);
        users
            .insert_one(d.clone())
            .bypass_document_validation(true)
            .await
            .unwrap();
    }

    let j = mongoctl(
        &ws,
        &[
            "verify",
            "--domain",
            "auth",
            "--samples",
            "10",
            "-o",
            "json",
        ],
    )
    .uri(&server.uri())
    .run();
    j.expect_code(2);
    let report = j.json();
    assert_eq!(report["violating_documents"], bad.len());
    assert!(report["drift"]["changes"].as_array().unwrap().is_empty());
    let c = report["conformance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collection"] == "users")
        .unwrap();
    assert_eq!(c["violating"], bad.len());
    let samples = c["samples"].as_array().unwrap();
    assert_eq!(samples.len(), bad.len());
    for s in samples {
        let id = s["_id"]["$oid"].as_str().unwrap().to_string();
        let mut offline: Vec<(String, String)> = s["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap().to_string(),
                    r["keyword"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        offline.sort();
        assert_eq!(
            &offline, &expected[&id],
            "document {id}: offline explanation differs from the server's errInfo ({s})"
        );
    }
    // The missing email is named; the schema line points at the failing rule.
    let hex = |i: usize| bad[i].get_object_id("_id").unwrap().to_hex();
    let missing = samples.iter().find(|s| s["_id"]["$oid"] == hex(1)).unwrap();
    assert!(
        missing["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let text = std::fs::read_to_string(ws.join("schemas/auth/users.json")).unwrap();
    let role_sample = samples.iter().find(|s| s["_id"]["$oid"] == hex(0)).unwrap();
    let line = role_sample["reasons"][0]["schema_line"].as_u64().unwrap() as usize;
    assert!(
        text.lines().nth(line - 1).unwrap().contains("\"enum\""),
        "line {line} of users.json is not the role enum"
    );

    // Samples cap the explanations, never the count; GitHub annotations point at the schema.
    let gh = mongoctl(
        &ws,
        &[
            "verify",
            "--domain",
            "auth",
            "--samples",
            "1",
            "-o",
            "github",
        ],
    )
    .uri(&server.uri())
    .run();
    gh.expect_code(2);
    let ann = gh
        .stdout
        .lines()
        .find(|l| l.starts_with("::error file=") && l.contains("schemas/auth/users.json,line="))
        .unwrap_or_else(|| panic!("{}", gh.stdout));
    assert!(
        ann.contains(&format!(
            "::5 document(s) in reminderdb_auth.users violate the declared $jsonSchema%0A  _id {}: role:",
            hex(0)
        )),
        "{ann}"
    );
    let table = mongoctl(&ws, &["verify", "--domain", "auth"])
        .uri(&server.uri())
        .run();
    table.expect_code(2);
    assert!(
        table
            .stdout
            .contains("verify FAILED: 5 document(s) in 1 collection(s) violate their schema"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_workspace_that_fails_check_stops_verify_before_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mongoctl.json",
        r#"{"project": "x", "domains": {"a": {"database": "a_db", "collections": {"c": {"validationLevel": "sometimes"}}}}}"#,
    );
    // No server at all: check must fail first (exit 1), without trying to connect.
    let out = mongoctl(dir.path(), &["verify", "-o", "github"])
        .uri("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100")
        .run();
    out.expect_code(1);
    assert!(
        out.stdout.contains("::error file=") && out.stdout.contains("mongoctl.json,line=1,col="),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("validationLevel"), "{}", out.stdout);
}
