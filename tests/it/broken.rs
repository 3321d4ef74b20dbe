//! A corpus of broken workspace files: each must produce its precise diagnostic (file, JSON
//! path, line, message) from `check`, and make `apply` fail before any write reaches the server.

use std::path::Path;

use crate::common;
use crate::support::{mongoctl, write};

const MANIFEST: &str = r#"{
  "project": "t",
  "defaultEnvironment": "dev",
  "environments": {"dev": {"uriEnv": "T_URI"}},
  "domains": {
    "auth": {
      "database": "t_auth",
      "collections": {
        "users": {"validationLevel": "strict"},
        "roles": {},
        "events": {"capped": {"size": 4096}},
        "metrics": {"timeseries": {"timeField": "ts"}}
      }
    }
  }
}
"#;

const USERS_SCHEMA: &str = r#"{
  "bsonType": "object",
  "required": ["email", "role"],
  "properties": {
    "email": {"bsonType": "string"},
    "role": {"enum": ["admin", "doctor"]}
  }
}
"#;

const USERS_INDEXES: &str = r#"{
  "indexes": [
    {"key": {"email": 1}, "unique": true}
  ]
}
"#;

const ROLES_SEEDS: &str = r#"{
  "key": ["name"],
  "documents": [
    {"name": "admin"}
  ]
}
"#;

fn base(dir: &Path) {
    write(dir, "mongoctl.json", MANIFEST);
    write(dir, "schemas/auth/users.json", USERS_SCHEMA);
    write(
        dir,
        "schemas/auth/roles.json",
        r#"{"bsonType": "object", "required": ["name"], "properties": {"name": {"bsonType": "string"}}}"#,
    );
    write(dir, "indexes/auth/users.json", USERS_INDEXES);
    write(dir, "seeds/auth/roles.json", ROLES_SEEDS);
}

struct Case {
    name: &'static str,
    file: &'static str,
    content: String,
    /// JSON path of the diagnostic (`$` for the file as a whole).
    path: &'static str,
    line: u64,
    message: &'static str,
}

fn case(
    name: &'static str,
    file: &'static str,
    content: impl Into<String>,
    path: &'static str,
    line: u64,
    message: &'static str,
) -> Case {
    Case {
        name,
        file,
        content: content.into(),
        path,
        line,
        message,
    }
}

