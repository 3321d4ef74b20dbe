//! `mongoctl import` from a real PostgreSQL server into a real mongod: the CareChat example's
//! mapping end to end (documents compared field by field, then `--verify`), a run killed by
//! failpoints and resumed, rejects and `--strict`, bad mappings refused before any write, and
//! the password never printed.

use std::path::{Path, PathBuf};

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};
use mongodb::Client;

use crate::common;
use crate::pg_support::PgServer;
use crate::support::{Output, copy_workspace, mongoctl, repo};

const A: &str = "0a0a0a0a-0000-4000-8000-00000000000a";
const B: &str = "0b0b0b0b-0000-4000-8000-00000000000b";
const C: &str = "0c0c0c0c-0000-4000-8000-00000000000c";
const U1: &str = "1a1a1a1a-0000-4000-8000-0000000000a1";
const U2: &str = "1b1b1b1b-0000-4000-8000-0000000000b2";
const S1: &str = "2a2a2a2a-0000-4000-8000-0000000000f1";
const CONV: &str = "3a3a3a3a-0000-4000-8000-0000000000c1";
const M1: &str = "4a4a4a4a-0000-4000-8000-0000000000e1";
const M2: &str = "4b4b4b4b-0000-4000-8000-0000000000e2";

fn example_ddl() -> String {
    let dir = repo().join("examples/carechat/postgres");
    ["track1.sql", "track2.sql"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example's tables, with rows covering UUIDs, numerics, timestamps, jsonb, NULLs, child
/// rows, a soft-deleted patient (skipped), and rows the target schema refuses.
fn carechat_rows() -> String {
    format!(
        r#"
INSERT INTO track1.patients VALUES
 ('{A}', 'Amina Diallo', '+221770000001', NULL, 'fr', '{{"conditions": ["asthma"], "allergies": [], "medications": ["salbutamol"]}}', true, '2024-01-02 03:04:05.678+00', '2024-02-01 00:00:00+00', NULL),
 ('{B}', 'Deleted Patient', '+221770000002', 'b@example.org', 'en', NULL, false, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00', '2024-03-01 00:00:00+00'),
 ('{C}', 'Bad Phone', '12', NULL, NULL, NULL, true, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00', NULL);
INSERT INTO track1.patient_logins (patient_id, logged_in_at, ip_address, user_agent) VALUES
 ('{A}', '2024-05-01 10:00:00+00', '10.0.0.1', 'Mozilla'),
 ('{A}', '2024-05-02 11:00:00+00', NULL, 'curl');
INSERT INTO track2.users VALUES
 ('{U1}', 'Chat User', '+15550001111', 'chat@example.org', '$2b$12$abcdefghijklmnopqrstuv', 'gemini', true, true, true, '2024-06-01 12:00:00+00', '2024-01-05 00:00:00+00', '2024-06-01 12:00:00+00'),
 ('{U2}', 'Quiet User', '+15550002222', NULL, NULL, NULL, NULL, true, false, NULL, '2024-01-06 00:00:00+00', '2024-01-06 00:00:00+00');
INSERT INTO track1.feedback_sessions VALUES
 ('{S1}', '{A}', 'post_visit', 'cardiology', '2024-04-30', 4, 9, 87.50, 'completed', 'fr', '2024-05-01 00:00:00+00', '2024-05-01 01:00:00+00');
INSERT INTO track1.feedback_responses (session_id, position, question_id, question, response_type, response, rating) VALUES
 ('{S1}', 2, 'q_wait', 'How long did you wait?', 'text', 'Not long', NULL),
 ('{S1}', 1, 'q_overall', 'Overall?', 'rating', NULL, 4);
INSERT INTO track2.conversations VALUES
 ('{CONV}', '{U1}', 'Headache', NULL, 'active', 2, 5000000000, 1234.56, '2024-06-01 12:05:00+00', '2024-06-01 12:00:00+00', '2024-06-01 12:05:00+00');
INSERT INTO track2.messages VALUES
 ('{M1}', '{CONV}', '{U1}', 'user', 'I have a headache', NULL, NULL, NULL, NULL, NULL, '{{"device": "ios", "sessionData": {{"k": 1}}}}', '2024-06-01 12:01:00+00'),
 ('{M2}', '{CONV}', '{U1}', 'robot', 'beep', 'groq', 'llama', 12, 0.25, 0.70, NULL, '2024-06-01 12:02:00+00');
INSERT INTO track2.message_edits (message_id, edited_at, old_content, reason) VALUES
 ('{M1}', '2024-06-01 12:01:30+00', 'I have a headach', 'typo');
"#
    )
}

struct Setup {
    pg: PgServer,
    mongo: common::TestServer,
    ws: tempfile::TempDir,
}

impl Setup {
    async fn new(rows: &str) -> Setup {
        let pg = PgServer::start();
        pg.exec(&example_ddl()).await;
        pg.exec(rows).await;
        let mongo = common::standalone().await;
        let ws = copy_workspace(&repo().join("examples/carechat"));
        mongoctl(ws.path(), &["apply", "--yes"])
            .uri(&mongo.uri())
            .run()
            .expect_code(0);
        Setup { pg, mongo, ws }
    }

    fn ws(&self) -> &Path {
        self.ws.path()
    }

    fn rejects(&self) -> PathBuf {
        self.ws().join(".mongoctl/imports/carechat.rejects.jsonl")
    }

    /// `mongoctl import carechat --from <uri without password> <args>`, PGPASSWORD set.
    fn import(&self, args: &[&str]) -> Output {
        self.import_on(&self.mongo.uri(), args)
    }

    fn import_on(&self, mongo_uri: &str, args: &[&str]) -> Output {
        let from = self.pg.uri();
        let all = [&["import", "carechat", "--from", from.as_str()][..], args].concat();
        let out = mongoctl(self.ws(), &all)
            .uri(mongo_uri)
            .env("PGPASSWORD", &self.pg.password)
            .run();
        assert!(
            !out.all().contains(&self.pg.password),
            "the PostgreSQL password was printed:\n{}",
            out.all()
        );
        out
    }

    fn db(&self) -> mongodb::Database {
        self.mongo.client().database("carechat_unified")
    }
}

fn uuid(s: &str) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Uuid,
        bytes: uuid::Uuid::parse_str(s).unwrap().as_bytes().to_vec(),
    })
}

fn date(s: &str) -> Bson {
    Bson::DateTime(bson::DateTime::parse_rfc3339_str(s).unwrap())
}

async fn find(db: &mongodb::Database, coll: &str, key: &str, id: &str) -> Document {
    db.collection::<Document>(coll)
        .find_one(doc! {key: uuid(id)})
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {coll} document with {key} {id}"))
}

/// `doc` without `_id` (checked to be an ObjectId) and `migratedFrom.migratedAt` (checked to
/// be a date), for comparing with an expected document.
fn comparable(mut d: Document) -> Document {
    assert!(matches!(d.remove("_id"), Some(Bson::ObjectId(_))), "{d}");
    if let Ok(m) = d.get_document_mut("migratedFrom") {
        assert!(
            matches!(m.remove("migratedAt"), Some(Bson::DateTime(_))),
            "{m}"
        );
    }
    d
}

fn rejects_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_carechat_mapping_imports_documents_field_by_field_and_verifies() {
    let s = Setup::new(&carechat_rows()).await;

    // A dry run converts and validates a sample and writes nothing.
    let dry = s.import(&["--dry-run", "-o", "json"]);
    dry.expect_code(2);
    let samples = dry.json()["samples"].as_array().unwrap().clone();
    let users1 = samples
        .iter()
        .find(|x| x["collection"] == "users" && x["source"] == "track1")
        .unwrap();
    assert_eq!(users1["sampled"], 2, "{users1}");
    assert!(
        users1["problems"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("phoneNumber"),
        "{users1}"
    );
    assert_eq!(
        s.db()
            .collection::<Document>("users")
            .count_documents(doc! {})
            .await
            .unwrap(),
        0
    );

    let out = s.import(&["-o", "json"]);
    out.expect_code(0);
    let report = out.json();
    let row = |c: &str, src: &str| {
        report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["collection"] == c && r["source"] == src)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("users", "track1")["imported"], 1);
    assert_eq!(row("users", "track1")["rejected"], 1);
    assert_eq!(row("users", "track1")["skipped"], 1);
    assert_eq!(row("users", "track2")["imported"], 2);
    assert_eq!(row("messages", "track2")["rejected"], 1);

    let db = s.db();
    let amina = comparable(find(&db, "users", "userId", A).await);
    let expected = doc! {
        "userId": uuid(A),
        "userType": "patient",
        "fullName": "Amina Diallo",
        "phoneNumber": "+221770000001",
        "preferredLanguage": "fr",
        "profile": {
            "patientId": uuid(A),
            "medicalInfo": {"conditions": ["asthma"], "allergies": [], "medications": ["salbutamol"]},
        },
        "isActive": true,
        "createdAt": date("2024-01-02T03:04:05.678Z"),
        "updatedAt": date("2024-02-01T00:00:00Z"),
        "trackOrigin": "track1",
        "migratedFrom": {"source": "postgresql_track1", "originalId": uuid(A)},
        "loginHistory": [
            {"timestamp": date("2024-05-02T11:00:00Z"), "userAgent": "curl"},
            {"timestamp": date("2024-05-01T10:00:00Z"), "ipAddress": "10.0.0.1", "userAgent": "Mozilla"},
        ],
    };
    assert_eq!(amina, expected);

    let quiet = comparable(find(&db, "users", "userId", U2).await);
    assert_eq!(
        quiet,
        doc! {
            "userId": uuid(U2),
            "userType": "user",
            "fullName": "Quiet User",
            "phoneNumber": "+15550002222",
            "isActive": true,
            "isVerified": false,
            "createdAt": date("2024-01-06T00:00:00Z"),
            "updatedAt": date("2024-01-06T00:00:00Z"),
            "trackOrigin": "track2",
            "migratedFrom": {"source": "postgresql_track2", "originalId": uuid(U2)},
        }
    );

    let session = comparable(find(&db, "feedback_sessions", "sessionId", S1).await);
    assert_eq!(
        session,
        doc! {
            "sessionId": uuid(S1),
            "userId": uuid(A),
            "sessionType": "post_visit",
            "department": "cardiology",
            "visitDate": date("2024-04-30T00:00:00Z"),
            "overallRating": 4,
            "recommendationScore": 9,
            "analytics": {"completionRate": "87.50".parse::<bson::Decimal128>().unwrap()},
            "status": "completed",
            "language": "fr",
            "createdAt": date("2024-05-01T00:00:00Z"),
            "updatedAt": date("2024-05-01T01:00:00Z"),
            "responses": [
                {"questionId": "q_overall", "question": "Overall?", "responseType": "rating", "rating": 4},
                {"questionId": "q_wait", "question": "How long did you wait?", "responseType": "text", "response": "Not long"},
            ],
        }
    );

    let conv = comparable(find(&db, "conversations", "conversationId", CONV).await);
    assert_eq!(conv.get("totalTokens"), Some(&Bson::Int64(5_000_000_000)));
    assert_eq!(conv.get("messageCount"), Some(&Bson::Int32(2)));
    assert_eq!(conv.get("avgResponseTime"), Some(&Bson::Double(1234.56)));
    assert!(
        !conv.contains_key("summary"),
        "NULL columns are left out: {conv}"
    );

    let m1 = comparable(find(&db, "messages", "messageId", M1).await);
    assert_eq!(
        m1,
        doc! {
            "messageId": uuid(M1),
            "conversationId": uuid(CONV),
            "userId": uuid(U1),
            "role": "user",
            "content": "I have a headache",
            "contentType": "text",
            "context": {"device": "ios", "sessionData": {"k": 1}},
            "timestamp": date("2024-06-01T12:01:00Z"),
            "createdAt": date("2024-06-01T12:01:00Z"),
            "editHistory": [
                {"editedAt": date("2024-06-01T12:01:30Z"), "oldContent": "I have a headach", "reason": "typo"},
            ],
        }
    );

    // The refused rows are in the rejects file with their keys and reasons.
    let rejects = rejects_lines(&s.rejects());
    let by_key = |k: &str| {
        rejects
            .iter()
            .find(|r| r["key"] == k)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_key(C)["collection"], "users");
    assert!(
        by_key(C)["reason"]
            .as_str()
            .unwrap()
            .contains("phoneNumber"),
        "{rejects:?}"
    );
    assert!(
        by_key(M2)["reason"].as_str().unwrap().contains("role"),
        "{rejects:?}"
    );
    assert_eq!(rejects.len(), 2, "{rejects:?}");

    // Everything adds up, and the checksums agree.
    let v = s.import(&["--verify", "-o", "json"]);
    v.expect_code(0);
    let rows = v.json()["verify"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert_eq!(r["rows_add_up"], true, "{r}");
        assert_eq!(r["children_add_up"], true, "{r}");
        assert_eq!(r["checksum_matches"], true, "{r}");
    }
    let t1 = rows
        .iter()
        .find(|r| r["collection"] == "users" && r["source"] == "track1")
        .unwrap();
    assert_eq!(
        (
            t1["source_rows"].as_u64(),
            t1["imported"].as_u64(),
            t1["rejected"].as_u64(),
            t1["skipped"].as_u64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    assert_eq!(t1["child_rows_source"], 2);

    // A change behind the import's back is found.
    db.collection::<Document>("users")
        .update_one(
            doc! {"userId": uuid(U1)},
            doc! {"$set": {"fullName": "Someone Else"}},
        )
        .await
        .unwrap();
    let v = s.import(&["--verify", "-o", "json"]);
    v.expect_code(2);
    let rows = v.json()["verify"].as_array().unwrap().clone();
    let t2 = rows
        .iter()
        .find(|r| r["collection"] == "users" && r["source"] == "track2")
        .unwrap();
    assert_eq!(t2["checksum_matches"], false, "{t2}");
    assert_eq!(t2["mismatched_keys"], serde_json::json!([U1]), "{t2}");
    assert_eq!(t2["rows_add_up"], true, "{t2}");

    // A second run finds every source done and writes nothing.
    let again = s.import(&["-o", "json"]);
    again.expect_code(0);
    assert!(
        again.json()["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["already_done"] == true)
    );
}

/// `n` patients (keys in order), one login each.
fn many_patients(n: usize) -> String {
    let mut sql =
        String::from("INSERT INTO track1.patients (patient_id, full_name, phone_number) VALUES\n");
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('00000000-0000-4000-8000-{i:012}', 'Patient {i}', '+1555{i:07}')"))
        .collect();
    sql.push_str(&rows.join(",\n"));
    sql.push_str(";\nINSERT INTO track1.patient_logins (patient_id, logged_in_at) SELECT patient_id, '2024-01-01 00:00:00+00' FROM track1.patients;\n");
    sql
}

fn with_app_name(uri: &str, app: &str) -> String {
    format!("{uri}&appName={app}")
}

async fn fail_point(client: &Client, data: Document, skip: i32) {
    client
        .database("admin")
        .run_command(
            doc! {"configureFailPoint": "failCommand", "mode": {"skip": skip}, "data": data},
        )
        .await
        .unwrap();
}

async fn fail_point_off(client: &Client) {
    client
        .database("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .await
        .unwrap();
}

#[tokio::test]
async fn an_import_killed_midway_resumes_without_duplicates_or_gaps() {
    let s = Setup::new(&many_patients(50)).await;
    let admin = s.mongo.client();
    let app = "pg-import-kill";
    let uri = with_app_name(&s.mongo.uri(), app);

    // 1. The connection drops on the 3rd insert: two batches are in, the third is not.
    fail_point(
        &admin,
        doc! {"failCommands": ["insert"], "closeConnection": true, "appName": app},
        2,
    )
    .await;
    let killed = s.import_on(&uri, &["--batch-size", "10"]);
    killed.expect_code(1);
    fail_point_off(&admin).await;
    let users = s.db().collection::<Document>("users");
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 20);

    // 2. Now a batch is inserted but its watermark is not recorded (the 4th update of this
    // run: lease, state, batch 3's watermark, then batch 4's).
    fail_point(
        &admin,
        doc! {"failCommands": ["update"], "closeConnection": true, "appName": app},
        3,
    )
    .await;
    let killed = s.import_on(&uri, &["--batch-size", "10"]);
    killed.expect_code(1);
    fail_point_off(&admin).await;
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 40);
    // A killed run's lease would expire after its TTL (60 s); the test releases it instead.
    s.mongo
        .client()
        .database("mongoctl")
        .collection::<Document>("locks")
        .delete_many(doc! {})
        .await
        .unwrap();

    // 3. The resumed run repeats batch 4, finds its own documents, and finishes.
    let done = s.import(&["--batch-size", "10", "-o", "json"]);
    done.expect_code(0);
    let report = done.json();
    let t1 = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "track1")
        .unwrap()
        .clone();
    assert_eq!(
        t1["resumed_after"], "00000000-0000-4000-8000-000000000029",
        "{t1}"
    );
    assert_eq!(t1["already_present"], 10, "{t1}");
    assert_eq!(t1["imported"], 10, "{t1}");
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 50);
    for i in 0..50 {
        let key = format!("00000000-0000-4000-8000-{i:012}");
        assert_eq!(
            users
                .count_documents(doc! {"userId": uuid(&key)})
                .await
                .unwrap(),
            1,
            "{key}"
        );
    }
    let v = s.import(&["--verify", "-o", "json"]);
    v.expect_code(0);
}

#[tokio::test]
async fn strict_stops_at_the_first_bad_row_and_resumes_there_once_fixed() {
    let mut rows = many_patients(30);
    rows.push_str("UPDATE track1.patients SET phone_number = 'not-a-phone' WHERE full_name IN ('Patient 14', 'Patient 21');\n");
    let s = Setup::new(&rows).await;
    let out = s.import(&["--strict", "--batch-size", "10"]);
    out.expect_code(1);
    let bad = "00000000-0000-4000-8000-000000000014";
    assert!(
        out.stderr.contains(bad) && out.stderr.contains("phoneNumber"),
        "{}",
        out.stderr
    );
    let users = s.db().collection::<Document>("users");
    // Rows before the bad one are in, none after it.
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 14);
    let lines = rejects_lines(&s.rejects());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["key"], bad);

    // Without --strict the same run goes on, rejecting both bad rows.
    let out = s.import(&["--batch-size", "10", "-o", "json"]);
    out.expect_code(0);
    assert_eq!(users.count_documents(doc! {}).await.unwrap(), 28);
    let keys: Vec<String> = rejects_lines(&s.rejects())
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        keys.contains(&"00000000-0000-4000-8000-000000000021".to_string()),
        "{keys:?}"
    );
    s.import(&["--verify"]).expect_code(0);
}

