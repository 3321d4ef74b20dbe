//! PostgreSQL values to BSON, pure: which conversion a column gets (declared, or chosen from
//! its type and what the target schema allows), whether a declared one fits the column's type,
//! and the conversion of one value (a value that does not convert is a row error, not a crash).

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Document};
use chrono::{DateTime, NaiveDate, Utc};

use super::model::Conversion;

/// A column's type, as far as conversions care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float,
    /// `numeric`: read as its exact text.
    Numeric,
    Text,
    Uuid,
    Timestamp,
    Date,
    Json,
    Array(Box<PgKind>),
    /// Any other type, read as its text form.
    Other(String),
}

impl PgKind {
    pub fn name(&self) -> String {
        match self {
            PgKind::Bool => "boolean".into(),
            PgKind::Int2 => "smallint".into(),
            PgKind::Int4 => "integer".into(),
            PgKind::Int8 => "bigint".into(),
            PgKind::Float => "double precision".into(),
            PgKind::Numeric => "numeric".into(),
            PgKind::Text => "text".into(),
            PgKind::Uuid => "uuid".into(),
            PgKind::Timestamp => "timestamp".into(),
            PgKind::Date => "date".into(),
            PgKind::Json => "jsonb".into(),
            PgKind::Array(e) => format!("{}[]", e.name()),
            PgKind::Other(n) => n.clone(),
        }
    }

    /// Conversions this type can take, the natural one first.
    fn conversions(&self) -> &'static [Conversion] {
        use Conversion::*;
        match self {
            PgKind::Uuid => &[Uuid, String],
            PgKind::Int2 | PgKind::Int4 => &[Int, Long, Double, Decimal, String],
            PgKind::Int8 => &[Long, Int, Decimal, Double, String],
            PgKind::Float => &[Double, Decimal, Long, Int, String],
            PgKind::Numeric => &[Decimal, Double, Long, Int, String],
            PgKind::Text => &[String, Uuid, Date, Long, Int, Double, Decimal],
            PgKind::Bool => &[Bool, String],
            PgKind::Timestamp | PgKind::Date => &[Date, String],
            PgKind::Json => &[Document, Array, String],
            PgKind::Array(_) => &[Array],
            PgKind::Other(_) => &[String],
        }
    }
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Numeric(String),
    Text(String),
    Uuid([u8; 16]),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
    Json(serde_json::Value),
    Array(Vec<PgValue>),
}

/// A column's conversion, settled before any row is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub kind: PgKind,
    pub to: Conversion,
    /// For arrays: how each element converts.
    pub element: Option<Box<Resolved>>,
}

/// The conversion for a column of `kind`: `declared` when it fits the type, else the first the
/// type takes that `allowed` (the target schema's types there, `None`: any) permits.
/// `items_allowed` is the schema's element types for arrays.
pub fn resolve(
    kind: &PgKind,
    declared: Option<Conversion>,
    allowed: Option<&[String]>,
    items_allowed: Option<&[String]>,
) -> Result<Resolved, String> {
    let to = match declared {
        Some(d) if kind.conversions().contains(&d) => d,
        Some(d) => {
            return Err(format!(
                "a {} column cannot convert to {}; it can become: {}",
                kind.name(),
                d.name(),
                names(kind.conversions())
            ));
        }
        None => match allowed {
            None => kind.conversions()[0],
            Some(types) => *kind
                .conversions()
                .iter()
                .find(|c| types.iter().any(|t| t == c.bson_type()))
                .ok_or_else(|| {
                    format!(
                        "a {} column can become {} but the target schema allows only {}",
                        kind.name(),
                        names(kind.conversions()),
                        types.join(" or ")
                    )
                })?,
        },
    };
    let element = match kind {
        PgKind::Array(e) => Some(Box::new(resolve(e, None, items_allowed, None)?)),
        _ => None,
    };
    Ok(Resolved {
        kind: kind.clone(),
        to,
        element,
    })
}

fn names(cs: &[Conversion]) -> String {
    cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
}

