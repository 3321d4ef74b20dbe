//! Seed 003 end to end on examples/nilecare: one shared database separated into per-service
//! databases by migrations, with writes during a move caught up, every move verified by count
//! and digest, a source written after its move refused to be dropped, everything rolled back,
//! and the separation run again to a clean `verify`.

use bson::{Bson, Decimal128, Document, doc};
use mongoctl::relocate::{Namespace, digest};

use crate::backup::{arm_fail_command, release_commands, wait_for_fail_point};
use crate::common;
use crate::support::{copy_workspace, mongoctl, repo};

async fn seed_shared(client: &mongodb::Client) {
    let db = client.database("nilecare");
    let users: Vec<Document> = (0..300)
        .map(|i| doc! {"_id": format!("u{i:04}"), "email": format!("user{i}@nilecare.example"), "password_hash": "$2b$12$abcdefghijklmnopqrstuv", "role": if i % 10 == 0 { "doctor" } else { "patient" }})
        .collect();
    db.collection::<Document>("auth_users")
        .insert_many(users)
        .await
        .unwrap();
    db.run_command(doc! {"createIndexes": "auth_users", "indexes": [{"key": {"email": 1}, "name": "email_1", "unique": true}]}).await.unwrap();
    let sessions: Vec<Document> = (0..120)
        .map(|i| doc! {"user_id": format!("u{:04}", i % 300), "expires_at": bson::DateTime::from_millis(4_000_000_000_000)})
        .collect();
    db.collection::<Document>("auth_sessions")
        .insert_many(sessions)
        .await
        .unwrap();
    let invoices: Vec<Document> = (0..200)
        .map(|i| doc! {"invoice_no": format!("INV-{i:05}"), "patient_id": format!("u{:04}", i % 300), "amount": format!("{}.{:02}", 100 + i, i % 100), "currency": "EGP", "status": "issued"})
        .collect();
    db.collection::<Document>("billing_invoices")
        .insert_many(invoices)
        .await
        .unwrap();
    let txns: Vec<Document> = (0..150)
        .map(|i| doc! {"invoice_no": format!("INV-{:05}", i), "provider_ref": format!("PAY-{i}"), "status": "settled"})
        .collect();
    db.collection::<Document>("payment_transactions")
        .insert_many(txns)
        .await
        .unwrap();
    let enc: Vec<Document> = (0..50)
        .map(|i| doc! {"patient_id": format!("u{i:04}"), "kind": "visit"})
        .collect();
    db.collection::<Document>("clinical_encounters")
        .insert_many(enc)
        .await
        .unwrap();
}

async fn count(client: &mongodb::Client, db: &str, coll: &str) -> u64 {
    client
        .database(db)
        .collection::<Document>(coll)
        .count_documents(doc! {})
        .await
        .unwrap()
}

