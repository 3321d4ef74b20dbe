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
    let before = client.list_database_names().await.unwrap();
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
    let after = client.list_database_names().await.unwrap();
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
