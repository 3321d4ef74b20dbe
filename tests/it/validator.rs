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
