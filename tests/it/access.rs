//! Access control as code on an auth-enabled mongod: roles and users converge, least
//! privilege holds when logging in as them, out-of-band changes are caught by plan and audit,
//! and no password ever appears in what mongoctl prints or records.

use bson::{DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Client;

use crate::common;
use crate::support::{Output, mongoctl, repo, write};

/// The working passwords of a secrets file (each user's newest confirmed entry): (user,
/// password).
fn generated(path: &std::path::Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = mongoctl::secrets::confirmed_passwords(path)
        .unwrap()
        .into_iter()
        .map(|(key, pw)| (key.split('@').next().unwrap().to_string(), pw))
        .collect();
    v.sort();
    v
}

fn password_of(secrets: &[(String, String)], user: &str) -> String {
    secrets
        .iter()
        .rev()
        .find(|(u, _)| u == user)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("no secret for {user}"))
}

async fn login(server: &common::TestServer, user: &str, password: &str) -> Client {
    let port = server.ports()[0];
    Client::with_uri_str(format!(
        "mongodb://{user}:{password}@127.0.0.1:{port}/?directConnection=true&authSource=admin"
    ))
    .await
    .unwrap()
}

fn assert_no_secret(outputs: &[&Output], secrets: &[String]) {
    for o in outputs {
        for s in secrets {
            assert!(
                !o.all().contains(s.as_str()),
                "a password was printed:\n{}",
                o.all()
            );
        }
    }
}

fn is_unauthorized(e: &mongodb::error::Error) -> bool {
    let t = e.to_string();
    t.contains("not authorized") || t.contains("Unauthorized")
}

#[tokio::test]
async fn roles_and_users_converge_and_enforce_least_privilege() {
    let server = common::auth_standalone().await;
    let dir = tempfile::tempdir().unwrap();
    let secrets_path = dir.path().join("secrets.jsonl");
    let ws = repo();
    let apply = mongoctl(
        &ws,
        &["apply", "--secrets-file", secrets_path.to_str().unwrap()],
    )
    .uri(&server.uri())
    .run();
    apply.expect_code(0);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secrets_path).unwrap().permissions(),
    ) & 0o777;
    assert_eq!(mode, 0o600);
    let secrets = generated(&secrets_path);
    assert_eq!(secrets.len(), 14, "11 services + analytics + backup + dba");

    let plan = mongoctl(&ws, &["plan", "--exit-code", "-o", "json"])
        .uri(&server.uri())
        .run();
    plan.expect_code(0);
    let audit = mongoctl(&ws, &["audit", "-o", "json"])
        .uri(&server.uri())
        .run();
    audit.expect_code(2);
    // Only the root user the test server was created with is outside the spec.
    let findings = audit.json()["findings"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings.iter().all(|f| f["subject"] == "user root@admin"),
        "{findings:?}"
    );

    // A domain's service user writes its own database and nothing else.
    let svc_auth = login(&server, "svc_auth", &password_of(&secrets, "svc_auth")).await;
    svc_auth
        .database("reminderdb_auth")
        .collection::<Document>("scratch")
        .insert_one(doc! {"a": 1})
        .await
        .unwrap();
    let refused = svc_auth
        .database("reminderdb_feedback")
        .collection::<Document>("scratch")
        .insert_one(doc! {"a": 1})
        .await
        .unwrap_err();
    assert!(is_unauthorized(&refused), "{refused}");

    // The append-only audit role: find and insert, never update or delete.
    let svc_data = login(&server, "svc_data", &password_of(&secrets, "svc_data")).await;
    let audit_logs = svc_data
        .database("reminderdb_auth")
        .collection::<Document>("audit_logs");
    audit_logs.insert_one(doc! {"timestamp": DateTime::now(), "action": "patient_data_read", "severity": "low", "success": true}).await.unwrap();
    assert_eq!(
        audit_logs
            .find(doc! {})
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        1
    );
    let e = audit_logs
        .update_one(doc! {}, doc! {"$set": {"success": false}})
        .await
        .unwrap_err();
    assert!(is_unauthorized(&e), "{e}");
    let e = audit_logs.delete_many(doc! {}).await.unwrap_err();
    assert!(is_unauthorized(&e), "{e}");

    // The analytics user reads but cannot write.
    let analytics = login(
        &server,
        "analytics_ro",
        &password_of(&secrets, "analytics_ro"),
    )
    .await;
    analytics
        .database("reminderdb_feedback")
        .collection::<Document>("feedback")
        .find_one(doc! {})
        .await
        .unwrap();
    let e = analytics
        .database("reminderdb_feedback")
        .collection::<Document>("feedback")
        .insert_one(doc! {"x": 1})
        .await
        .unwrap_err();
    assert!(is_unauthorized(&e), "{e}");

    // Nothing printed or recorded carries a password.
    let all: Vec<String> = secrets
        .iter()
        .map(|(_, p)| p.clone())
        .chain([common::ROOT_PASSWORD.to_string()])
        .collect();
    assert_no_secret(&[&apply, &plan, &audit], &all);
    let history =
        crate::support::all_documents(&server.client(), "mongoctl", "apply_history").await;
    let history_text = format!("{history:?}");
    assert!(
        history_text.contains("svc_auth"),
        "history names the users it created"
    );
    for s in &all {
        assert!(
            !history_text.contains(s.as_str()),
            "a password reached apply_history"
        );
    }
}