#[tokio::test]
async fn the_shared_database_is_separated_verified_rolled_back_and_separated_again() {
    let server = common::replica_set(1).await;
    let client = server.client();
    seed_shared(&client).await;
    let ws = copy_workspace(&repo().join("examples/nilecare"));
    let ws = ws.path();
    let points = ws.join("points");
    let points = points.to_str().unwrap();
    let sep = if server.uri().contains('?') { "&" } else { "?" };

    // 1. The auth service first, while it keeps writing to the shared database: the copy's
    //    first read batch is held, and the test writes to the source meanwhile.
    let uri = format!("{}{sep}appName=mover", server.uri());
    let held = arm_fail_command(
        &client,
        "mover",
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["getMore"], "blockConnection": true, "blockTimeMS": 1_500},
    )
    .await;
    let mover = mongoctl(
        ws,
        &[
            "migrate",
            "up",
            "--to",
            "0001_separate_auth",
            "--rollback-dir",
            points,
            "-o",
            "json",
        ],
    )
    .uri(&uri)
    .spawn();
    wait_for_fail_point(&client, held + 1).await;
    let src = client
        .database("nilecare")
        .collection::<Document>("auth_users");
    src.insert_one(doc! {"_id": "u9000", "email": "late@nilecare.example", "password_hash": "$2b$12$abcdefghijklmnopqrstuv", "role": "nurse"}).await.unwrap();
    src.update_one(doc! {"_id": "u0001"}, doc! {"$set": {"role": "admin"}})
        .await
        .unwrap();
    src.delete_one(doc! {"_id": "u0299"}).await.unwrap();
    let out = mover.wait_with_output().unwrap();
    release_commands(&client).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users_step = &report["applied"][0]["steps"][0]["copy"];
    assert_eq!(users_step["verified"], true, "{users_step}");
    assert!(
        users_step["writes_caught_up"].as_i64().unwrap() >= 1,
        "{users_step}"
    );
    assert_eq!(count(&client, "nilecare_auth", "users").await, 300);
    let moved = client
        .database("nilecare_auth")
        .collection::<Document>("users");
    assert_eq!(
        moved
            .find_one(doc! {"_id": "u0001"})
            .await
            .unwrap()
            .unwrap()
            .get_str("role")
            .unwrap(),
        "admin"
    );
    assert!(
        moved
            .find_one(doc! {"_id": "u9000"})
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        moved
            .find_one(doc! {"_id": "u0299"})
            .await
            .unwrap()
            .is_none()
    );
    let (s, t) = (
        digest(&client, &Namespace::new("nilecare", "auth_users"), None)
            .await
            .unwrap(),
        digest(&client, &Namespace::new("nilecare_auth", "users"), None)
            .await
            .unwrap(),
    );
    assert_eq!(s, t, "source and target hold the same documents");
    // The source is kept until the drop migration.
    assert_eq!(count(&client, "nilecare", "auth_users").await, 300);

    // 2. A write reaches the shared database after the auth move (a service not yet switched):
    //    apply runs billing and payment, and refuses to drop the written source.
    src.insert_one(doc! {"_id": "u9001", "email": "later@nilecare.example", "password_hash": "$2b$12$abcdefghijklmnopqrstuv", "role": "nurse"}).await.unwrap();
    let apply = mongoctl(ws, &["apply", "--yes", "--rollback-dir", points])
        .uri(&server.uri())
        .run();
    apply.expect_code(1);
    assert!(
        apply.stderr.contains("changed after its move")
            && apply.stderr.contains("0004_drop_shared_tables"),
        "{}",
        apply.stderr
    );
    for c in [
        "auth_users",
        "auth_sessions",
        "billing_invoices",
        "payment_transactions",
    ] {
        assert!(
            count(&client, "nilecare", c).await > 0,
            "{c} must not be dropped"
        );
    }
    assert_eq!(count(&client, "nilecare_billing", "invoices").await, 200);
    let inv = client
        .database("nilecare_billing")
        .collection::<Document>("invoices")
        .find_one(doc! {"invoice_no": "INV-00007"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        inv.get("amount"),
        Some(&Bson::Decimal128("107.07".parse::<Decimal128>().unwrap()))
    );
    assert_eq!(
        count(&client, "nilecare_payment", "transactions").await,
        150
    );

    // 3. Roll everything back: the shared database is as the services left it.
    let before_rollback = digest(
        &client,
        &Namespace::new("nilecare", "billing_invoices"),
        None,
    )
    .await
    .unwrap();
    let rb = mongoctl(
        ws,
        &["migrate", "rollback", "--to", "0", "--yes", "-o", "json"],
    )
    .uri(&server.uri())
    .run();
    rb.expect_code(0);
    assert_eq!(rb.json()["rolled_back"].as_array().unwrap().len(), 4);
    let dbs = client.list_database_names().await.unwrap();
    for gone in ["nilecare_auth", "nilecare_payment"] {
        assert!(
            !dbs.contains(&gone.to_string())
                || count(&client, gone, "users").await + count(&client, gone, "transactions").await
                    == 0,
            "{gone}: {dbs:?}"
        );
    }
    assert_eq!(count(&client, "nilecare", "auth_users").await, 301);
    assert_eq!(
        digest(
            &client,
            &Namespace::new("nilecare", "billing_invoices"),
            None
        )
        .await
        .unwrap(),
        before_rollback
    );

    // 4. Separate again (the services are switched now): moves verified, old tables dropped.
    let apply = mongoctl(ws, &["apply", "--yes", "--rollback-dir", points])
        .uri(&server.uri())
        .run();
    apply.expect_code(0);
    assert_eq!(count(&client, "nilecare_auth", "users").await, 301);
    assert_eq!(count(&client, "nilecare_auth", "sessions").await, 120);
    assert_eq!(count(&client, "nilecare_billing", "invoices").await, 200);
    assert_eq!(
        count(&client, "nilecare_payment", "transactions").await,
        150
    );
    let mut left = client
        .database("nilecare")
        .list_collection_names()
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, ["clinical_encounters"]);
    let verify = mongoctl(ws, &["verify"]).uri(&server.uri()).run();
    verify.expect_code(0);
    let status = mongoctl(ws, &["migrate", "status"])
        .uri(&server.uri())
        .run();
    status.expect_code(0);
}
