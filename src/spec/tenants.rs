//! Tenants of the database-per-tenant model: where the list comes from (`"tenants"` in the
//! manifest: a workspace file or a live collection), the file's format, and the rules a tenant
//! id follows. A template domain's database (`chat_{tenant}`), and the names of template roles
//! and users, hold [`PLACEHOLDER`]; expanding them is the tenancy module's job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bson::Document;
use serde::Serialize;
use serde_json::Value;

use super::diag::Diagnostic;
use super::fields::{Reader, json_kind};
use super::quotas::{self, Quota};
use super::source::SourceFile;
use crate::jsonpath::JsonPath;

/// What a template name holds where the tenant id goes.
pub const PLACEHOLDER: &str = "{tenant}";
/// The placeholder in an environment variable name (a password source): the id upper-cased,
/// `-` as `_` (`SVC_CHAT_{TENANT}_PASSWORD` → `SVC_CHAT_ACME_PASSWORD`).
pub const ENV_PLACEHOLDER: &str = "{TENANT}";
/// The longest tenant id (database names have 63 bytes; the template's other characters
/// count against that too, checked per template).
pub const MAX_ID_BYTES: usize = 48;

/// One tenant: its id and its class (quotas and other per-class settings hang off it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Tenant {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// Where the tenant list comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantSource {
    /// A JSON file in the workspace: `{"tenants": ["acme", {"id": "globex", "class": "gold"}]}`.
    File(PathBuf),
    /// The documents of a live collection of a (non-template) domain matching `filter`; the id
    /// is the value of `field`, the class that of `class_field`.
    Collection {
        domain: String,
        collection: String,
        filter: Document,
        field: String,
        class_field: Option<String>,
    },
}

/// Tenant id rules: lower-case letters, digits, `_` and `-`, starting with a letter or digit
/// (lower case only: MongoDB refuses two database names that differ only in case).
pub fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("a tenant id must not be empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Some(format!(
            "tenant id \"{id}\" is {} bytes; at most {MAX_ID_BYTES}",
            id.len()
        ));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Some(format!(
            "tenant id \"{id}\" must start with a lower-case letter or a digit"
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Some(format!(
            "tenant id \"{id}\" contains {c:?}; allowed: a-z, 0-9, '_' and '-'"
        ));
    }
    None
}

/// The id's own rules, then those of every database it names once substituted.
pub fn tenant_problem(id: &str, templates: &[String]) -> Option<String> {
    if let Some(p) = id_problem(id) {
        return Some(p);
    }
    templates.iter().find_map(|t| {
        super::names::database_name_problem(&substitute(t, id))
            .map(|p| format!("tenant id \"{id}\" in database template \"{t}\": {p}"))
    })
}

/// `template` with the tenant id in place of [`PLACEHOLDER`].
pub fn substitute(template: &str, id: &str) -> String {
    template.replace(PLACEHOLDER, id)
}

/// An environment variable name with the id (upper-cased, `-` as `_`) in place of
/// [`ENV_PLACEHOLDER`].
pub fn substitute_env(var: &str, id: &str) -> String {
    var.replace(ENV_PLACEHOLDER, &id.to_ascii_uppercase().replace('-', "_"))
}

pub fn is_template(name: &str) -> bool {
    name.contains(PLACEHOLDER)
}

const SOURCE: &[&str] = &["file", "collection"];
const COLLECTION: &[&str] = &["domain", "collection", "filter", "field", "classField"];

