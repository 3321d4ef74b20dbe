//! `examples/chat-platform`, the multi-tenant workspace of seed 004: tenants come from the
//! platform's live `clients` (active ones), each gets its own chat database from the template,
//! the shared analytics collections carry sharding and zones that only a mongos can apply.

use bson::{DateTime, Document, doc};

use crate::common;
use crate::support::{copy_workspace, mongoctl, repo};

fn client_doc(tenant: &str, status: &str, plan: &str, region: &str) -> Document {
    let now = DateTime::now();
    doc! {
        "tenant_id": tenant, "name": format!("{tenant} Inc."), "status": status,
        "plan": plan, "contact": {"email": format!("ops@{tenant}.example")},
        "data_region": region, "created_at": now, "updated_at": now,
    }
}

#[tokio::test]
async fn active_clients_become_tenant_databases_and_share_links_do_not_expire_files() {
    let server = common::standalone().await;
    let ws = copy_workspace(&repo().join("examples/chat-platform"));
    let ws = ws.path();
    // No mongos here: the sharding steps are listed, not sent.
    mongoctl(ws, &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    server
        .client()
        .database("caas_platform")
        .collection::<Document>("clients")
        .insert_many([
            client_doc("acme", "active", "pro", "us"),
            client_doc("eu-bank", "active", "enterprise", "eu"),
            client_doc("dormant", "suspended", "free", "us"),
        ])
        .await
        .unwrap();

    let plan = mongoctl(ws, &["plan", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    let p = plan.json();
    let mut planned: Vec<String> = p["tenants"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap().to_string())
        .collect();
    planned.sort();
    assert_eq!(planned, ["acme", "eu-bank"], "{}", plan.stdout);
    // The shared analytics collections' sharding is declared, not applicable here.
    let commands: Vec<String> = p["sharding"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["command"].to_string())
        .collect();
    assert!(
        commands.contains(
            &serde_json::json!({"shardCollection": "caas_analytics.events", "key": {"tenant_id": 1, "created_at": 1}}).to_string()
        ),
        "{commands:?}"
    );
    // Each tenant's messages collection, never the template's name.
    assert!(
        commands.contains(
            &serde_json::json!({"shardCollection": "caas_chat_eu-bank.messages", "key": {"conversation_id": 1, "created_at": 1}}).to_string()
        ),
        "{commands:?}"
    );
    assert!(
        !commands.iter().any(|c| c.contains("{tenant}")),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.contains("updateZoneKeyRange")
            && c.contains("caas_analytics.events")
            && c.contains("\"eu-\"")),
        "{commands:?}"
    );

    mongoctl(ws, &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let mut dbs = server.client().list_database_names().await.unwrap();
    dbs.retain(|d| d.starts_with("caas_chat_"));
    dbs.sort();
    assert_eq!(dbs, ["caas_chat_acme", "caas_chat_eu-bank"]);
    let mut colls = server
        .client()
        .database("caas_chat_acme")
        .list_collection_names()
        .await
        .unwrap();
    colls.sort();
    assert_eq!(
        colls,
        [
            "conversations",
            "files",
            "groups",
            "messages",
            "settings",
            "users"
        ]
    );
    // A share link's expiry is indexed for lookups, never a TTL on the file's metadata.
    let listed = server
        .client()
        .database("caas_chat_acme")
        .run_command(doc! {"listIndexes": "files"})
        .await
        .unwrap();
    let files_indexes = listed
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap();
    let expiry = files_indexes
        .iter()
        .filter_map(|i| i.as_document())
        .find(|i| {
            i.get_document("key")
                .unwrap()
                .contains_key("sharing.expiry")
        })
        .expect("sharing.expiry is indexed");
    assert!(!expiry.contains_key("expireAfterSeconds"), "{expiry}");
    // Each tenant's service user reaches its own database only.
    let access = mongoctl::live::inspect_access(&server.client(), false)
        .await
        .unwrap();
    let user = access
        .users
        .iter()
        .find(|u| u.name == "svc_chat_eu-bank")
        .expect("tenant user created");
    assert_eq!(user.roles.len(), 1, "{:?}", user.roles);

    let clean = mongoctl(ws, &["plan", "--exit-code"])
        .uri(&server.uri())
        .run();
    clean.expect_code(0);

    // Each tenant's class is its plan; the quota comes from that class.
    let stats = mongoctl(ws, &["stats", "--tenants", "-o", "json"])
        .uri(&server.uri())
        .run();
    stats.expect_code(0);
    let rows = stats.json()["tenants"].as_array().unwrap().clone();
    let acme = rows.iter().find(|r| r["tenant"] == "acme").unwrap();
    assert_eq!(acme["class"], "pro", "{acme}");
    assert_eq!(acme["quota"]["maxDataSize"], 500u64 << 30, "{acme}");
    let bank = rows.iter().find(|r| r["tenant"] == "eu-bank").unwrap();
    assert!(bank["quota"]["maxDataSize"].is_null(), "{bank}");
}
