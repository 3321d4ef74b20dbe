//! Tenant quotas: declared per tenant class in the manifest (`"tenantClasses"`, the class
//! `"default"` for tenants without one) and overridden per tenant in the tenants file
//! (`{"id": "acme", "class": "gold", "quota": {…}}`). A tenant's quota is [`resolve`]d from
//! both by a pure function; measuring usage against it belongs to the stats module.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::fields::{Reader, did_you_mean, json_kind};
use crate::jsonpath::JsonPath;

/// The class of a tenant that names none.
pub const DEFAULT_CLASS: &str = "default";

const CLASS: &[&str] = &["description", "quota"];
const QUOTA: &[&str] = &["maxDataSize", "maxDocuments"];

/// Limits of one tenant; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// Bytes of data (dbStats `dataSize`, plus the BSON size of its documents in shared
    /// collections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_data_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_documents: Option<u64>,
}

impl Quota {
    pub fn is_unlimited(&self) -> bool {
        self.max_data_size.is_none() && self.max_documents.is_none()
    }

    /// `self`, with every limit `over` sets replacing its own.
    pub fn overridden_by(self, over: &Quota) -> Quota {
        Quota {
            max_data_size: over.max_data_size.or(self.max_data_size),
            max_documents: over.max_documents.or(self.max_documents),
        }
    }
}

/// The quotas a workspace declares: per class, and per tenant (from the tenants file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quotas {
    pub classes: BTreeMap<String, Quota>,
    pub overrides: BTreeMap<String, Quota>,
}

impl Quotas {
    /// Whether any limit is declared (without one, nothing is measured against quotas).
    pub fn declared(&self) -> bool {
        self.classes
            .values()
            .chain(self.overrides.values())
            .any(|q| !q.is_unlimited())
    }
}

/// A tenant's quota: its class's (or the default class's, without a class), then its own
/// overrides limit by limit. A class not declared has no limits (`check` reports it for a
/// tenants file; a live source's classes are only known at run time).
pub fn resolve(quotas: &Quotas, id: &str, class: Option<&str>) -> Quota {
    let class = class.unwrap_or(DEFAULT_CLASS);
    let base = quotas.classes.get(class).copied().unwrap_or_default();
    match quotas.overrides.get(id) {
        Some(o) => base.overridden_by(o),
        None => base,
    }
}

/// The manifest's `"tenantClasses"`: class name → `{"description", "quota"}`.
pub fn read_classes(r: &mut Reader, p: &JsonPath, v: &Value) -> BTreeMap<String, Quota> {
    let mut out = BTreeMap::new();
    let Some(map) = v.as_object() else {
        r.error(
            p.clone(),
            format!(
                "expected an object of tenant classes, found {}",
                json_kind(v)
            ),
        );
        return out;
    };
    for (name, cv) in map {
        let cp = p.key(name.as_str());
        if !is_class_name(name) {
            r.error(
                cp.clone(),
                format!("tenant class name \"{name}\" must match ^[a-z0-9][a-z0-9_-]*$ (at most 48 bytes)"),
            );
            continue;
        }
        let Some(cm) = r.object(&cp, cv, CLASS, "a tenant class") else {
            continue;
        };
        let quota = match cm.get("quota") {
            Some(q) => read_quota(r, &cp.key("quota"), q),
            None => Some(Quota::default()),
        };
        if let Some(q) = quota {
            out.insert(name.clone(), q);
        }
    }
    out
}

