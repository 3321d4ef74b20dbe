//! BSON equality as `enum` and `uniqueItems` use it: numbers by value, strings equal to
//! symbols, embedded documents without regard to field order.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::keywords::is_number;
use super::number::compare_numbers;

/// Equality for `enum` and `uniqueItems`: numbers by value, strings equal symbols, and embedded
/// documents regardless of field order (at any depth); arrays stay ordered.
pub(super) fn bson_eq(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        _ if is_number(a) && is_number(b) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x == y,
        (Bson::Document(x), Bson::Document(y)) => documents_eq(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| bson_eq(p, q))
        }
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && documents_eq(&x.scope, &y.scope)
        }
        _ => a == b,
    }
}

fn documents_eq(x: &Document, y: &Document) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let mut xs: Vec<_> = x.iter().collect();
    let mut ys: Vec<_> = y.iter().collect();
    xs.sort_by(|p, q| p.0.cmp(q.0));
    ys.sort_by(|p, q| p.0.cmp(q.0));
    xs.iter()
        .zip(&ys)
        .all(|((kx, vx), (ky, vy))| kx == ky && bson_eq(vx, vy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn equality_ignores_field_order_but_not_array_order() {
        let a = Bson::Document(doc! { "x": 1, "y": [ { "p": 1, "q": 2 } ] });
        let b = Bson::Document(doc! { "y": [ { "q": 2.0, "p": 1_i64 } ], "x": 1 });
        assert!(bson_eq(&a, &b));
        assert!(!bson_eq(
            &Bson::Array(vec![1.into(), 2.into()]),
            &Bson::Array(vec![2.into(), 1.into()])
        ));
        assert!(!bson_eq(&Bson::Null, &Bson::Undefined));
    }
}