/// Converts one non-NULL value (NULL fields are left out of the document by the caller).
pub fn convert(v: &PgValue, r: &Resolved) -> Result<Bson, String> {
    use Conversion as C;
    Ok(match (v, r.to) {
        (PgValue::Null, _) => Bson::Null,
        (PgValue::Array(items), C::Array) => {
            let e = r
                .element
                .as_deref()
                .ok_or("array without an element type")?;
            Bson::Array(
                items
                    .iter()
                    .map(|i| convert(i, e))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        (PgValue::Uuid(b), C::Uuid) => uuid_binary(*b),
        (PgValue::Uuid(b), C::String) => Bson::String(uuid::Uuid::from_bytes(*b).to_string()),
        (PgValue::Text(s), C::Uuid) => uuid_binary(
            *uuid::Uuid::parse_str(s)
                .map_err(|_| format!("\"{s}\" is not a UUID"))?
                .as_bytes(),
        ),
        (PgValue::Text(s), C::String) | (PgValue::Numeric(s), C::String) => Bson::String(s.clone()),
        (PgValue::Text(s), C::Date) => Bson::DateTime(bson::DateTime::from_chrono(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| format!("\"{s}\" is not an RFC 3339 date-time"))?
                .with_timezone(&Utc),
        )),
        (PgValue::Int(i), C::Int) => {
            Bson::Int32(i32::try_from(*i).map_err(|_| format!("{i} does not fit a 32-bit int"))?)
        }
        (PgValue::Int(i), C::Long) => Bson::Int64(*i),
        (PgValue::Int(i), C::Double) => Bson::Double(*i as f64),
        (PgValue::Int(i), C::Decimal) => decimal(&i.to_string())?,
        (PgValue::Int(i), C::String) => Bson::String(i.to_string()),
        (PgValue::Float(f), C::Double) => Bson::Double(*f),
        (PgValue::Float(f), C::Decimal) => decimal(&f.to_string())?,
        (PgValue::Float(f), C::String) => Bson::String(f.to_string()),
        (PgValue::Float(f), C::Int | C::Long) => integral(&f.to_string(), r.to)?,
        (PgValue::Numeric(s), C::Decimal) | (PgValue::Text(s), C::Decimal) => decimal(s)?,
        (PgValue::Numeric(s), C::Double) | (PgValue::Text(s), C::Double) => {
            let f: f64 = s.parse().map_err(|_| format!("\"{s}\" is not a number"))?;
            if !f.is_finite() {
                return Err(format!("{s} is not a finite double"));
            }
            Bson::Double(f)
        }
        (PgValue::Numeric(s), C::Int | C::Long) | (PgValue::Text(s), C::Int | C::Long) => {
            integral(s, r.to)?
        }
        (PgValue::Bool(b), C::Bool) => Bson::Boolean(*b),
        (PgValue::Bool(b), C::String) => Bson::String(b.to_string()),
        (PgValue::Timestamp(t), C::Date) => Bson::DateTime(bson::DateTime::from_chrono(*t)),
        (PgValue::Timestamp(t), C::String) => Bson::String(t.to_rfc3339()),
        (PgValue::Date(d), C::Date) => Bson::DateTime(bson::DateTime::from_chrono(
            d.and_hms_opt(0, 0, 0).ok_or("bad date")?.and_utc(),
        )),
        (PgValue::Date(d), C::String) => Bson::String(d.to_string()),
        (PgValue::Json(j), C::Document) => match j {
            serde_json::Value::Object(_) => json_bson(j)?,
            other => {
                return Err(format!(
                    "expected a JSON object, found {}",
                    crate::hints::json_kind(other)
                ));
            }
        },
        (PgValue::Json(j), C::Array) => match j {
            serde_json::Value::Array(_) => json_bson(j)?,
            other => {
                return Err(format!(
                    "expected a JSON array, found {}",
                    crate::hints::json_kind(other)
                ));
            }
        },
        (PgValue::Json(j), C::String) => Bson::String(j.to_string()),
        (v, to) => return Err(format!("cannot convert {v:?} to {}", to.name())),
    })
}

fn uuid_binary(bytes: [u8; 16]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Uuid,
        bytes: bytes.to_vec(),
    })
}

fn decimal(s: &str) -> Result<Bson, String> {
    s.parse::<Decimal128>()
        .map(Bson::Decimal128)
        .map_err(|_| format!("{s} does not fit a Decimal128"))
}

/// An exact whole number from its text (`12`, `12.000`), or an error naming why not.
fn integral(s: &str, to: Conversion) -> Result<Bson, String> {
    let t = s.trim();
    let whole = match t.split_once('.') {
        Some((w, frac)) if frac.bytes().all(|b| b == b'0') => w,
        Some(_) => return Err(format!("{t} is not a whole number ({} wanted)", to.name())),
        None => t,
    };
    let n: i64 = whole
        .parse()
        .map_err(|_| format!("{t} is not a whole number that fits a 64-bit long"))?;
    Ok(match to {
        Conversion::Int => {
            Bson::Int32(i32::try_from(n).map_err(|_| format!("{n} does not fit a 32-bit int"))?)
        }
        _ => Bson::Int64(n),
    })
}

/// JSON (from json/jsonb) as BSON: whole numbers become int or long, others double.
fn json_bson(j: &serde_json::Value) -> Result<Bson, String> {
    use serde_json::Value as J;
    Ok(match j {
        J::Null => Bson::Null,
        J::Bool(b) => Bson::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
            (None, Some(f)) => Bson::Double(f),
            _ => return Err(format!("{n} is out of range")),
        },
        J::String(s) => Bson::String(s.clone()),
        J::Array(a) => Bson::Array(a.iter().map(json_bson).collect::<Result<_, _>>()?),
        J::Object(o) => {
            let mut d = Document::new();
            for (k, v) in o {
                d.insert(k.clone(), json_bson(v)?);
            }
            Bson::Document(d)
        }
    })
}