fn edit_mapping(ws: &Path, from: &str, to: &str) {
    let p = ws.join("imports/carechat.json");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test]
async fn bad_mappings_are_refused_before_any_write() {
    let s = Setup::new(&carechat_rows()).await;
    let no_write = async || {
        let client = s.mongo.client();
        let users = client
            .database("carechat_unified")
            .collection::<Document>("users");
        assert_eq!(users.count_documents(doc! {}).await.unwrap(), 0);
        let states = client
            .database("mongoctl")
            .collection::<Document>("imports");
        assert_eq!(states.count_documents(doc! {}).await.unwrap(), 0);
    };

    // A conversion the target schema contradicts: `check` refuses it offline.
    edit_mapping(
        s.ws(),
        r#""createdAt": "created_at","#,
        r#""createdAt": {"column": "created_at", "as": "string"},"#,
    );
    let check = mongoctl(s.ws(), &["check"]).run();
    check.expect_code(1);
    assert!(
        check.all().contains("imports/carechat.json:26:")
            && check
                .all()
                .contains("collections.users.sources[0].fields.createdAt.as")
            && check.all().contains("declares \"createdAt\" as date"),
        "{}",
        check.all()
    );
    s.import(&[]).expect_code(1);
    no_write().await;
    edit_mapping(
        s.ws(),
        r#""createdAt": {"column": "created_at", "as": "string"},"#,
        r#""createdAt": "created_at","#,
    );

    // An unknown table and an unknown column: found in the live catalog, before any write.
    edit_mapping(s.ws(), "\"track1.patients\"", "\"track1.patientz\"");
    edit_mapping(s.ws(), "\"fullName\": \"name\"", "\"fullName\": \"nmae\"");
    mongoctl(s.ws(), &["check"]).run().expect_code(0);
    let out = s.import(&[]);
    out.expect_code(1);
    let all = out.all();
    assert!(
        all.contains("imports/carechat.json:11:")
            && all.contains("collections.users.sources[0].table")
            && all.contains("track1.patientz")
            && all.contains("does not exist"),
        "{all}"
    );
    assert!(
        all.contains("collections.users.sources[1].fields.fullName")
            && all.contains("no column \"nmae\"; did you mean \"name\"?"),
        "{all}"
    );
    no_write().await;
}