/// The manifest's `"tenants"`: `{"file": "tenants.json"}` or `{"collection": {"domain": …,
/// "collection": …, "filter": {…}, "field": "tenant_id"}}`.
pub fn read_source(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    plain_domains: &[String],
) -> Option<TenantSource> {
    let m = r.object(p, v, SOURCE, "a tenant source")?;
    if m.len() != 1 {
        r.error(
            p.clone(),
            "a tenant source is exactly one of \"file\" or \"collection\"",
        );
        return None;
    }
    if let Some(f) = m.get("file") {
        let fp = p.key("file");
        let file = PathBuf::from(r.string(&fp, f)?);
        let inside = file.is_relative()
            && file
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            r.error(
                fp,
                "use a path relative to the workspace, inside it (e.g. \"tenants.json\")",
            );
            return None;
        }
        return Some(TenantSource::File(file));
    }
    let cv = m.get("collection")?;
    let cp = p.key("collection");
    let cm = r.object(&cp, cv, COLLECTION, "a tenant collection")?;
    let text = |r: &mut Reader, k: &str| {
        r.required(&cp, cm, k, "a tenant collection")
            .and_then(|x| r.string(&cp.key(k), x))
    };
    let domain = text(r, "domain");
    let collection = text(r, "collection");
    let field = text(r, "field");
    let class_field = cm
        .get("classField")
        .and_then(|x| r.string(&cp.key("classField"), x));
    let filter = match cm.get("filter") {
        None => Document::new(),
        Some(f) => match super::json_to_doc(f) {
            Some(d) if f.is_object() => d,
            _ => {
                r.error(
                    cp.key("filter"),
                    format!(
                        "expected a query filter (an Extended JSON object), found {}",
                        json_kind(f)
                    ),
                );
                return None;
            }
        },
    };
    let domain = domain?;
    if !plain_domains.contains(&domain) {
        r.error(
            cp.key("domain"),
            format!(
                "\"{domain}\" is not a declared domain without \"tenancy\" (the tenant list lives in a shared database)"
            ),
        );
        return None;
    }
    Some(TenantSource::Collection {
        domain,
        collection: collection?,
        filter,
        field: field?,
        class_field,
    })
}

/// A tenants file as read: its tenants, and the quota overrides some of them declare.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantsFile {
    pub tenants: Vec<Tenant>,
    pub quotas: BTreeMap<String, Quota>,
}