/// Sets `value` at the dotted `path`, creating sub-documents on the way.
pub fn set_path(doc: &mut Document, path: &str, value: Bson) -> Result<(), String> {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
            Ok(())
        }
        Some((head, rest)) => {
            if !doc.contains_key(head) {
                doc.insert(head, Document::new());
            }
            match doc.get_mut(head) {
                Some(Bson::Document(sub)) => set_path(sub, rest, value),
                _ => Err(format!(
                    "\"{head}\" is set to a value and also holds \"{rest}\""
                )),
            }
        }
    }
}

/// The value at a dotted path, if any.
pub fn get_path<'d>(doc: &'d Document, path: &str) -> Option<&'d Bson> {
    match path.split_once('.') {
        None => doc.get(path),
        Some((head, rest)) => match doc.get(head)? {
            Bson::Document(sub) => get_path(sub, rest),
            _ => None,
        },
    }
}

/// A document key as text (UUIDs canonical), for `_id` derivation and the rejects file.
pub fn key_text(v: &Bson) -> String {
    match v {
        Bson::String(s) => s.clone(),
        Bson::Binary(b) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 => {
            uuid::Uuid::from_slice(&b.bytes)
                .map(|u| u.to_string())
                .unwrap_or_default()
        }
        other => other.clone().into_relaxed_extjson().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: PgKind, to: Conversion) -> Resolved {
        resolve(&kind, Some(to), None, None).unwrap()
    }

    #[test]
    fn uuids_follow_the_schema() {
        let both = vec!["string".to_string(), "binData".to_string()];
        let strings = vec!["string".to_string()];
        assert_eq!(
            resolve(&PgKind::Uuid, None, Some(&both), None).unwrap().to,
            Conversion::Uuid
        );
        assert_eq!(
            resolve(&PgKind::Uuid, None, Some(&strings), None)
                .unwrap()
                .to,
            Conversion::String
        );
        let dates = vec!["date".to_string()];
        assert!(resolve(&PgKind::Uuid, None, Some(&dates), None).is_err());
        assert!(resolve(&PgKind::Int4, Some(Conversion::Date), None, None).is_err());
    }

    #[test]
    fn numerics_convert_exactly_or_not_at_all() {
        let n = |s: &str| PgValue::Numeric(s.into());
        assert_eq!(
            convert(&n("12.50"), &r(PgKind::Numeric, Conversion::Decimal))
                .unwrap()
                .to_string(),
            "12.50"
        );
        assert_eq!(
            convert(&n("7.000"), &r(PgKind::Numeric, Conversion::Int)).unwrap(),
            Bson::Int32(7)
        );
        assert!(convert(&n("7.5"), &r(PgKind::Numeric, Conversion::Int)).is_err());
        assert!(convert(&PgValue::Int(1 << 40), &r(PgKind::Int8, Conversion::Int)).is_err());
        assert_eq!(
            convert(&PgValue::Int(1 << 40), &r(PgKind::Int8, Conversion::Long)).unwrap(),
            Bson::Int64(1 << 40)
        );
    }

    #[test]
    fn json_objects_become_documents() {
        let j = PgValue::Json(serde_json::json!({"a": [1, 2.5, "x"], "b": {"c": null}}));
        let b = convert(&j, &r(PgKind::Json, Conversion::Document)).unwrap();
        assert_eq!(
            b,
            Bson::Document(bson::doc! {"a": [1, 2.5, "x"], "b": {"c": null}})
        );
        assert!(
            convert(
                &PgValue::Json(serde_json::json!([1])),
                &r(PgKind::Json, Conversion::Document)
            )
            .is_err()
        );
    }

    #[test]
    fn arrays_convert_each_element() {
        let kind = PgKind::Array(Box::new(PgKind::Uuid));
        let res = resolve(&kind, None, None, Some(&["string".to_string()])).unwrap();
        let u = uuid::Uuid::nil();
        let v = PgValue::Array(vec![PgValue::Uuid(*u.as_bytes()), PgValue::Null]);
        assert_eq!(
            convert(&v, &res).unwrap(),
            Bson::Array(vec![Bson::String(u.to_string()), Bson::Null])
        );
    }

    #[test]
    fn dotted_paths_nest() {
        let mut d = Document::new();
        set_path(&mut d, "a.b", Bson::Int32(1)).unwrap();
        set_path(&mut d, "a.c", Bson::Int32(2)).unwrap();
        assert_eq!(d, bson::doc! {"a": {"b": 1, "c": 2}});
        assert_eq!(get_path(&d, "a.c"), Some(&Bson::Int32(2)));
        assert!(set_path(&mut d, "a.b.x", Bson::Null).is_err());
    }
}
