//! The offline $jsonSchema validator must agree with the server's verdict, document by
//! document, on the corpus in tests/fixtures/validator_corpus.json.

use bson::{Bson, Document, doc};

use crate::common;
use mongoctl::jsonschema::CompiledSchema;

#[tokio::test]
async fn offline_validator_agrees_with_the_server_on_the_corpus() {
    let corpus: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/validator_corpus.json")).unwrap();
    let server = common::standalone().await;
    let db = server.client().database("validator_corpus");
    let mut disagreements = Vec::new();
    let mut total = 0;
    for (i, case) in corpus.as_array().unwrap().iter().enumerate() {
        let schema_json = &case["schema"];
        let schema = bson::to_document(schema_json).unwrap();
        let name = format!("c{i}");
        db.run_command(doc! {"create": &name, "validator": {"$jsonSchema": schema}, "validationAction": "error"}).await.unwrap();
        let compiled = CompiledSchema::compile(schema_json)
            .unwrap_or_else(|_| panic!("corpus schema {} does not compile", case["name"]));
        let coll = db.collection::<Document>(&name);
        for d in case["documents"].as_array().unwrap() {
            total += 1;
            let doc = match Bson::try_from(d["doc"].clone()).unwrap() {
                Bson::Document(doc) => doc,
                other => panic!("not a document: {other}"),
            };
            let server_ok = coll.insert_one(doc.clone()).await.is_ok();
            let offline = compiled.validate(&doc);
            if server_ok != offline.is_empty() {
                disagreements.push(format!(
                    "{} {}: server {}, offline {:?}",
                    case["name"],
                    d["doc"],
                    server_ok,
                    offline
                        .iter()
                        .map(|v| v.message.clone())
                        .collect::<Vec<_>>()
                ));
            }
            assert_eq!(
                server_ok,
                d["valid"].as_bool().unwrap(),
                "corpus flag out of date for {} {}",
                case["name"],
                d["doc"]
            );
        }
    }
    assert!(total >= 100, "corpus too small: {total}");
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Patterns mongod's PCRE accepts, refuses, or reads differently from other dialects: for each,
/// `check`'s compiler accepts exactly when the server does, and matches exactly what it matches.
#[tokio::test]
async fn offline_patterns_match_what_the_server_matches() {
    let table: &[(&str, &[&str])] = &[
        (
            r"^(?=.*[0-9])(?=.*[a-z]).{6,}$",
            &["abc123", "abcdef", "123456", "a1", "ABC123x"],
        ),
        (
            r"^[^@\s]+@(?=[^@]*\.)[^@\s]+$",
            &["a@b.c", "a@bc", "a b@c.d"],
        ),
        (r"(?<=\$)\d+", &["$12", "12", "€12"]),
        (r"(?<!x)y", &["y", "xy", "zy"]),
        (r"^(?!admin$).+", &["admin", "admins", "root"]),
        (r"^(\w)\1$", &["aa", "ab", "__"]),
        (r"^(?<c>[a-z])-\k<c>$", &["a-a", "a-b"]),
        (r"^\d{3}$", &["123", "12", "١٢٣"]),
        (r"^\w+$", &["abc", "été", "a_1"]),
        (r"^\p{L}+$", &["été", "abc", "a1"]),
        (r"^\p{Lu}\p{Ll}*$", &["Ébc", "ébc"]),
        (r"^a++a$", &["aaa", "a"]),
        (r"^(?>a+)b$", &["aab", "b"]),
        (r"^[[:alpha:]]+$", &["abc", "é"]),
        (r"\bé", &["aé", " é"]),
        (r"^abc$", &["abc", "abc\n", "abc\n\n"]),
        (r"a{,2}", &["a{,2}", "aa"]),
        (r"^a{ 1}$", &["a{ 1}", "a"]),
        (r"(?i)^straße$", &["STRASSE", "Straße", "STRAßE"]),
        (r"^\Q.*\E$", &[".*", "ab"]),
        (r"\1(a)", &["aa", "a"]),
        (r"(?<=ab|c)d", &["abd", "cd", "bd"]),
        ("(?x) ^ a \\  b $ # comment\n", &["a b", "ab"]),
        (r"(*UCP)^\w$", &["é", "a"]),
        (r"(*UTF8)(*LIMIT_MATCH=99)^é", &["é"]),
        // Refused by the server: the offline compiler must refuse them too.
        (r"(", &["("]),
        (r"[a", &["a"]),
        (r"a{2,1}", &["aa"]),
        (r"(?<=a+)b", &["ab"]),
        (r"(?<=a{1,3})b", &["ab"]),
        (r"(*pla:a)b", &["ab"]),
        (r"(?*a)b", &["ab"]),
        (r"(?^i)a", &["A"]),
        (r"\k", &["k"]),
        // mongod wraps the pattern in a group, and these swallow its `)`.
        (r"(?x) ^ a \ b $ # comment", &["a b"]),
        (r"\Qa", &["a"]),
    ];
    let server = common::standalone().await;
    let db = server.client().database("validator_patterns");
    let mut disagreements = Vec::new();
    let mut refused = 0;
    for (i, (pattern, subjects)) in table.iter().enumerate() {
        let schema_json =
            serde_json::json!({"properties": {"s": {"bsonType": "string", "pattern": pattern}}});
        let name = format!("p{i}");
        let created = db
            .run_command(doc! {"create": &name, "validator": {"$jsonSchema": bson::to_document(&schema_json).unwrap()}})
            .await;
        let compiled = CompiledSchema::compile(&schema_json);
        if created.is_ok() != compiled.is_ok() {
            disagreements.push(format!(
                "{pattern}: server {:?}, offline {:?}",
                created.map(|_| ()).map_err(|e| e.to_string()),
                compiled.map(|_| ()).map_err(|e| format!("{e:?}")),
            ));
            continue;
        }
        let Ok(compiled) = compiled else {
            refused += 1;
            continue;
        };
        let coll = db.collection::<Document>(&name);
        for s in *subjects {
            let d = doc! {"s": *s};
            let server_ok = coll.insert_one(d.clone()).await.is_ok();
            let offline_ok = compiled.validate(&d).is_empty();
            if server_ok != offline_ok {
                disagreements.push(format!(
                    "{pattern} on {s:?}: server {server_ok}, offline {offline_ok}"
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert_eq!(refused, 11, "the refused patterns must be refused");
}