fn manifest_with(from: &str, to: &str) -> String {
    assert!(MANIFEST.contains(from), "{from}");
    MANIFEST.replace(from, to)
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "manifest typo",
            "mongoctl.json",
            manifest_with("\"domains\"", "\"domians\""),
            "domians",
            5,
            "unknown field \"domians\" in the manifest; did you mean \"domains\"?",
        ),
        case(
            "manifest missing project",
            "mongoctl.json",
            manifest_with("\"project\": \"t\",", ""),
            "$",
            1,
            "missing required field \"project\" in the manifest",
        ),
        case(
            "bad validationLevel",
            "mongoctl.json",
            manifest_with("\"strict\"}", "\"strickt\"}"),
            "domains.auth.collections.users.validationLevel",
            9,
            "\"strickt\" is not one of \"off\", \"strict\", \"moderate\" (did you mean \"strict\"?)",
        ),
        case(
            "capped size not a number",
            "mongoctl.json",
            manifest_with("4096", "\"4k\""),
            "domains.auth.collections.events.capped.size",
            11,
            "expected a whole number, found \"4k\"",
        ),
        case(
            "bad database name",
            "mongoctl.json",
            manifest_with("\"t_auth\"", "\"t.auth\""),
            "domains.auth.database",
            7,
            "contains '.', which MongoDB does not allow",
        ),
        case(
            "undeclared default environment",
            "mongoctl.json",
            manifest_with(
                "\"defaultEnvironment\": \"dev\"",
                "\"defaultEnvironment\": \"devv\"",
            ),
            "defaultEnvironment",
            3,
            "environment \"devv\" is not declared in \"environments\"; did you mean \"dev\"?",
        ),
        case(
            "unknown collection option",
            "mongoctl.json",
            manifest_with(
                "\"roles\": {}",
                "\"roles\": {\"validationActon\": \"warn\"}",
            ),
            "domains.auth.collections.roles.validationActon",
            10,
            "did you mean \"validationAction\"?",
        ),
        case(
            "capped and time series",
            "mongoctl.json",
            manifest_with(
                "{\"timeField\": \"ts\"}",
                "{\"timeField\": \"ts\"}, \"capped\": {\"size\": 1}",
            ),
            "domains.auth.collections.metrics",
            12,
            "a collection cannot be both capped and time series",
        ),
        case(
            "syntax error",
            "schemas/auth/users.json",
            "{\n  \"bsonType\": \"object\",\n}\n",
            "$",
            3,
            "invalid JSON: trailing comma",
        ),
        case(
            "duplicate key",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [],\n  \"indexes\": []\n}\n",
            "indexes",
            3,
            "duplicate key",
        ),
        case(
            "$ref in schema",
            "schemas/auth/users.json",
            "{\n  \"bsonType\": \"object\",\n  \"properties\": {\"a\": {\"$ref\": \"#/x\"}}\n}\n",
            "properties.a.$ref",
            3,
            "$ref",
        ),
        case(
            "type integer",
            "schemas/auth/users.json",
            "{\n  \"properties\": {\n    \"n\": {\"type\": \"integer\"}\n  }\n}\n",
            "properties.n.type",
            3,
            "bsonType",
        ),
        case(
            "schema keyword typo",
            "schemas/auth/users.json",
            "{\n  \"bsonType\": \"object\",\n  \"requried\": [\"email\"]\n}\n",
            "requried",
            3,
            "did you mean \"required\"",
        ),
        case(
            "draft-6 exclusiveMinimum",
            "schemas/auth/users.json",
            "{\n  \"properties\": {\n    \"n\": {\"minimum\": 1, \"exclusiveMinimum\": 1}\n  }\n}\n",
            "properties.n.exclusiveMinimum",
            3,
            "boolean",
        ),
        case(
            "pattern the server cannot use",
            "schemas/auth/users.json",
            "{\n  \"properties\": {\n    \"code\": {\"pattern\": \"(\"}\n  }\n}\n",
            "properties.code.pattern",
            3,
            "invalid regular expression \"(\": missing closing parenthesis",
        ),
        case(
            "validator on time series",
            "schemas/auth/metrics.json",
            "{\n  \"bsonType\": \"object\"\n}\n",
            "$",
            1,
            "time-series collections cannot have a validator",
        ),
        case(
            "duplicate index name",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": 1}, \"name\": \"x\"},\n    {\"key\": {\"b\": 1}, \"name\": \"x\"}\n  ]\n}\n",
            "indexes[1]",
            4,
            "index name \"x\" is also used at indexes[0]",
        ),
        case(
            "duplicate index key",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": 1}},\n    {\"key\": {\"a\": 1}, \"name\": \"again\"}\n  ]\n}\n",
            "indexes[1]",
            4,
            "same key as the index at indexes[0]",
        ),
        case(
            "TTL on compound",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": 1, \"b\": 1},\n     \"expireAfterSeconds\": 60}\n  ]\n}\n",
            "indexes[0].expireAfterSeconds",
            4,
            "a TTL index (expireAfterSeconds) must have a single field",
        ),
        case(
            "bad index direction",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": \"up\"}}\n  ]\n}\n",
            "indexes[0].key.a",
            3,
            "index direction must be 1, -1",
        ),
        case(
            "sparse with partial",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": 1}, \"sparse\": true,\n     \"partialFilterExpression\": {\"a\": {\"$exists\": true}}}\n  ]\n}\n",
            "indexes[0].partialFilterExpression",
            4,
            "partialFilterExpression and sparse cannot be combined",
        ),
        case(
            "weights on non-text",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": 1}, \"weights\": {\"a\": 2}}\n  ]\n}\n",
            "indexes[0].weights",
            3,
            "\"weights\" applies only to text indexes",
        ),
        case(
            "_id index declared",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"_id\": 1}}\n  ]\n}\n",
            "indexes[0].key",
            3,
            "the _id index exists on every collection",
        ),
        case(
            "two text indexes",
            "indexes/auth/users.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"a\": \"text\"}},\n    {\"key\": {\"b\": \"text\"}}\n  ]\n}\n",
            "indexes[1]",
            4,
            "only one text index",
        ),
        case(
            "TTL on capped",
            "indexes/auth/events.json",
            "{\n  \"indexes\": [\n    {\"key\": {\"at\": 1}, \"expireAfterSeconds\": 5}\n  ]\n}\n",
            "indexes[0]",
            3,
            "TTL indexes are not supported on capped collections",
        ),
        case(
            "seed violates validator",
            "seeds/auth/users.json",
            "{\n  \"key\": [\"email\"],\n  \"documents\": [\n    {\"email\": \"a@b.c\", \"role\": \"janitor\"}\n  ]\n}\n",
            "documents[0].role",
            4,
            "does not satisfy the collection's $jsonSchema",
        ),
        case(
            "duplicate natural key",
            "seeds/auth/roles.json",
            "{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {\"name\": \"admin\"},\n    {\"name\": \"admin\"}\n  ]\n}\n",
            "documents[1]",
            5,
            "natural key [\"admin\"] is also used by documents[0]",
        ),
        case(
            "seed missing key",
            "seeds/auth/roles.json",
            "{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {\"title\": \"admin\"}\n  ]\n}\n",
            "documents[0]",
            4,
            "missing natural key field \"name\"",
        ),
        case(
            "bad extended JSON",
            "seeds/auth/roles.json",
            "{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {\"name\": \"a\", \"at\": {\"$date\": \"yesterday\"}}\n  ]\n}\n",
            "documents[0]",
            4,
            "invalid Extended JSON",
        ),
        case(
            "duplicate _id in seeds",
            "seeds/auth/roles.json",
            "{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {\"_id\": 1, \"name\": \"a\"},\n    {\"_id\": 1.0, \"name\": \"b\"}\n  ]\n}\n",
            "documents[1]._id",
            5,
            "is also used by documents[0] (line 4, column 5)",
        ),
        case(
            "seed document over 16 MiB",
            "seeds/auth/roles.json",
            format!(
                "{{\n  \"key\": [\"name\"],\n  \"documents\": [\n    {{\"name\": \"big\", \"blob\": \"{}\"}}\n  ]\n}}\n",
                "x".repeat(16 * 1024 * 1024)
            ),
            "documents[0]",
            4,
            "more than the 16777216 bytes (16 MiB) mongod accepts",
        ),
        case(
            "collection name that is a path",
            "mongoctl.json",
            manifest_with("\"roles\": {}", "\"roles\": {}, \"../x\": {}"),
            "domains.auth.collections[\"../x\"]",
            10,
            "contains a path separator",
        ),
        case(
            "database name not portable",
            "mongoctl.json",
            manifest_with("\"t_auth\"", "\"t*auth\""),
            "domains.auth.database",
            7,
            "contains '*', which MongoDB on Windows does not allow",
        ),
        case(
            "namespace over 255 bytes",
            "mongoctl.json",
            manifest_with(
                "\"roles\": {}",
                &format!("\"roles\": {{}}, \"{}\": {{}}", "r".repeat(249)),
            ),
            Box::leak(format!("domains.auth.collections.{}", "r".repeat(249)).into_boxed_str()),
            10,
            "is 256 bytes; MongoDB allows at most 255",
        ),
        case(
            "file for undeclared collection",
            "indexes/auth/userz.json",
            "{\"indexes\": []}",
            "$",
            0,
            "collection \"userz\" is not declared in domain \"auth\" of mongoctl.json; did you mean \"users\"?",
        ),
        case(
            "folder for undeclared domain",
            "seeds/auht/roles.json",
            "{\"key\": [\"name\"], \"documents\": []}",
            "$",
            0,
            "\"auht\" is not a domain declared in mongoctl.json; did you mean \"auth\"?",
        ),
    ]
}