/// Class names follow the tenant id rules (lower case, digits, `_`, `-`; 48 bytes at most).
fn is_class_name(name: &str) -> bool {
    name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A class named by a tenant must be declared (when classes are declared at all).
pub fn check_class(r: &mut Reader, p: &JsonPath, class: &str, classes: &BTreeMap<String, Quota>) {
    if classes.is_empty() || classes.contains_key(class) {
        return;
    }
    let hint = did_you_mean(class, classes.keys().map(String::as_str))
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_else(|| {
            format!(
                "; declared: {}",
                classes.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        });
    r.error(
        p.clone(),
        format!(
            "tenant class \"{class}\" is not declared in the manifest's \"tenantClasses\"{hint}"
        ),
    );
}

/// `{"maxDataSize": "512MiB" | bytes, "maxDocuments": n}`.
pub fn read_quota(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<Quota> {
    let m = r.object(p, v, QUOTA, "a quota")?;
    let mut q = Quota::default();
    let mut ok = true;
    if let Some(x) = m.get("maxDataSize") {
        let xp = p.key("maxDataSize");
        match size(x) {
            Ok(n) => q.max_data_size = Some(n),
            Err(e) => {
                r.error(xp, e);
                ok = false;
            }
        }
    }
    if let Some(x) = m.get("maxDocuments") {
        match r.integer(&p.key("maxDocuments"), x, 0) {
            Some(n) => q.max_documents = Some(n as u64),
            None => ok = false,
        }
    }
    ok.then_some(q)
}

/// A size: a whole number of bytes, or a string with a unit (`"512MiB"`, `"1.5 GB"`; `KiB`,
/// `MiB`, `GiB`, `TiB` are powers of 1024, `KB`, `MB`, `GB`, `TB` powers of 1000).
pub fn size(v: &Value) -> Result<u64, String> {
    const EXPECTED: &str =
        "expected a size: a whole number of bytes or a string such as \"512MiB\" or \"2GB\"";
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("{EXPECTED}, found {n}")),
        Value::String(s) => parse_size::parse_size(s.trim()).map_err(|e| match e {
            parse_size::Error::PosOverflow => format!("\"{s}\" is more than 2^64 bytes"),
            _ => format!("{EXPECTED}, found \"{s}\""),
        }),
        other => Err(format!("{EXPECTED}, found {}", json_kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::source::SourceFile;
    use serde_json::json;

    fn q(data: Option<u64>, docs: Option<u64>) -> Quota {
        Quota {
            max_data_size: data,
            max_documents: docs,
        }
    }

    #[test]
    fn sizes_take_bytes_or_units() {
        assert_eq!(size(&json!(1024)), Ok(1024));
        assert_eq!(size(&json!("512MiB")), Ok(512 << 20));
        assert_eq!(size(&json!("2 GB")), Ok(2_000_000_000));
        assert_eq!(size(&json!("1.5KiB")), Ok(1536));
        assert!(
            size(&json!("12 parsecs"))
                .unwrap_err()
                .contains("\"12 parsecs\"")
        );
        assert!(size(&json!(-1)).unwrap_err().contains("found -1"));
        assert!(size(&json!(1.5)).unwrap_err().contains("found 1.5"));
        assert!(
            size(&json!(true)).unwrap_err().contains("found a boolean"),
            "{:?}",
            size(&json!(true))
        );
    }

    #[test]
    fn a_tenant_gets_its_class_then_its_overrides() {
        let quotas = Quotas {
            classes: BTreeMap::from([
                (DEFAULT_CLASS.into(), q(Some(100), Some(10))),
                ("gold".into(), q(Some(1000), None)),
            ]),
            overrides: BTreeMap::from([("acme".into(), q(None, Some(50)))]),
        };
        assert_eq!(resolve(&quotas, "initech", None), q(Some(100), Some(10)));
        assert_eq!(
            resolve(&quotas, "globex", Some("gold")),
            q(Some(1000), None)
        );
        assert_eq!(
            resolve(&quotas, "acme", Some("gold")),
            q(Some(1000), Some(50))
        );
        assert_eq!(resolve(&quotas, "acme", None), q(Some(100), Some(50)));
        assert!(resolve(&quotas, "x", Some("silver")).is_unlimited());
        assert!(quotas.declared());
        assert!(!Quotas::default().declared());
    }

    fn diags_of(text: &str, read: impl FnOnce(&mut Reader, &Value)) -> Vec<String> {
        let (src, mut diags) =
            SourceFile::parse(std::path::Path::new("mongoctl.json"), text.to_string()).unwrap();
        let mut r = Reader::new(&src, &mut diags);
        read(&mut r, &src.value);
        diags.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn bad_classes_and_quotas_are_reported_at_their_path() {
        let text = "{\n\"free\": {\"quota\": {\"maxDataSize\": \"5 zorks\", \"maxDocs\": 1}},\n\"gold\": {\"quota\": {\"maxDocuments\": -3}},\n\"Bad\": {},\n\"ok\": {\"quota\": {\"maxDataSize\": 10}}\n}";
        let mut classes = BTreeMap::new();
        let shown = diags_of(text, |r, v| classes = read_classes(r, &JsonPath::root(), v));
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown.iter().any(|d| d.starts_with("mongoctl.json:2:")
                && d.contains("free.quota.maxDataSize: expected a size")
                && d.contains("\"5 zorks\"")),
            "{shown:#?}"
        );
        assert!(shown.iter().any(|d| d.contains("free.quota.maxDocs: unknown field \"maxDocs\" in a quota; did you mean \"maxDocuments\"?")), "{shown:#?}");
        assert!(
            shown.iter().any(|d| d.starts_with("mongoctl.json:3:")
                && d.contains("gold.quota.maxDocuments: -3 is less than the minimum 0")),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|d| d.contains("Bad: tenant class name \"Bad\" must match")),
            "{shown:#?}"
        );
        assert_eq!(classes.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(classes["ok"], q(Some(10), None));
    }

    #[test]
    fn an_undeclared_class_gets_a_suggestion() {
        let classes = BTreeMap::from([("gold".to_string(), Quota::default())]);
        let shown = diags_of("{}", |r, _| {
            check_class(r, &JsonPath::root().key("class"), "golf", &classes);
            check_class(r, &JsonPath::root().key("class"), "gold", &classes);
            check_class(r, &JsonPath::root().key("class"), "zzz", &classes);
            check_class(r, &JsonPath::root().key("class"), "any", &BTreeMap::new());
        });
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(shown[0].contains("class: tenant class \"golf\" is not declared in the manifest's \"tenantClasses\"; did you mean \"gold\"?"), "{shown:#?}");
        assert!(
            shown[1].contains("\"zzz\"") && shown[1].contains("declared: gold"),
            "{shown:#?}"
        );
    }
}
