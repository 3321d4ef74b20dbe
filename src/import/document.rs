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