#[tokio::test]
async fn each_broken_file_gets_its_precise_diagnostic_and_no_write_reaches_the_server() {
    let server = common::standalone().await;
    let client = server.client();
    // `config` is the server's own: it creates config.system.sessions by itself, whenever its
    // sessions refresh first runs (later on a loaded machine), not because of anything sent.
    let user_databases = async || {
        let mut names = client.list_database_names().await.unwrap();
        names.retain(|n| n != "config");
        names
    };
    let before = user_databases().await;
    let cases = cases();
    assert!(cases.len() >= 20);

    // The base workspace itself is clean.
    let ok = tempfile::tempdir().unwrap();
    base(ok.path());
    mongoctl(ok.path(), &["check"]).run().expect_code(0);

    let mut failures = Vec::new();
    for c in &cases {
        let dir = tempfile::tempdir().unwrap();
        base(dir.path());
        write(dir.path(), c.file, &c.content);
        let out = mongoctl(dir.path(), &["check", "-o", "json"]).run();
        let report = out.json();
        let expected_file = if c.file.starts_with("seeds/auht") {
            "seeds/auht"
        } else {
            c.file
        };
        let found = report["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["file"] == expected_file
                && d["json_path"] == c.path
                && d["line"] == c.line
                && d["message"].as_str().unwrap().contains(c.message)
        });
        if out.code != 1 || !found {
            failures.push(format!(
                "{}: exit {}, expected {}:{} {} \"{}\", got {}",
                c.name, out.code, expected_file, c.line, c.path, c.message, report["diagnostics"]
            ));
        }
        // The same workspace must not reach the server.
        let apply = mongoctl(dir.path(), &["apply", "--yes"])
            .uri(&server.uri())
            .run();
        if apply.code != 1 || !apply.stderr.contains("nothing was sent to the cluster") {
            failures.push(format!(
                "{}: apply exit {} stderr {}",
                c.name, apply.code, apply.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let after = user_databases().await;
    assert_eq!(before, after, "a broken spec must not create anything");
}

#[test]
fn every_problem_is_listed_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    write(
        dir.path(),
        "indexes/auth/users.json",
        "{\n  \"indexes\": [\n    {\"key\": {\"a\": \"up\"}},\n    {\"key\": {\"b\": 1}, \"uniqe\": true}\n  ]\n}\n",
    );
    write(
        dir.path(),
        "schemas/auth/roles.json",
        "{\"bsonType\": \"objekt\"}",
    );
    let out = mongoctl(dir.path(), &["check"]).run();
    out.expect_code(1);
    assert!(
        out.stdout.contains("indexes/auth/users.json:3:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("indexes/auth/users.json:4:")
            && out.stdout.contains("did you mean \"unique\"?"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("schemas/auth/roles.json:1:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("check FAILED: 5 file(s), 3 error(s)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_schema_that_rejects_every_insert_is_a_warning_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    write(
        dir.path(),
        "schemas/auth/users.json",
        "{\n  \"bsonType\": \"object\",\n  \"additionalProperties\": false,\n  \"properties\": {\"email\": {\"bsonType\": \"string\"}}\n}\n",
    );
    let out = mongoctl(dir.path(), &["check", "-o", "json"]).run();
    out.expect_code(0);
    let d = &out.json()["diagnostics"][0];
    assert_eq!(
        (
            d["file"].as_str(),
            d["line"].as_u64(),
            d["warning"].as_bool()
        ),
        (Some("schemas/auth/users.json"), Some(3), Some(true)),
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().contains("_id"), "{d}");
}

/// Runs `check -o json` and returns the diagnostics naming `file`.
fn diagnostics_for(dir: &Path, file: &str, code: i32) -> Vec<serde_json::Value> {
    let out = mongoctl(dir, &["check", "-o", "json"]).run();
    assert_eq!(out.code, code, "{}", out.stdout);
    out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["file"] == file)
        .cloned()
        .collect()
}

#[test]
fn a_fifo_is_refused_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    let fifo = dir.path().join("seeds/auth/users.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // Before, check blocked forever opening the FIFO; the harness's timeout would catch it.
    let d = diagnostics_for(dir.path(), "seeds/auth/users.json", 1);
    assert!(
        d.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("is a FIFO (named pipe), not a regular file")),
        "{d:?}"
    );
}

#[test]
fn symbolic_links_may_not_leave_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("roles.json"), ROLES_SEEDS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    let link = |target: &Path, rel: &str| {
        let p = dir.path().join(rel);
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).unwrap();
    };
    // Inside the workspace: fine.
    std::fs::write(dir.path().join("shared-roles.json"), ROLES_SEEDS).unwrap();
    link(
        &dir.path().join("shared-roles.json"),
        "seeds/auth/roles.json",
    );
    mongoctl(dir.path(), &["check"]).run().expect_code(0);

    link(&outside.path().join("roles.json"), "seeds/auth/roles.json");
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 1);
    assert!(
        d.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("outside the workspace")),
        "{d:?}"
    );

    // /dev/zero behind a link: refused at once, not read until memory runs out.
    link(Path::new("/dev/zero"), "seeds/auth/roles.json");
    let started = std::time::Instant::now();
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        d.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("is a symbolic link to /dev/zero, outside the workspace")),
        "{d:?}"
    );

    // A linked domain folder that leads outside: its files are refused too.
    std::fs::create_dir(outside.path().join("auth")).unwrap();
    std::fs::write(outside.path().join("auth/roles.json"), ROLES_SEEDS).unwrap();
    std::fs::remove_dir_all(dir.path().join("seeds/auth")).unwrap();
    link(&outside.path().join("auth"), "seeds/auth");
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 1);
    assert!(
        d.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("outside the workspace")),
        "{d:?}"
    );
}

