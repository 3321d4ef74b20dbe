//! Tenant isolation on an auth-enabled mongod: a tenant's user, logged in, reads and writes
//! its own database and is refused another tenant's; `audit` proves isolation from the
//! effective privileges, and catches a cross-tenant grant and a cross-tenant role added out
//! of band.

use bson::{Document, doc};
use mongodb::Client;

use crate::common;
use crate::support::{Output, mongoctl, write};

const TENANTS: &[&str] = &["acme", "globex", "initech"];

/// A template workspace: one database per tenant, its read-write role and service user
/// (passwords from `SVC_CHAT_<TENANT>_PASSWORD`), and the test server's root user declared as
/// the platform admin.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    write(
        ws,
        "mongoctl.json",
        r#"{
  "project": "isolation",
  "metadataDatabase": "iso_meta",
  "tenants": {"file": "tenants.json"},
  "domains": {
    "chat": {
      "database": "iso_chat_{tenant}",
      "tenancy": "database",
      "collections": {"messages": {"description": "A tenant's messages"}}
    }
  },
  "roles": {
    "chat_{tenant}_rw": {
      "privileges": [
        {"resource": {"domain": "chat", "collection": ""}, "actions": ["find", "insert", "update", "remove"]}
      ]
    }
  },
  "users": {
    "svc_chat_{tenant}": {
      "roles": [{"role": "chat_{tenant}_rw"}],
      "password": {"env": "SVC_CHAT_{TENANT}_PASSWORD"}
    },
    "root": {
      "description": "The platform admin (the test server's root user)",
      "purpose": "admin",
      "roles": [{"role": "root", "db": "admin"}],
      "password": {"env": "ROOT_PASSWORD"}
    }
  }
}
"#,
    );
    let list: Vec<String> = TENANTS.iter().map(|t| format!("\"{t}\"")).collect();
    write(
        ws,
        "tenants.json",
        &format!("{{\"tenants\": [{}]}}\n", list.join(", ")),
    );
    dir
}

fn password(tenant: &str) -> String {
    format!("pw-{tenant}-not-a-secret")
}

fn run(ws: &std::path::Path, server: &common::TestServer, args: &[&str]) -> Output {
    let mut r = mongoctl(ws, args)
        .uri(&server.uri())
        .env("ROOT_PASSWORD", common::ROOT_PASSWORD);
    for t in TENANTS {
        r = r.env(
            &format!("SVC_CHAT_{}_PASSWORD", t.to_uppercase()),
            &password(t),
        );
    }
    r.run()
}

async fn login(server: &common::TestServer, tenant: &str) -> Client {
    let port = server.ports()[0];
    Client::with_uri_str(format!(
        "mongodb://svc_chat_{tenant}:{}@127.0.0.1:{port}/?directConnection=true&authSource=admin",
        password(tenant)
    ))
    .await
    .unwrap()
}

fn unauthorized(e: &mongodb::error::Error) -> bool {
    let t = e.to_string();
    t.contains("not authorized") || t.contains("Unauthorized")
}

/// (kind, subject, detail) of every finding of `audit -o json`.
fn findings(audit: &Output) -> Vec<(String, String, String)> {
    audit.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (s("kind"), s("subject"), s("detail"))
        })
        .collect()
}

