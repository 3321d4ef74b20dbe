//! Drift: out-of-band changes are detected precisely, converge on apply, and destructive
//! steps (replace, prune) need confirmation.

use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;

use crate::common;
use crate::support::{mongoctl, repo};

/// seeds/auth/roles.json's admin display name.
const ADMIN_DISPLAY_NAME: &str = "Administrator";

pub(crate) fn changes(plan: &serde_json::Value) -> Vec<(String, String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["collection"].as_str().unwrap_or("").to_string(),
                c["index"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn out_of_band_changes_are_detected_precisely_and_converge() {
    let server = common::standalone().await;
    let ws = repo();
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .secrets_in(tempfile::tempdir().unwrap().path())
        .run()
        .expect_code(0);

    let client = server.client();
    let auth = client.database("reminderdb_auth");
    // 1. validator edited: "role" no longer required.
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("schemas/auth/users.json")).unwrap())
            .unwrap();
    schema["required"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f != "role");
    let schema = bson::to_document(&schema).unwrap();
    auth.run_command(doc! {"collMod": "users", "validator": {"$jsonSchema": schema}})
        .await
        .unwrap();
    // 2. declared index dropped; 3. undeclared index added.
    auth.run_command(doc! {"dropIndexes": "users", "index": "employee_id_1"})
        .await
        .unwrap();
    auth.collection::<Document>("users")
        .create_index(IndexModel::builder().keys(doc! {"full_name": 1}).build())
        .await
        .unwrap();
    // 4. option changed.
    client
        .database("reminderdb_feedback")
        .run_command(doc! {"collMod": "feedback", "validationAction": "warn"})
        .await
        .unwrap();
    // 5. seed document modified.
    auth.collection::<Document>("roles")
        .update_one(
            doc! {"name": "admin"},
            doc! {"$set": {"display_name": "Boss"}},
        )
        .await
        .unwrap();

    let plan = mongoctl(&ws, &["plan", "-o", "json", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(2);
    let p = plan.json();
    let mut got = changes(&p);
    got.sort();
    let s = |a: &str, c: &str, i: &str| (a.to_string(), c.to_string(), i.to_string());
    assert_eq!(
        got,
        vec![
            s("create_index", "users", "employee_id_1"),
            s("update_options", "feedback", ""),
            s("update_seed", "roles", ""),
            s("update_validator", "users", "")
        ],
        "{}",
        plan.stdout
    );
    let validator = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update_validator")
        .unwrap();
    assert_eq!(
        validator["details"],
        serde_json::json!(["+ required: \"role\""])
    );
    let seed = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update_seed")
        .unwrap();
    assert_eq!(
        seed["details"],
        serde_json::json!([format!("display_name: \"Boss\" → \"{ADMIN_DISPLAY_NAME}\"")])
    );
    let unmanaged = p["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1);
    assert_eq!(unmanaged[0]["index"], "full_name_1");

    // The table says the same for people.
    let table = mongoctl(&ws, &["plan"]).uri(&server.uri()).run();
    assert!(
        table.stdout.contains("update validator")
            && table.stdout.contains("full_name_1")
            && table.stdout.contains("--prune"),
        "{}",
        table.stdout
    );

    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .secrets_in(tempfile::tempdir().unwrap().path())
        .run()
        .expect_code(0);
    let after = mongoctl(&ws, &["plan", "-o", "json", "--exit-code"])
        .uri(&server.uri())
        .run();
    after.expect_code(0);
    assert_eq!(
        after.json()["unmanaged"].as_array().unwrap().len(),
        1,
        "unmanaged objects stay until --prune"
    );
    let role = auth
        .collection::<Document>("roles")
        .find_one(doc! {"name": "admin"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role.get_str("display_name").unwrap(), ADMIN_DISPLAY_NAME);
}

#[tokio::test]
async fn prune_and_replace_need_confirmation_and_fail_without_a_terminal() {
    let server = common::standalone().await;
    let ws = repo().join("examples").join("carechat");
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let client = server.client();
    let db = client.database("carechat_unified");
    db.create_collection("legacy_users").await.unwrap();
    db.collection::<Document>("legacy_users")
        .insert_one(doc! {"a": 1})
        .await
        .unwrap();

    // Without --prune: listed, not dropped, no confirmation needed.
    let plan = mongoctl(&ws, &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(plan.json()["unmanaged"][0]["collection"], "legacy_users");
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    // With --prune and no terminal: refused before anything runs.
    let out = mongoctl(&ws, &["apply", "--prune"])
        .uri(&server.uri())
        .run();
    out.expect_code(1);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(
        db.list_collection_names()
            .await
            .unwrap()
            .contains(&"legacy_users".to_string())
    );
    assert_eq!(
        client
            .database("mongoctl")
            .collection::<Document>("apply_history")
            .count_documents(doc! {"status": "running"})
            .await
            .unwrap(),
        0
    );

    let out = mongoctl(&ws, &["apply", "--prune", "--yes"])
        .uri(&server.uri())
        .run();
    out.expect_code(0);
    assert!(
        !db.list_collection_names()
            .await
            .unwrap()
            .contains(&"legacy_users".to_string())
    );

    // An index whose options changed out of band is replaced: destructive too.
    let users = db.collection::<Document>("users");
    let phone = users
        .list_index_names()
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.starts_with("phoneNumber"))
        .expect("phone index");
    users.drop_index(&phone).await.unwrap();
    users
        .create_index(
            IndexModel::builder()
                .keys(doc! {"phoneNumber": 1})
                .options(IndexOptions::builder().name(phone.clone()).build())
                .build(),
        )
        .await
        .unwrap();
    let plan = mongoctl(&ws, &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    let c = &plan.json()["changes"][0];
    assert_eq!(
        (c["action"].as_str(), c["destructive"].as_bool()),
        (Some("replace_index"), Some(true)),
        "{}",
        plan.stdout
    );
    assert!(
        c["details"][0]
            .as_str()
            .unwrap()
            .starts_with("unique: none → true"),
        "{}",
        c["details"]
    );
    mongoctl(&ws, &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(1);
    mongoctl(&ws, &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(&ws, &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn ttl_change_is_modified_in_place_not_rebuilt() {
    let server = common::standalone().await;
    let ws = repo();
    mongoctl(&ws, &["apply", "--domain", "auth"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let auth = server.client().database("reminderdb_auth");
    auth.run_command(doc! {"collMod": "login_attempts", "index": {"keyPattern": {"attempted_at": 1}, "expireAfterSeconds": 5}}).await.unwrap();
    let plan = mongoctl(&ws, &["plan", "-o", "json", "--domain", "auth"])
        .uri(&server.uri())
        .run();
    let p = plan.json();
    assert_eq!(changes(&p).len(), 1, "{}", plan.stdout);
    assert_eq!(p["changes"][0]["action"], "modify_index");
    assert_eq!(p["changes"][0]["destructive"], false);
    mongoctl(&ws, &["apply", "--domain", "auth"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(&ws, &["plan", "--domain", "auth", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}
