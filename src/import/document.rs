//! One source row (and its child rows) as the document the mapping declares, pure: fields in
//! mapping order, NULL columns left out, stamps, embedded children, and an `_id` derived from
//! the collection and the document key, so that a resumed import meets its own documents
//! again instead of duplicating them.

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};
use sha2::{Digest, Sha256};

use super::catalog::{FieldPlan, SourcePlan, ValuePlan};
use super::convert::{PgValue, convert, get_path, key_text, set_path};
use super::model::{Source, TargetCollection};

/// A parent row and, per embed, its child rows (ordered, already limited).
pub struct RowSet<'a> {
    pub row: &'a [PgValue],
    pub children: Vec<Vec<&'a [PgValue]>>,
}

/// The `_id` of the document with key `key` in `collection`.
pub fn derived_id(collection: &str, key: &str) -> ObjectId {
    let h = Sha256::digest(format!("{collection}\0{key}").as_bytes());
    let mut b = [0u8; 12];
    b.copy_from_slice(&h[..12]);
    ObjectId::from_bytes(b)
}

fn apply_fields(doc: &mut Document, fields: &[FieldPlan], row: &[PgValue]) -> Result<(), String> {
    for f in fields {
        let v = match &f.value {
            ValuePlan::Constant(b) => b.clone(),
            ValuePlan::Column(idx, r) => match &row[*idx] {
                PgValue::Null => continue,
                v => convert(v, r).map_err(|e| format!("{}: {e}", f.target))?,
            },
        };
        set_path(doc, &f.target, v)?;
    }
    Ok(())
}

/// The document for `rows`, with its key text; an error says why the row cannot become one.
pub fn build(
    coll: &TargetCollection,
    src: &Source,
    plan: &SourcePlan,
    rows: &RowSet,
    migrated_at: DateTime,
) -> Result<(String, Document), String> {
    let mut body = Document::new();
    apply_fields(&mut body, &plan.fields, rows.row)?;
    if let Some(t) = &src.track_origin {
        set_path(&mut body, "trackOrigin", Bson::String(t.clone()))?;
    }
    if let (Some(s), Some(r)) = (&src.migrated_from, &plan.original_id) {
        let original =
            convert(&rows.row[0], r).map_err(|e| format!("migratedFrom.originalId: {e}"))?;
        let mut m = Document::new();
        m.insert("source", s.clone());
        m.insert("originalId", original);
        m.insert("migratedAt", migrated_at);
        set_path(&mut body, "migratedFrom", Bson::Document(m))?;
    }
    for ((e, ep), children) in src.embeds.iter().zip(&plan.embeds).zip(&rows.children) {
        let mut docs = Vec::with_capacity(children.len());
        for child in children {
            let mut d = Document::new();
            apply_fields(&mut d, &ep.fields, child)?;
            docs.push(Bson::Document(d));
        }
        if e.as_array {
            set_path(&mut body, &e.target, Bson::Array(docs))?;
        } else if let Some(first) = docs.into_iter().next() {
            set_path(&mut body, &e.target, first)?;
        }
    }
    let key = match get_path(&body, &coll.key) {
        None | Some(Bson::Null) => {
            return Err(format!("the document key \"{}\" is NULL", coll.key));
        }
        Some(k) => key_text(k),
    };
    let mut doc = Document::new();
    doc.insert("_id", derived_id(&coll.collection, &key));
    doc.extend(body);
    Ok((key, doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::catalog::EmbedPlan;
    use crate::import::convert::{PgKind, Resolved};
    use crate::import::model::{Collision, Conversion, Embed, Relation};
    use crate::jsonpath::JsonPath;

    fn column(target: &str, idx: usize, kind: PgKind, to: Conversion) -> FieldPlan {
        FieldPlan {
            target: target.into(),
            value: ValuePlan::Column(
                idx,
                Resolved {
                    kind,
                    to,
                    element: None,
                },
            ),
        }
    }

    fn fixture(as_array: bool) -> (TargetCollection, SourcePlan) {
        let embed = Embed {
            target: "latest".into(),
            table: "t.child".into(),
            foreign_key: "parent".into(),
            references: "id".into(),
            order_by: vec![],
            descending: false,
            limit: None,
            as_array,
            fields: vec![],
            path: JsonPath::root(),
        };
        let source = Source {
            name: "s".into(),
            from: Relation::Table("t.parent".into()),
            key: "id".into(),
            skip: None,
            track_origin: Some("track1".into()),
            migrated_from: None,
            fields: vec![],
            embeds: vec![embed],
            path: JsonPath::root(),
        };
        let coll = TargetCollection {
            collection: "c".into(),
            key: "id".into(),
            on_collision: Collision::Reject,
            checksum: vec![],
            sources: vec![source],
            path: JsonPath::root(),
        };
        let plan = SourcePlan {
            coll: 0,
            source: 0,
            columns: vec![],
            key_type: "int8".into(),
            fields: vec![
                column("id", 0, PgKind::Int8, Conversion::Long),
                column("name", 1, PgKind::Text, Conversion::String),
            ],
            original_id: None,
            embeds: vec![EmbedPlan {
                columns: vec![],
                fk_type: "int8".into(),
                parent_ref: 0,
                fields: vec![column("n", 0, PgKind::Int4, Conversion::Int)],
            }],
        };
        (coll, plan)
    }

    #[test]
    fn children_embed_as_an_array_or_as_the_first_sub_document() {
        let row = [PgValue::Int(7), PgValue::Null];
        let kids: Vec<Vec<PgValue>> = vec![vec![PgValue::Int(1)], vec![PgValue::Int(2)]];
        let rows = RowSet {
            row: &row,
            children: vec![kids.iter().map(Vec::as_slice).collect()],
        };
        let at = DateTime::from_millis(0);
        let (coll, plan) = fixture(true);
        let (key, doc) = build(&coll, &coll.sources[0], &plan, &rows, at).unwrap();
        assert_eq!(key, "7");
        assert_eq!(doc.get_object_id("_id").unwrap(), derived_id("c", "7"));
        // NULL `name` is left out; stamps follow the fields.
        let mut body = doc.clone();
        body.remove("_id");
        assert_eq!(
            body,
            bson::doc! {"id": 7_i64, "trackOrigin": "track1", "latest": [{"n": 1}, {"n": 2}]}
        );
        let (coll, plan) = fixture(false);
        let (_, doc) = build(&coll, &coll.sources[0], &plan, &rows, at).unwrap();
        assert_eq!(doc.get_document("latest").unwrap(), &bson::doc! {"n": 1});
        let no_key = [PgValue::Null, PgValue::Text("x".into())];
        let rows = RowSet {
            row: &no_key,
            children: vec![vec![]],
        };
        assert!(
            build(&coll, &coll.sources[0], &plan, &rows, at)
                .unwrap_err()
                .contains("NULL")
        );
    }
}