#[test]
fn a_file_over_the_size_cap_is_refused_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    // Sparse: 64 MiB + 1 byte on paper, nothing on disk.
    let f = std::fs::File::create(dir.path().join("seeds/auth/roles.json")).unwrap();
    f.set_len(64 * 1024 * 1024 + 1).unwrap();
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 1);
    assert!(
        d.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("is 67108865 bytes, larger than the 64 MiB a spec file may be")),
        "{d:?}"
    );
}

#[test]
fn a_byte_order_mark_is_named_and_positions_stay_right() {
    let dir = tempfile::tempdir().unwrap();
    base(dir.path());
    write(
        dir.path(),
        "seeds/auth/roles.json",
        &format!("\u{feff}{ROLES_SEEDS}"),
    );
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 0);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["warning"], true);
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("starts with a UTF-8 byte order mark (BOM)"),
        "{d:?}"
    );
    // An error after the mark is still located where an editor shows it.
    write(
        dir.path(),
        "seeds/auth/roles.json",
        "\u{feff}{\"key\": [\"name\"], \"documents\": [{\"title\": \"x\"}]}",
    );
    let d = diagnostics_for(dir.path(), "seeds/auth/roles.json", 1);
    let missing = d
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("missing natural key")
        })
        .unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(
        (missing["line"].as_u64(), missing["column"].as_u64()),
        (Some(1), Some(33))
    );
}

/// Near the length limits, `check` refuses exactly the names the server refuses.
#[tokio::test]
async fn name_length_limits_are_the_servers() {
    let server = common::standalone().await;
    let client = server.client();
    // (database, collection): 63/64-byte databases, 255/256-byte namespaces.
    let cases = [
        ("d".repeat(63), "c".to_string()),
        ("d".repeat(64), "c".to_string()),
        ("t_ns".to_string(), "c".repeat(255 - 5)),
        ("t_ns".to_string(), "c".repeat(256 - 5)),
    ];
    for (db, coll) in cases {
        let server_ok = client.database(&db).create_collection(&coll).await.is_ok();
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "mongoctl.json",
            &format!(
                r#"{{"project": "t", "domains": {{"d": {{"database": "{db}", "collections": {{"{coll}": {{}}}}}}}}}}"#
            ),
        );
        let check_ok = mongoctl(dir.path(), &["check"]).run().code == 0;
        assert_eq!(
            check_ok,
            server_ok,
            "{}-byte database, {}-byte namespace: check {check_ok}, server {server_ok}",
            db.len(),
            db.len() + 1 + coll.len()
        );
    }
}