#[tokio::test]
async fn out_of_band_access_changes_are_caught_by_plan_and_audit_and_pruned() {
    let server = common::auth_standalone().await;
    let ws = repo().join("examples").join("chat-platform");
    mongoctl(&ws, &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let admin = server.client().database("admin");
    admin
        .run_command(
            doc! {"grantRolesToUser": "svc_platform", "roles": [{"role": "root", "db": "admin"}]},
        )
        .await
        .unwrap();
    admin
        .run_command(doc! {"updateRole": "audit_appender", "privileges": [{"resource": {"db": "caas_platform", "collection": "audit_logs"}, "actions": ["find", "insert", "remove"]}], "roles": []})
        .await
        .unwrap();
    admin.run_command(doc! {"createUser": "intruder", "pwd": "intruder-pw-1234", "roles": [{"role": "readWriteAnyDatabase", "db": "admin"}]}).await.unwrap();

    let plan = mongoctl(&ws, &["plan", "-o", "json", "--exit-code"])
        .uri(&server.uri())
        .run();
    plan.expect_code(2);
    let p = plan.json();
    let changes: Vec<(String, String)> = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().into(),
                c["summary"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let role = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update_role")
        .unwrap();
    assert_eq!(
        role["details"],
        serde_json::json!(["- remove on caas_platform.audit_logs"])
    );
    let user = p["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update_user")
        .unwrap();
    assert_eq!(user["details"], serde_json::json!(["- root@admin"]));
    let unmanaged: Vec<String> = p["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}@{}",
                u["name"].as_str().unwrap(),
                u["database"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        unmanaged.contains(&"intruder@admin".to_string())
            && unmanaged.contains(&"root@admin".to_string()),
        "{unmanaged:?}"
    );

    let audit = mongoctl(&ws, &["audit", "-o", "json"])
        .uri(&server.uri())
        .run();
    audit.expect_code(2);
    let kinds: Vec<(String, String)> = audit.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().into(),
                f["subject"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("excess_privilege", "user svc_platform@admin"),
        ("user_drift", "user svc_platform@admin"),
        ("undeclared_user", "user intruder@admin"),
        ("role_drift", "role audit_appender@admin"),
    ] {
        assert!(
            kinds.contains(&(expected.0.to_string(), expected.1.to_string())),
            "missing {expected:?} in {kinds:?}"
        );
    }

    // Converge; prune needs --yes and never drops the user we are connected as.
    mongoctl(&ws, &["apply", "--skip-sharding"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    mongoctl(&ws, &["apply", "--skip-sharding", "--prune"])
        .uri(&server.uri())
        .run()
        .expect_code(1);
    mongoctl(&ws, &["apply", "--skip-sharding", "--prune", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let users: Vec<String> = mongoctl::live::inspect_access(&server.client(), true)
        .await
        .unwrap()
        .users
        .iter()
        .map(|u| u.name.clone())
        .collect();
    assert!(
        !users.contains(&"intruder".to_string()) && users.contains(&"root".to_string()),
        "{users:?}"
    );
    let audit = mongoctl(&ws, &["audit", "-o", "json"])
        .uri(&server.uri())
        .run();
    let left: Vec<String> = audit.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(left.iter().all(|s| s == "user root@admin"), "{left:?}");
}

#[tokio::test]
async fn rotate_sets_a_new_password_from_the_declared_source_without_printing_it() {
    let server = common::auth_standalone().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    write(
        ws,
        "mongoctl.json",
        r#"{"project": "r", "domains": {"app": {"database": "r_app", "collections": {"things": {}}}},
        "users": {"svc_app": {"roles": [{"role": "readWrite", "domain": "app"}], "password": {"env": "APP_PW"}}}}"#,
    );
    let first = "first-Password-1";
    let apply = mongoctl(ws, &["apply"])
        .uri(&server.uri())
        .env("APP_PW", first)
        .run();
    apply.expect_code(0);
    login(&server, "svc_app", first)
        .await
        .database("r_app")
        .collection::<Document>("things")
        .insert_one(doc! {"a": 1})
        .await
        .unwrap();

    let missing = mongoctl(ws, &["users", "rotate", "svc_app"])
        .uri(&server.uri())
        .run();
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("APP_PW is not set"),
        "{}",
        missing.stderr
    );

    let second = "second-Password-2";
    let rotate = mongoctl(ws, &["users", "rotate", "svc_app"])
        .uri(&server.uri())
        .env("APP_PW", second)
        .run();
    rotate.expect_code(0);
    assert!(
        rotate.stdout.contains("rotated (source: env APP_PW)"),
        "{}",
        rotate.stdout
    );
    login(&server, "svc_app", second)
        .await
        .database("r_app")
        .collection::<Document>("things")
        .insert_one(doc! {"a": 2})
        .await
        .unwrap();
    let old = login(&server, "svc_app", first)
        .await
        .database("r_app")
        .collection::<Document>("things")
        .insert_one(doc! {"a": 3})
        .await
        .unwrap_err();
    assert!(old.to_string().contains("Authentication failed"), "{old}");
    assert_no_secret(
        &[&apply, &missing, &rotate],
        &[first.into(), second.into(), common::ROOT_PASSWORD.into()],
    );

    // --username with the password from the environment instead of the URI.
    let h = mongoctl(ws, &["health", "-o", "json", "--username", "svc_app"])
        .uri(&server.uri_without_credentials())
        .env("MONGOCTL_PASSWORD", second)
        .run();
    h.expect_code(0);
    assert_eq!(
        h.json()["health"]["authenticated_users"][0],
        "svc_app@admin"
    );
    assert_no_secret(&[&h], &[second.into()]);
}

/// Precise diagnostics for bad access declarations; `line` is where `marker` appears.
#[test]
fn bad_access_declarations_are_rejected_by_check() {
    let outside = tempfile::NamedTempFile::new().unwrap();
    let cases: Vec<(&str, String, &str, &str, &str)> = vec![
        (
            "undeclared role",
            r#"{"role": "auditor"}"#.into(),
            "users.u.roles[0].role",
            "\"auditor\"",
            "role \"auditor\" is neither declared in \"roles\" nor a MongoDB built-in role",
        ),
        (
            "unknown domain",
            r#"{"role": "readWrite", "domain": "billing"}"#.into(),
            "users.u.roles[0].domain",
            "\"billing\"",
            "\"billing\" is not a declared domain; did you mean \"bill\"?",
        ),
        (
            "built-in without db",
            r#"{"role": "readWrite"}"#.into(),
            "users.u.roles[0]",
            "\"readWrite\"",
            "built-in role \"readWrite\" needs a \"domain\" or a \"db\"",
        ),
        (
            "admin-only role",
            r#"{"role": "root", "domain": "bill"}"#.into(),
            "users.u.roles[0]",
            "\"root\"",
            "\"root\" exists only on the admin database",
        ),
    ];
    let mut failures = Vec::new();
    for (name, role_ref, path, marker, message) in cases {
        let manifest = format!(
            "{{\n  \"project\": \"p\",\n  \"domains\": {{\"bill\": {{\"database\": \"b\", \"collections\": {{\"c\": {{}}}}}}}},\n  \"users\": {{\n    \"u\": {{\n      \"roles\": [\n        {role_ref}\n      ],\n      \"password\": {{\"generate\": true}}\n    }}\n  }}\n}}\n"
        );
        failures.extend(check_one(name, &manifest, path, marker, message));
    }
    let role_cases = vec![
        (
            "unknown action",
            r#""actions": ["find", "inserts"]"#,
            "roles.r.privileges[0].actions[1]",
            "\"inserts\"",
            "\"inserts\" is not a MongoDB privilege action; did you mean \"insert\"?",
        ),
        (
            "privilege on unknown domain",
            r#""resource": {"domain": "bil"}, "actions": ["find"]"#,
            "roles.r.privileges[0].resource.domain",
            "\"bil\"",
            "\"bil\" is not a declared domain; did you mean \"bill\"?",
        ),
    ];
    for (name, body, path, marker, message) in role_cases {
        let resource = if body.contains("resource") {
            ""
        } else {
            "\"resource\": {\"domain\": \"bill\"}, "
        };
        let manifest = format!(
            "{{\n  \"project\": \"p\",\n  \"domains\": {{\"bill\": {{\"database\": \"b\", \"collections\": {{\"c\": {{}}}}}}}},\n  \"roles\": {{\n    \"r\": {{\n      \"privileges\": [\n        {{{resource}{body}}}\n      ]\n    }}\n  }}\n}}\n"
        );
        failures.extend(check_one(name, &manifest, path, marker, message));
    }
    let literal = "{\n  \"project\": \"p\",\n  \"domains\": {\"bill\": {\"database\": \"b\", \"collections\": {\"c\": {}}}},\n  \"users\": {\n    \"u\": {\n      \"roles\": [{\"role\": \"read\", \"domain\": \"bill\"}],\n      \"password\": \"hunter2-literal\"\n    }\n  }\n}\n";
    failures.extend(check_one(
        "literal password",
        literal,
        "users.u.password",
        "hunter2",
        "literal password: passwords never live in the repo",
    ));
    let inside = literal.replace("\"hunter2-literal\"", "{\"file\": \"WS/pw.txt\"}");
    failures.extend(check_one(
        "password file inside the workspace",
        &inside,
        "users.u.password.file",
        "pw.txt",
        "the password file is inside the workspace",
    ));
    let env_name = literal.replace("\"hunter2-literal\"", "{\"env\": \"my-var\"}");
    failures.extend(check_one(
        "bad env name",
        &env_name,
        "users.u.password.env",
        "my-var",
        "\"my-var\" is not an environment variable name",
    ));
    let uri = literal.replace("\"project\": \"p\",", "\"project\": \"p\",\n  \"environments\": {\"dev\": {\"description\": \"mongodb://admin:s3cret@db.internal/\"}},");
    failures.extend(check_one(
        "uri with password",
        &uri,
        "environments.dev.description",
        "s3cret",
        "a connection string with a password",
    ));
    let outside_file = literal.replace(
        "\"hunter2-literal\"",
        &format!("{{\"file\": \"{}\"}}", outside.path().display()),
    );
    let ok = tempfile::tempdir().unwrap();
    write(ok.path(), "mongoctl.json", &outside_file);
    mongoctl(ok.path(), &["check"]).run().expect_code(0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A literal secret in seed data.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mongoctl.json",
        &literal.replace("\"hunter2-literal\"", "{\"generate\": true}"),
    );
    write(
        dir.path(),
        "seeds/bill/c.json",
        "{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {\"name\": \"stripe\", \"api_key\": \"sk_live_abc\"}\n  ]\n}\n",
    );
    let out = mongoctl(dir.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.stdout.contains("seeds/bill/c.json:4:")
            && out
                .stdout
                .contains("documents[0].api_key: \"api_key\" looks like a literal secret"),
        "{}",
        out.stdout
    );
}

fn check_one(
    name: &str,
    manifest: &str,
    path: &str,
    marker: &str,
    message: &str,
) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest.replace("WS/", &format!("{}/", dir.path().display()));
    write(dir.path(), "mongoctl.json", &manifest);
    let line = manifest
        .lines()
        .position(|l| l.contains(marker))
        .map(|i| i as u64 + 1)
        .unwrap_or(0);
    let out = mongoctl(dir.path(), &["check", "-o", "json"]).run();
    let report = out.json();
    let found = report["diagnostics"].as_array().unwrap().iter().any(|d| {
        d["json_path"] == path
            && d["line"] == line
            && d["message"].as_str().unwrap().contains(message)
    });
    (out.code != 1 || !found).then(|| {
        format!(
            "{name}: exit {}, expected line {line} {path} \"{message}\", got {}",
            out.code, report["diagnostics"]
        )
    })
}

/// A small workspace whose users get generated passwords.
fn generated_users_workspace(ws: &std::path::Path, users: usize) {
    let users: Vec<String> = (0..users)
        .map(|i| {
            format!(
                r#""svc_{i}": {{"roles": [{{"role": "readWrite", "domain": "app"}}], "password": {{"generate": true}}}}"#
            )
        })
        .collect();
    write(
        ws,
        "mongoctl.json",
        &format!(
            r#"{{"project": "g", "domains": {{"app": {{"database": "g_app", "collections": {{"things": {{}}}}}}}},
            "users": {{{}}}}}"#,
            users.join(",")
        ),
    );
}

async fn can_log_in(server: &common::TestServer, user: &str, password: &str) -> bool {
    login(server, user, password)
        .await
        .database("g_app")
        .run_command(doc! {"ping": 1})
        .await
        .is_ok()
}

fn line_count(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// A rotate the server refuses leaves a `failed` line, and the working (confirmed) password
/// is still the old one: before, the refused password was the newest entry.
#[tokio::test]
async fn a_refused_rotate_keeps_the_confirmed_password_the_working_one() {
    let server = common::auth_standalone().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    generated_users_workspace(&ws, 1);
    let secrets_path = dir.path().join("secrets.jsonl");
    let secrets_arg = ["--secrets-file", secrets_path.to_str().unwrap()];
    mongoctl(&ws, &[&["apply"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .run()
        .expect_code(0);
    let before = mongoctl::secrets::confirmed_passwords(&secrets_path).unwrap();
    let old = before["svc_0@admin"].clone();
    assert!(can_log_in(&server, "svc_0", &old).await);

    // The server refuses the updateUser.
    server
        .client()
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["updateUser"], "errorCode": 8000},
        })
        .await
        .unwrap();
    let rotate = mongoctl(
        &ws,
        &[&["users", "rotate", "svc_0"][..], &secrets_arg].concat(),
    )
    .uri(&server.uri())
    .run();
    rotate.expect_code(1);
    assert!(
        rotate.stderr.contains("the password did not change"),
        "{}",
        rotate.stderr
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&secrets_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "failed", "{lines:?}");
    assert!(
        last.get("password").is_none(),
        "a status line never repeats the password"
    );
    let refused = &lines[lines.len() - 2];
    assert_eq!(refused["status"], "pending");
    assert_eq!(refused["id"], last["id"]);
    let after = mongoctl::secrets::confirmed_passwords(&secrets_path).unwrap();
    assert_eq!(
        after["svc_0@admin"], old,
        "the working password is still the old one"
    );
    assert!(can_log_in(&server, "svc_0", &old).await);
    assert!(!can_log_in(&server, "svc_0", refused["password"].as_str().unwrap()).await);

    // A rotate the server takes is confirmed and becomes the working password.
    mongoctl(
        &ws,
        &[&["users", "rotate", "svc_0"][..], &secrets_arg].concat(),
    )
    .uri(&server.uri())
    .run()
    .expect_code(0);
    let rotated = mongoctl::secrets::confirmed_passwords(&secrets_path).unwrap();
    assert_ne!(rotated["svc_0@admin"], old);
    assert!(can_log_in(&server, "svc_0", &rotated["svc_0@admin"]).await);
    assert!(!can_log_in(&server, "svc_0", &old).await);
}

/// Two applies at once: the second finds the first's lease and fails naming it, before it
/// generates or records any password; every recorded working password logs in.
#[tokio::test]
async fn concurrent_applies_never_both_run_and_every_confirmed_password_works() {
    let server = common::auth_standalone().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    generated_users_workspace(&ws, 6);
    let secrets_path = dir.path().join("secrets.jsonl");
    let secrets_arg = ["--secrets-file", secrets_path.to_str().unwrap()];
    let admin = server.client();
    let entered = admin
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["createUser"], "blockConnection": true, "blockTimeMS": 8000},
        })
        .await
        .unwrap()
        .get_i32("count")
        .unwrap();
    let first = mongoctl(&ws, &[&["apply"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .spawn();
    // The first apply holds the lease and is inside its first createUser.
    crate::backup::wait_for_fail_point(&admin, entered + 1).await;
    let lines_while_held = line_count(&secrets_path);
    let second = mongoctl(&ws, &[&["apply"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .run();
    second.expect_code(1);
    assert!(
        second
            .stderr
            .contains("another mongoctl run is changing this cluster")
            && second.stderr.contains("mongoctl apply"),
        "{}",
        second.stderr
    );
    assert_eq!(
        line_count(&secrets_path),
        lines_while_held,
        "the loser recorded nothing"
    );
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let working = mongoctl::secrets::confirmed_passwords(&secrets_path).unwrap();
    assert_eq!(working.len(), 6, "{working:?}");
    for (key, pw) in &working {
        let user = key.split('@').next().unwrap();
        assert!(
            can_log_in(&server, user, pw).await,
            "{user}'s confirmed password fails"
        );
    }
    // The lease was given back: a third apply runs (and has nothing to do).
    let again = mongoctl(&ws, &[&["apply", "-o", "json"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .run();
    again.expect_code(0);
    assert_eq!(again.json()["applied"], 0);
}

/// A lease held by another run blocks; one that expired (by the server's clock) is taken
/// over; `--lock-wait` waits for a holder that lets go.
#[tokio::test]
async fn the_cluster_lease_blocks_expires_and_can_be_waited_for() {
    let server = common::auth_standalone().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    generated_users_workspace(&ws, 1);
    let secrets_arg = [
        "--secrets-file",
        dir.path().join("s.jsonl").to_str().unwrap(),
    ]
    .map(String::from);
    let secrets_arg: Vec<&str> = secrets_arg.iter().map(String::as_str).collect();
    let locks = server
        .client()
        .database("mongoctl")
        .collection::<Document>("locks");
    let far = DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000);
    locks
        .insert_one(doc! {"_id": "cluster-changes", "owner": bson::oid::ObjectId::new(), "command": "mongoctl migrate up", "host": "ops-7", "pid": 4242_i64, "acquired_at": DateTime::now(), "expires_at": far})
        .await
        .unwrap();
    let blocked = mongoctl(&ws, &[&["apply"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .run();
    blocked.expect_code(1);
    assert!(
        blocked.stderr.contains("mongoctl migrate up")
            && blocked.stderr.contains("ops-7")
            && blocked.stderr.contains("4242"),
        "{}",
        blocked.stderr
    );
    let rotate = mongoctl(
        &ws,
        &[&["users", "rotate", "svc_0"][..], &secrets_arg].concat(),
    )
    .uri(&server.uri())
    .run();
    rotate.expect_code(1);
    assert!(rotate.stderr.contains("ops-7"), "{}", rotate.stderr);

    // Expired by the server's clock: taken over.
    locks
        .update_one(
            doc! {"_id": "cluster-changes"},
            doc! {"$set": {"expires_at": DateTime::from_millis(0)}},
        )
        .await
        .unwrap();
    mongoctl(&ws, &[&["apply"][..], &secrets_arg].concat())
        .uri(&server.uri())
        .run()
        .expect_code(0);
    assert_eq!(
        locks.count_documents(doc! {}).await.unwrap(),
        0,
        "released after the run"
    );

    // Held again, then let go while the next run waits.
    locks
        .insert_one(doc! {"_id": "cluster-changes", "owner": bson::oid::ObjectId::new(), "command": "x", "expires_at": far})
        .await
        .unwrap();
    let waiting = mongoctl(
        &ws,
        &[
            &["users", "rotate", "svc_0", "--lock-wait", "60"][..],
            &secrets_arg,
        ]
        .concat(),
    )
    .uri(&server.uri())
    .spawn();
    locks
        .delete_one(doc! {"_id": "cluster-changes"})
        .await
        .unwrap();
    let waited = waiting.wait_with_output().unwrap();
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
}
