//! Database per tenant: a template domain applied to tenants from a file and from a live
//! collection, new and removed tenants, a failing tenant, bad tenant ids.

use bson::{Document, doc};
use futures::TryStreamExt;

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo, write};

fn demo() -> tempfile::TempDir {
    let ws = copy_workspace(&repo().join("examples/tenants-demo"));
    tenants(ws.path(), &["acme", "globex", "initech"]);
    ws
}

fn tenants(ws: &std::path::Path, ids: &[&str]) {
    let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    write(
        ws,
        "tenants.json",
        &format!("{{\"tenants\": [{}]}}\n", list.join(", ")),
    );
}

async fn databases(server: &common::TestServer) -> Vec<String> {
    let mut dbs = server.client().list_database_names().await.unwrap();
    dbs.retain(|d| d.starts_with("tdemo_chat_"));
    dbs.sort();
    dbs
}

/// The tenants that have changes in `plan -o json`, by id.
fn changed_tenants(plan: &serde_json::Value) -> Vec<String> {
    plan["tenants"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["plan"]["changes"].as_array().unwrap().is_empty())
        .map(|t| t["tenant"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn tenants_from_a_file_new_tenant_planned_alone_and_removed_one_is_an_orphan() {
    let server = common::standalone().await;
    let ws = demo();
    let apply = mongoctl(ws.path(), &["apply"]).uri(&server.uri()).run();
    apply.expect_code(0);
    assert!(
        apply.stdout.contains("Tenants: 3 applied, 0 failed"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        databases(&server).await,
        ["tdemo_chat_acme", "tdemo_chat_globex", "tdemo_chat_initech"]
    );
    // The template role grants on that tenant's database only.
    let roles = server
        .client()
        .database("admin")
        .run_command(doc! {"rolesInfo": "chat_acme_rw", "showPrivileges": true})
        .await
        .unwrap();
    let role = roles.get_array("roles").unwrap()[0].as_document().unwrap();
    let privileges = role.get_array("privileges").unwrap();
    assert_eq!(privileges.len(), 1);
    assert_eq!(
        privileges[0]
            .as_document()
            .unwrap()
            .get_document("resource")
            .unwrap(),
        &doc! {"db": "tdemo_chat_acme", "collection": ""}
    );
    let idx: Vec<Document> = server
        .client()
        .database("tdemo_chat_globex")
        .collection::<Document>("messages")
        .list_indexes()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|i| bson::to_document(&i).unwrap())
        .collect();
    assert!(
        idx.iter()
            .any(|i| i.get_str("name") == Ok("conversation_time"))
    );
    mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);

    // A new tenant row: the plan shows exactly that tenant.
    tenants(ws.path(), &["acme", "globex", "initech", "newco"]);
    let plan = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    let json = plan.json();
    assert_eq!(changed_tenants(&json), ["newco"]);
    assert_eq!(json["tenants"]["converged"], 3);
    assert_eq!(json["tenants"]["changed"][0]["missing"], true);
    assert_eq!(json["changes"].as_array().unwrap().len(), 0, "{json}");

    // `--tenant` narrows the fleet.
    let narrowed = mongoctl(ws.path(), &["plan", "-o", "json", "--tenant", "acme"])
        .uri(&server.uri())
        .run();
    narrowed.expect_code(0);
    assert_eq!(narrowed.json()["tenants"]["tenants"], 1);
    assert!(changed_tenants(&narrowed.json()).is_empty());
    let unknown = mongoctl(ws.path(), &["plan", "--tenant", "acm"])
        .uri(&server.uri())
        .run();
    unknown.expect_code(1);
    assert!(
        unknown
            .stderr
            .contains("--tenant acm: not in the tenant source; did you mean \"acme\"?"),
        "{}",
        unknown.stderr
    );

    // A removed tenant: an orphan, kept without --prune, dropped with --prune --yes.
    tenants(ws.path(), &["acme", "globex", "newco"]);
    let plan = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("1 orphan tenant(s)"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("initech"), "{}", plan.stdout);
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        databases(&server).await,
        [
            "tdemo_chat_acme",
            "tdemo_chat_globex",
            "tdemo_chat_initech",
            "tdemo_chat_newco"
        ]
    );
    let refused = mongoctl(ws.path(), &["apply", "--prune"])
        .uri(&server.uri())
        .run();
    refused.expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        databases(&server)
            .await
            .contains(&"tdemo_chat_initech".to_string())
    );
    mongoctl(ws.path(), &["apply", "--prune", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        databases(&server).await,
        ["tdemo_chat_acme", "tdemo_chat_globex", "tdemo_chat_newco"]
    );
    mongoctl(ws.path(), &["verify", "--no-data"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn tenants_from_a_live_collection_follow_its_filter() {
    let server = common::standalone().await;
    let ws = demo();
    let manifest = std::fs::read_to_string(ws.path().join("mongoctl.json")).unwrap();
    let manifest = manifest.replace(
        r#""tenants": {"file": "tenants.json"}"#,
        r#""tenants": {"collection": {"domain": "platform", "collection": "clients", "filter": {"status": "active"}, "field": "tenant_id", "classField": "plan"}}"#,
    );
    write(ws.path(), "mongoctl.json", &manifest);
    let clients = server
        .client()
        .database("tdemo_platform")
        .collection::<Document>("clients");
    clients
        .insert_many([
            doc! {"_id": 1, "tenant_id": "acme", "status": "active", "plan": "gold"},
            doc! {"_id": 2, "tenant_id": "gone", "status": "cancelled"},
            doc! {"_id": 3, "tenant_id": "globex", "status": "active"},
        ])
        .await
        .unwrap();
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        databases(&server).await,
        ["tdemo_chat_acme", "tdemo_chat_globex"]
    );

    // A verify after the source changes: the new tenant is drift (exit 2).
    clients
        .insert_one(doc! {"_id": 4, "tenant_id": "initech", "status": "active"})
        .await
        .unwrap();
    let verify = mongoctl(ws.path(), &["verify", "--no-data"])
        .uri(&server.uri())
        .run();
    verify.expect_code(2);
    assert!(
        verify.stdout.contains("1 tenant missing"),
        "{}",
        verify.stdout
    );

    // Bad ids are named by their document's _id; nothing is planned.
    clients
        .insert_many([
            doc! {"_id": "x9", "tenant_id": "Bad Name", "status": "active"},
            doc! {"_id": 10, "tenant_id": "y".repeat(60), "status": "active"},
        ])
        .await
        .unwrap();
    let bad = mongoctl(ws.path(), &["plan"]).uri(&server.uri()).run();
    bad.expect_code(1);
    assert!(
        bad.stderr
            .contains("2 bad tenant(s) in tdemo_platform.clients"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr
            .contains("document _id \"x9\": tenant id \"Bad Name\" must start"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("document _id 10: tenant id"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn a_failing_tenant_does_not_stop_the_others_and_a_rerun_converges() {
    let server = common::standalone().await;
    let ws = demo();
    // A unique index that out-of-band data of one tenant violates.
    write(
        ws.path(),
        "indexes/chat/conversations.json",
        r#"{"indexes": [{"name": "updated", "key": {"updated_at": -1}}, {"name": "slug", "key": {"slug": 1}, "unique": true}]}"#,
    );
    let globex = server
        .client()
        .database("tdemo_chat_globex")
        .collection::<Document>("conversations");
    globex
        .insert_many([doc! {"slug": "same"}, doc! {"slug": "same"}])
        .await
        .unwrap();
    let apply = mongoctl(ws.path(), &["apply", "--jobs", "2"])
        .uri(&server.uri())
        .run();
    apply.expect_code(1);
    assert!(
        apply
            .stdout
            .contains("Tenants: 2 applied, 1 failed, 0 skipped"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("tenant globex: step"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stderr.contains("1 tenant(s) failed"),
        "{}",
        apply.stderr
    );
    for t in ["acme", "initech"] {
        let names: Vec<String> = server
            .client()
            .database(&format!("tdemo_chat_{t}"))
            .collection::<Document>("conversations")
            .list_index_names()
            .await
            .unwrap();
        assert!(names.contains(&"slug".to_string()), "{t}: {names:?}");
    }
    let plan = mongoctl(ws.path(), &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    assert_eq!(changed_tenants(&plan.json()), ["globex"]);

    // Fixed: the re-run converges the rest.
    globex.delete_one(doc! {"slug": "same"}).await.unwrap();
    mongoctl(ws.path(), &["apply"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(ws.path(), &["plan", "--exit-code"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn bad_tenant_ids_in_the_file_are_rejected_with_locations_before_connecting() {
    let ws = demo();
    write(
        ws.path(),
        "tenants.json",
        "{\"tenants\": [\n  \"acme\",\n  \"ACME\",\n  {\"id\": \"a/b\"}\n]}\n",
    );
    // No server: check fails first.
    let out = mongoctl(ws.path(), &["plan"])
        .uri("mongodb://127.0.0.1:1")
        .run();
    out.expect_code(1);
    assert!(
        out.all()
            .contains("tenants.json:3:3: error: tenants[1]: tenant id \"ACME\" must start"),
        "{}",
        out.all()
    );
    assert!(
        out.all()
            .contains("tenants.json:4:4: error: tenants[2].id: tenant id \"a/b\" contains '/'"),
        "{}",
        out.all()
    );
}