/// Reads a tenants file; every bad entry is a diagnostic at its JSON path. `templates` are the
/// template database names each id is checked against.
pub fn read_file(
    root: &Path,
    rel: &Path,
    templates: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Tenant>> {
    read_file_with_quotas(root, rel, templates, &BTreeMap::new(), diags).map(|f| f.tenants)
}

/// As [`read_file`], with each tenant's `"quota"` override, and its `"class"` checked against
/// the manifest's `classes` (when it declares any).
pub fn read_file_with_quotas(
    root: &Path,
    rel: &Path,
    templates: &[String],
    classes: &BTreeMap<String, Quota>,
    diags: &mut Vec<Diagnostic>,
) -> Option<TenantsFile> {
    let (src, d) = match SourceFile::read(root, rel) {
        Ok(x) => x,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    diags.extend(d);
    let mut r = Reader::new(&src, diags);
    let root_path = JsonPath::root();
    let m = r.object(&root_path, &src.value, &["tenants"], "a tenants file")?;
    let list = r.required(&root_path, m, "tenants", "a tenants file")?;
    let lp = root_path.key("tenants");
    let Some(items) = list.as_array() else {
        r.error(
            lp,
            format!("expected an array of tenants, found {}", json_kind(list)),
        );
        return None;
    };
    let mut out = TenantsFile::default();
    for (i, item) in items.iter().enumerate() {
        let ip = lp.index(i);
        let (id, class, quota, id_path) = match item {
            Value::String(s) => (s.clone(), None, None, ip.clone()),
            _ => {
                let Some(o) = r.object(&ip, item, &["id", "class", "quota"], "a tenant") else {
                    continue;
                };
                let Some(id) = r
                    .required(&ip, o, "id", "a tenant")
                    .and_then(|x| r.string(&ip.key("id"), x))
                else {
                    continue;
                };
                let class = o.get("class").and_then(|x| r.string(&ip.key("class"), x));
                if let Some(c) = &class {
                    quotas::check_class(&mut r, &ip.key("class"), c, classes);
                }
                let quota = o
                    .get("quota")
                    .and_then(|x| quotas::read_quota(&mut r, &ip.key("quota"), x));
                (id, class, quota, ip.key("id"))
            }
        };
        if let Some(problem) = tenant_problem(&id, templates) {
            r.error(id_path, problem);
            continue;
        }
        if out.tenants.iter().any(|t| t.id == id) {
            r.error(id_path, format!("tenant \"{id}\" is listed twice"));
            continue;
        }
        if let Some(q) = quota {
            out.quotas.insert(id.clone(), q);
        }
        out.tenants.push(Tenant { id, class });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_database_name_rules_after_substitution() {
        let t = vec!["chat_{tenant}".to_string()];
        assert_eq!(tenant_problem("acme-1", &t), None);
        assert!(tenant_problem("Acme", &t).unwrap().contains("lower-case"));
        assert!(tenant_problem("a.b", &t).unwrap().contains("'.'"));
        assert!(tenant_problem("", &t).unwrap().contains("empty"));
        let long_template = vec![format!("{}_{{tenant}}", "x".repeat(30))];
        let id = "y".repeat(40);
        let p = tenant_problem(&id, &long_template).unwrap();
        assert!(p.contains("at most 63"), "{p}");
    }

    #[test]
    fn env_placeholders_take_the_upper_cased_id() {
        assert_eq!(
            substitute_env("SVC_CHAT_{TENANT}_PASSWORD", "acme-eu"),
            "SVC_CHAT_ACME_EU_PASSWORD"
        );
        assert_eq!(substitute("chat_{tenant}_rw", "acme"), "chat_acme_rw");
    }

    #[test]
    fn a_tenants_file_reads_quota_overrides_and_checks_classes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tenants.json"),
            "{\"tenants\": [\n  {\"id\": \"acme\", \"class\": \"gold\", \"quota\": {\"maxDocuments\": 5000000}},\n  {\"id\": \"globex\", \"class\": \"glod\"},\n  {\"id\": \"initech\", \"quota\": {\"maxDataSize\": \"lots\"}},\n  {\"id\": \"hooli\", \"quota\": {\"maxDataSize\": \"1GiB\"}}\n]}\n",
        )
        .unwrap();
        let classes = BTreeMap::from([
            ("gold".to_string(), Quota::default()),
            ("free".to_string(), Quota::default()),
        ]);
        let mut diags = Vec::new();
        let f = read_file_with_quotas(
            dir.path(),
            Path::new("tenants.json"),
            &[],
            &classes,
            &mut diags,
        )
        .unwrap();
        let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown[0].starts_with("tenants.json:3:")
                && shown[0].contains("tenants[1].class: tenant class \"glod\" is not declared in the manifest's \"tenantClasses\"; did you mean \"gold\"?"),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("tenants.json:4:")
                && shown[1].contains("tenants[2].quota.maxDataSize: expected a size"),
            "{shown:#?}"
        );
        assert_eq!(f.tenants.len(), 4);
        assert_eq!(
            f.quotas,
            BTreeMap::from([
                (
                    "acme".to_string(),
                    Quota {
                        max_data_size: None,
                        max_documents: Some(5_000_000)
                    }
                ),
                (
                    "hooli".to_string(),
                    Quota {
                        max_data_size: Some(1 << 30),
                        max_documents: None
                    }
                ),
            ])
        );
    }

    #[test]
    fn a_tenants_file_reports_each_bad_id_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tenants.json"),
            "{\"tenants\": [\n  \"acme\",\n  {\"id\": \"Bad.Id\"},\n  {\"id\": \"globex\", \"class\": \"gold\"},\n  \"acme\"\n]}\n",
        )
        .unwrap();
        let mut diags = Vec::new();
        let t = read_file(
            dir.path(),
            Path::new("tenants.json"),
            &["chat_{tenant}".into()],
            &mut diags,
        )
        .unwrap();
        assert_eq!(
            t,
            [
                Tenant {
                    id: "acme".into(),
                    class: None
                },
                Tenant {
                    id: "globex".into(),
                    class: Some("gold".into())
                }
            ]
        );
        let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("tenants.json:3:4: error: tenants[1].id: tenant id \"Bad.Id\""),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("tenants[3]: tenant \"acme\" is listed twice"),
            "{shown:?}"
        );
    }
}