#[tokio::test]
async fn the_password_is_never_printed() {
    let s = Setup::new(&carechat_rows()).await;
    // In the URI itself, on success and on failure.
    for (from, code) in [
        (s.pg.uri_with_password(), 0),
        (
            s.pg.uri_with_password().replace("/postgres", "/no_such_db"),
            1,
        ),
        (s.pg.uri_with_password().replace("pg-", "wrong-"), 1),
    ] {
        let out = mongoctl(
            s.ws(),
            &["import", "carechat", "--from", &from, "--dry-run"],
        )
        .uri(&s.mongo.uri())
        .run();
        if code == 0 {
            assert_eq!(out.code, 2, "{}", out.all());
        } else {
            out.expect_code(1);
        }
        assert!(!out.all().contains(&s.pg.password), "{}", out.all());
        assert!(
            !out.all().contains(&s.pg.password.replace("pg-", "wrong-")),
            "{}",
            out.all()
        );
    }
    // No password and no terminal to ask on: refused, saying where one comes from.
    let out = mongoctl(
        s.ws(),
        &["import", "carechat", "--from", &s.pg.uri(), "--dry-run"],
    )
    .uri(&s.mongo.uri())
    .run();
    out.expect_code(1);
    assert!(out.stderr.contains("set PGPASSWORD"), "{}", out.stderr);
    // From PGPASSWORD, with a wrong one: refused, not echoed.
    let out = mongoctl(
        s.ws(),
        &["import", "carechat", "--from", &s.pg.uri(), "--dry-run"],
    )
    .uri(&s.mongo.uri())
    .env("PGPASSWORD", "wrong-secret-value")
    .run();
    out.expect_code(1);
    assert!(
        out.stderr.contains("password authentication failed"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("wrong-secret-value"), "{}", out.all());
}

#[tokio::test]
async fn key_collisions_between_sources_follow_the_declared_rule() {
    // A Track 2 user with the same id as a Track 1 patient, and one with a Track 1 phone.
    let rows = format!(
        "{}\nINSERT INTO track2.users (user_id, name, phone) VALUES ('{A}', 'Same Id', '+15550009999'), ('{}', 'Same Phone', '+221770000001');\n",
        carechat_rows(),
        "1c1c1c1c-0000-4000-8000-0000000000c3"
    );
    let s = Setup::new(&rows).await;
    let out = s.import(&["-o", "json"]);
    out.expect_code(0);
    let rejects = rejects_lines(&s.rejects());
    let same_id = rejects
        .iter()
        .find(|r| r["source"] == "track2" && r["key"] == A)
        .unwrap();
    assert!(
        same_id["reason"]
            .as_str()
            .unwrap()
            .contains("key collision")
            && same_id["reason"]
                .as_str()
                .unwrap()
                .contains("(from postgresql_track1)"),
        "{same_id}"
    );
    assert!(same_id.get("collision").is_none(), "{same_id}");
    let same_phone = rejects
        .iter()
        .find(|r| r["key"] == "1c1c1c1c-0000-4000-8000-0000000000c3")
        .unwrap();
    assert!(
        same_phone["reason"]
            .as_str()
            .unwrap()
            .contains("duplicate key"),
        "{same_phone}"
    );
    // The first document stayed as it was.
    let kept = find(&s.db(), "users", "userId", A).await;
    assert_eq!(kept.get_str("fullName").unwrap(), "Amina Diallo");
    s.import(&["--verify"]).expect_code(0);

    // keepFirst: recorded as a collision, which --strict tolerates.
    let s = Setup::new(&rows).await;
    edit_mapping(
        s.ws(),
        r#""onKeyCollision": "reject""#,
        r#""onKeyCollision": "keepFirst""#,
    );
    s.pg.exec("DELETE FROM track1.patients WHERE patient_id = '0c0c0c0c-0000-4000-8000-00000000000c'; DELETE FROM track2.users WHERE phone = '+221770000001'; DELETE FROM track2.messages WHERE role = 'robot';").await;
    let out = s.import(&["--strict", "-o", "json"]);
    out.expect_code(0);
    let rejects = rejects_lines(&s.rejects());
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["collision"], true);
    assert!(
        rejects[0]["reason"].as_str().unwrap().contains("keepFirst"),
        "{rejects:?}"
    );
}
