//! Rendering schema and document values inside lint and validation messages: quoted,
//! Extended-JSON-like, and truncated so that a message stays one readable line.

use bson::Bson;

pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

const MAX_RENDERED: usize = 60;

fn truncate(mut s: String) -> String {
    if s.chars().count() > MAX_RENDERED {
        s = s.chars().take(MAX_RENDERED - 1).collect();
        s.push('…');
    }
    s
}

/// A string quoted as JSON, cut short (inside the quotes) when long.
pub(super) fn render_str(s: &str) -> String {
    if s.chars().count() <= MAX_RENDERED {
        return quote(s);
    }
    let head: String = s.chars().take(MAX_RENDERED - 4).collect();
    let quoted = quote(&head);
    format!("{}…\"", &quoted[..quoted.len() - 1])
}

/// A value as a reader expects to see it: `7`, `7.5`, `"text"`, `2024-01-01T00:00:00Z`.
pub(super) fn render(v: &Bson) -> String {
    match v {
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(f) if f.is_nan() => "NaN".into(),
        Bson::Double(f) if f.is_infinite() => {
            if *f > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }
        }
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        Bson::Double(f) if f.abs() >= 1e16 || f.abs() < 1e-5 => format!("{f:e}"),
        Bson::Double(f) => f.to_string(),
        Bson::Decimal128(d) => d.to_string(),
        Bson::String(s) => render_str(s),
        Bson::Boolean(b) => b.to_string(),
        Bson::Null => "null".into(),
        Bson::DateTime(d) => d.try_to_rfc3339_string().unwrap_or_else(|_| d.to_string()),
        Bson::ObjectId(id) => format!("ObjectId(\"{id}\")"),
        other => truncate(other.clone().into_relaxed_extjson().to_string()),
    }
}

pub(super) fn render_list(values: &[Bson]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = values.iter().take(SHOWN).map(render).collect();
    if values.len() > SHOWN {
        parts.push("...".into());
    }
    format!("[{}]", parts.join(","))
}