#[tokio::test]
async fn tenant_users_are_isolated_and_audit_proves_it_then_catches_cross_tenant_grants() {
    let server = common::auth_standalone().await;
    let dir = workspace();
    let ws = dir.path();
    run(ws, &server, &["apply"]).expect_code(0);

    // Logged in as acme's user: its own database works, globex's is refused both ways.
    let acme = login(&server, "acme").await;
    let own = acme
        .database("iso_chat_acme")
        .collection::<Document>("messages");
    own.insert_one(doc! {"text": "hi"}).await.unwrap();
    assert_eq!(own.count_documents(doc! {}).await.unwrap(), 1);
    let globex = server
        .client()
        .database("iso_chat_globex")
        .collection::<Document>("messages");
    globex.insert_one(doc! {"text": "secret"}).await.unwrap();
    let theirs = acme
        .database("iso_chat_globex")
        .collection::<Document>("messages");
    let read = theirs.find_one(doc! {}).await.unwrap_err();
    assert!(unauthorized(&read), "{read}");
    let wrote = theirs.insert_one(doc! {"text": "x"}).await.unwrap_err();
    assert!(unauthorized(&wrote), "{wrote}");
    let listed = acme
        .database("iso_chat_globex")
        .list_collection_names()
        .await
        .unwrap_err();
    assert!(unauthorized(&listed), "{listed}");

    // audit proves it: nothing fails, the declared root user spanning tenants is info only.
    let audit = run(ws, &server, &["audit", "-o", "json"]);
    audit.expect_code(0);
    let isolation = &audit.json()["isolation"];
    assert_eq!(isolation["tenants"], 3, "{isolation}");
    assert_eq!(isolation["tenant_users"], 3, "{isolation}");
    assert_eq!(isolation["users_checked"], 4, "{isolation}");
    assert_eq!(isolation["proven"], true, "{isolation}");
    assert_eq!(
        isolation["violations"],
        serde_json::json!([]),
        "{isolation}"
    );
    assert_eq!(
        findings(&audit)
            .iter()
            .map(|(k, s, _)| (k.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [("cross_tenant_declared", "user root@admin")]
    );
    let table = run(ws, &server, &["audit"]);
    table.expect_code(0);
    assert!(
        table
            .stdout
            .contains("isolation: 3 tenants, 3 tenant users, no cross-tenant access"),
        "{}",
        table.stdout
    );

    // Out of band: acme's user is granted read on globex's database, and a custom role
    // spanning acme's and initech's databases is created.
    let admin = server.client().database("admin");
    admin
        .run_command(doc! {"grantRolesToUser": "svc_chat_acme", "roles": [{"role": "read", "db": "iso_chat_globex"}]})
        .await
        .unwrap();
    admin
        .run_command(doc! {"createRole": "bridge", "privileges": [
            {"resource": {"db": "iso_chat_acme", "collection": ""}, "actions": ["find"]},
            {"resource": {"db": "iso_chat_initech", "collection": "messages"}, "actions": ["insert"]},
        ], "roles": []})
        .await
        .unwrap();
    // The grant is real: acme's user now reads globex's data.
    assert!(theirs.find_one(doc! {}).await.unwrap().is_some());

    let audit = run(ws, &server, &["audit", "-o", "json"]);
    audit.expect_code(2);
    let found = findings(&audit);
    let access: Vec<&(String, String, String)> = found
        .iter()
        .filter(|f| f.0 == "cross_tenant_access")
        .collect();
    assert_eq!(access.len(), 1, "{found:?}");
    assert_eq!(access[0].1, "user svc_chat_acme@admin");
    assert!(
        access[0]
            .2
            .contains("tenant acme's user reaches tenant globex")
            && access[0].2.contains("find")
            && access[0].2.contains("through read@iso_chat_globex"),
        "{}",
        access[0].2
    );
    let roles: Vec<&(String, String, String)> = found
        .iter()
        .filter(|f| f.0 == "cross_tenant_role")
        .collect();
    assert_eq!(roles.len(), 1, "{found:?}");
    assert_eq!(roles[0].1, "role bridge@admin");
    assert!(
        roles[0].2.contains("tenants acme, initech"),
        "{}",
        roles[0].2
    );
    let isolation = &audit.json()["isolation"];
    assert_eq!(isolation["proven"], false, "{isolation}");
    assert_eq!(
        isolation["violations"][0]["reaches"],
        serde_json::json!(["globex"]),
        "{isolation}"
    );
    assert_eq!(isolation["violations"][0]["tenant"], "acme", "{isolation}");
    let table = run(ws, &server, &["audit"]);
    table.expect_code(2);
    assert!(
        table
            .stdout
            .contains("isolation: 3 tenants, 3 tenant users, 2 cross-tenant violation(s)"),
        "{}",
        table.stdout
    );
    for t in TENANTS {
        assert!(
            !audit.all().contains(&password(t)),
            "a password was printed"
        );
    }
}
