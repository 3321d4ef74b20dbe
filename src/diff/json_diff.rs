//! A readable structural diff of two JSON values, shown under validator changes.

/// A readable structural diff of two JSON values: `+ path: value`, `- path: value`,
/// `~ path: old → new`. Arrays of scalars (required, enum) are compared as sets.
pub fn json_diff(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    json_diff_at(old, new, "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn compact(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

fn json_same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_same(v, w)))
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_same(p, q)),
        _ => a == b,
    }
}

fn json_diff_at(
    old: &serde_json::Value,
    new: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value::*;
    if json_same(old, new) {
        return;
    }
    let shown = if path.is_empty() { "$" } else { path };
    match (old, new) {
        (Object(a), Object(b)) => {
            for (k, v) in a {
                if !b.contains_key(k) {
                    out.push(format!("- {}: {}", join(path, k), compact(v)));
                }
            }
            for (k, v) in b {
                match a.get(k) {
                    None => out.push(format!("+ {}: {}", join(path, k), compact(v))),
                    Some(o) => json_diff_at(o, v, &join(path, k), out),
                }
            }
        }
        (Array(a), Array(b)) if a.iter().chain(b).all(|v| !v.is_object() && !v.is_array()) => {
            for v in a.iter().filter(|v| !b.iter().any(|w| json_same(v, w))) {
                out.push(format!("- {shown}: {}", compact(v)));
            }
            for v in b.iter().filter(|v| !a.iter().any(|w| json_same(v, w))) {
                out.push(format!("+ {shown}: {}", compact(v)));
            }
            if out.is_empty() {
                out.push(format!(
                    "~ {shown}: order {} → {}",
                    compact(old),
                    compact(new)
                ));
            }
        }
        (Array(a), Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff_at(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (Null, v) => out.push(format!("+ {shown}: {}", compact(v))),
        (v, Null) => out.push(format!("- {shown}: {}", compact(v))),
        _ => out.push(format!("~ {shown}: {} → {}", compact(old), compact(new))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_diff_reports_paths() {
        let a = serde_json::json!({"x": 1, "e": ["a", "b"], "n": {"m": [1, {"k": 1}]}});
        let b =
            serde_json::json!({"x": 1.0, "e": ["b", "c"], "n": {"m": [1, {"k": 2}]}, "y": null});
        assert_eq!(
            json_diff(&a, &b),
            vec!["- e: \"a\"", "+ e: \"c\"", "~ n.m[1].k: 1 → 2", "+ y: null"]
        );
    }
}
