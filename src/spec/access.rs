//! Roles and users in `mongoctl.json`: references to domains are checked here and resolved
//! to database names later (per environment). Passwords are only ever *sources* (an env var,
//! a file outside the workspace, or "generate"); a literal password is an error.

use std::path::{Path, PathBuf};

use bson::{Bson, Document};
use serde_json::{Map, Value};

use super::fields::{Reader, did_you_mean, json_kind, quote_list};
use crate::jsonpath::JsonPath;
use crate::model::PasswordSource;

/// A reference to a role before database names are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleTarget {
    /// A built-in role on a domain's database.
    Domain(String),
    /// A role on a named database (`admin` for cluster-wide built-ins).
    Db(String),
    /// A custom role declared in this manifest (defined in `admin`).
    Custom,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleRefSpec {
    pub role: String,
    pub target: RoleTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResourceSpec {
    Domain { domain: String, collection: String },
    Db { db: String, collection: String },
    Cluster,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrivilegeSpec {
    pub resource: ResourceSpec,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: String,
    pub privileges: Vec<PrivilegeSpec>,
    pub roles: Vec<RoleRefSpec>,
}

#[derive(Debug, Clone)]
pub struct UserSpec {
    pub name: String,
    pub db: String,
    pub roles: Vec<RoleRefSpec>,
    pub mechanisms: Vec<String>,
    pub restrictions: Vec<Document>,
    pub purpose: String,
    pub password: Option<PasswordSource>,
}

/// MongoDB's built-in roles that exist on every database.
pub const DATABASE_ROLES: &[&str] = &["read", "readWrite", "dbAdmin", "dbOwner", "userAdmin"];
/// MongoDB's built-in roles that exist only on `admin`.
pub const ADMIN_ONLY_ROLES: &[&str] = &[
    "clusterAdmin",
    "clusterManager",
    "clusterMonitor",
    "hostManager",
    "backup",
    "restore",
    "readAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "dbAdminAnyDatabase",
    "root",
    "enableSharding",
    "directShardOperations",
    "__system",
    "__queryableBackup",
];

pub fn is_builtin_role(name: &str) -> bool {
    DATABASE_ROLES.contains(&name) || ADMIN_ONLY_ROLES.contains(&name)
}

/// Privilege actions MongoDB 6.0 knows (the documented list).
pub const ACTIONS: &[&str] = &[
    "find",
    "insert",
    "remove",
    "update",
    "bypassDocumentValidation",
    "useUUID",
    "changeStream",
    "createCollection",
    "createIndex",
    "dropCollection",
    "dropIndex",
    "dropDatabase",
    "enableProfiler",
    "killCursors",
    "killAnyCursor",
    "changeCustomData",
    "changeOwnCustomData",
    "changeOwnPassword",
    "changePassword",
    "createRole",
    "createUser",
    "dropRole",
    "dropUser",
    "grantRole",
    "revokeRole",
    "setAuthenticationRestriction",
    "viewRole",
    "viewUser",
    "applicationMessage",
    "auditConfigure",
    "authSchemaUpgrade",
    "bypassWriteBlockingMode",
    "cleanupOrphaned",
    "cpuProfiler",
    "inprog",
    "invalidateUserCache",
    "killop",
    "logApplicationMessage",
    "planCacheIndexFilter",
    "planCacheRead",
    "planCacheWrite",
    "refineCollectionShardKey",
    "reshardCollection",
    "storageDetails",
    "appendOplogNote",
    "replSetConfigure",
    "replSetGetConfig",
    "replSetGetStatus",
    "replSetHeartbeat",
    "replSetStateChange",
    "resync",
    "addShard",
    "analyzeShardKey",
    "checkMetadataConsistency",
    "clearJumboFlag",
    "enableSharding",
    "flushRouterConfig",
    "getClusterParameter",
    "getShardMap",
    "getShardVersion",
    "listShards",
    "moveChunk",
    "removeShard",
    "setClusterParameter",
    "shardingState",
    "splitChunk",
    "splitVector",
    "applyOps",
    "checkFreeMonitoringStatus",
    "closeAllDatabases",
    "collMod",
    "compact",
    "compactStructuredEncryptionData",
    "connPoolSync",
    "convertToCapped",
    "dropConnections",
    "forceUUID",
    "fsync",
    "getDefaultRWConcern",
    "getParameter",
    "hostInfo",
    "logRotate",
    "reIndex",
    "renameCollection",
    "renameCollectionSameDB",
    "rotateCertificates",
    "setDefaultRWConcern",
    "setFeatureCompatibilityVersion",
    "setFreeMonitoring",
    "setParameter",
    "setUserWriteBlockMode",
    "shutdown",
    "touch",
    "collStats",
    "connPoolStats",
    "dbHash",
    "dbStats",
    "getCmdLineOpts",
    "getLog",
    "indexStats",
    "listDatabases",
    "listCollections",
    "listIndexes",
    "listSessions",
    "netstat",
    "operationMetrics",
    "serverStatus",
    "top",
    "validate",
    "killAnySession",
    "impersonate",
    "anyAction",
    "internal",
    "queryStatsRead",
    "queryStatsReadTransformed",
];
/// Actions that make a role administrative; `audit` flags them on service users.
pub const DANGEROUS_ACTIONS: &[&str] = &[
    "anyAction",
    "dropDatabase",
    "createUser",
    "dropUser",
    "grantRole",
    "revokeRole",
    "createRole",
    "dropRole",
    "changePassword",
    "setAuthenticationRestriction",
    "impersonate",
    "shutdown",
    "internal",
    "applyOps",
];
pub const MECHANISMS: &[&str] = &["SCRAM-SHA-256", "SCRAM-SHA-1"];
pub const PURPOSES: &[&str] = &["service", "human", "admin"];

pub fn read_roles(r: &mut Reader, p: &JsonPath, v: &Value, domains: &[String]) -> Vec<RoleSpec> {
    let Some(map) = v.as_object() else {
        r.error(
            p.clone(),
            format!("expected an object of roles, found {}", json_kind(v)),
        );
        return vec![];
    };
    let custom: Vec<String> = map.keys().cloned().collect();
    let mut out = Vec::new();
    for (name, rv) in map {
        let rp = p.key(name.as_str());
        if is_builtin_role(name) {
            r.error(
                rp.clone(),
                format!("\"{name}\" is a MongoDB built-in role; give the custom role another name"),
            );
        }
        if name.is_empty() || name.contains('.') || name.contains('$') {
            r.error(
                rp.clone(),
                format!("role name \"{name}\" must be non-empty without '.' or '$'"),
            );
        }
        let Some(m) = r.object(&rp, rv, &["description", "privileges", "roles"], "a role") else {
            continue;
        };
        if let Some(d) = m.get("description") {
            r.string(&rp.key("description"), d);
        }
        let privileges = match m.get("privileges") {
            Some(pv) => read_privileges(r, &rp.key("privileges"), pv, domains),
            None => vec![],
        };
        let roles = match m.get("roles") {
            Some(rv) => read_role_refs(r, &rp.key("roles"), rv, domains, &custom),
            None => vec![],
        };
        if privileges.is_empty() && roles.is_empty() {
            r.error(
                rp.clone(),
                "a role needs at least one privilege or inherited role",
            );
        }
        if roles
            .iter()
            .any(|x| x.role == *name && x.target == RoleTarget::Custom)
        {
            r.error(
                rp.key("roles"),
                format!("role \"{name}\" inherits from itself"),
            );
        }
        out.push(RoleSpec {
            name: name.clone(),
            privileges,
            roles,
        });
    }
    out
}

fn read_privileges(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    domains: &[String],
) -> Vec<PrivilegeSpec> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!("expected an array of privileges, found {}", json_kind(v)),
        );
        return vec![];
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = p.index(i);
        let Some(m) = r.object(&ip, item, &["resource", "actions"], "a privilege") else {
            continue;
        };
        let resource = r
            .required(&ip, m, "resource", "a privilege")
            .and_then(|res| read_resource(r, &ip.key("resource"), res, domains));
        let mut actions = Vec::new();
        if let Some(av) = r.required(&ip, m, "actions", "a privilege") {
            let ap = ip.key("actions");
            match av.as_array() {
                Some(list) if !list.is_empty() => {
                    for (j, a) in list.iter().enumerate() {
                        let Some(a) = r.string(&ap.index(j), a) else {
                            continue;
                        };
                        if !ACTIONS.contains(&a.as_str()) {
                            let hint = did_you_mean(&a, ACTIONS.iter().copied())
                                .map(|s| format!("; did you mean \"{s}\"?"))
                                .unwrap_or_default();
                            r.error(
                                ap.index(j),
                                format!("\"{a}\" is not a MongoDB privilege action{hint}"),
                            );
                            continue;
                        }
                        actions.push(a);
                    }
                }
                _ => r.error(ap, "expected a non-empty array of action names"),
            }
        }
        actions.sort();
        actions.dedup();
        if let Some(resource) = resource {
            out.push(PrivilegeSpec { resource, actions });
        }
    }
    out
}

fn read_resource(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    domains: &[String],
) -> Option<ResourceSpec> {
    let m = r.object(
        p,
        v,
        &["domain", "db", "collection", "cluster"],
        "a privilege resource",
    )?;
    let collection = m
        .get("collection")
        .and_then(|c| r.string(&p.key("collection"), c))
        .unwrap_or_default();
    match (m.get("domain"), m.get("db"), m.get("cluster")) {
        (Some(d), None, None) => {
            let domain = r.string(&p.key("domain"), d)?;
            check_domain(r, &p.key("domain"), &domain, domains)?;
            Some(ResourceSpec::Domain { domain, collection })
        }
        (None, Some(d), None) => Some(ResourceSpec::Db {
            db: r.string(&p.key("db"), d)?,
            collection,
        }),
        (None, None, Some(c)) => {
            if r.boolean(&p.key("cluster"), c) != Some(true) || m.contains_key("collection") {
                r.error(
                    p.clone(),
                    "a cluster resource is exactly {\"cluster\": true}",
                );
                return None;
            }
            Some(ResourceSpec::Cluster)
        }
        _ => {
            r.error(
                p.clone(),
                "a resource names exactly one of \"domain\", \"db\" or \"cluster\"",
            );
            None
        }
    }
}

fn check_domain(r: &mut Reader, p: &JsonPath, domain: &str, domains: &[String]) -> Option<()> {
    if domains.iter().any(|d| d == domain) {
        return Some(());
    }
    let hint = did_you_mean(domain, domains.iter().map(String::as_str))
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    r.error(
        p.clone(),
        format!("\"{domain}\" is not a declared domain{hint}"),
    );
    None
}

fn read_role_refs(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    domains: &[String],
    custom: &[String],
) -> Vec<RoleRefSpec> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            format!("expected an array of roles, found {}", json_kind(v)),
        );
        return vec![];
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = p.index(i);
        let Some(m) = r.object(&ip, item, &["role", "domain", "db"], "a role reference") else {
            continue;
        };
        let Some(role) = r
            .required(&ip, m, "role", "a role reference")
            .and_then(|x| r.string(&ip.key("role"), x))
        else {
            continue;
        };
        let is_custom = custom.contains(&role);
        let is_builtin = is_builtin_role(&role);
        let target = match (m.get("domain"), m.get("db")) {
            (Some(d), None) => r.string(&ip.key("domain"), d).and_then(|d| {
                check_domain(r, &ip.key("domain"), &d, domains).map(|_| RoleTarget::Domain(d))
            }),
            (None, Some(d)) => r.string(&ip.key("db"), d).map(RoleTarget::Db),
            (None, None) if is_custom => Some(RoleTarget::Custom),
            (None, None) if is_builtin => {
                r.error(ip.clone(), format!("built-in role \"{role}\" needs a \"domain\" or a \"db\" (\"admin\" for cluster-wide roles)"));
                None
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                r.error(ip.clone(), "give \"domain\" or \"db\", not both");
                None
            }
        };
        if !is_custom && !is_builtin {
            let names = custom
                .iter()
                .map(String::as_str)
                .chain(DATABASE_ROLES.iter().copied())
                .chain(ADMIN_ONLY_ROLES.iter().copied());
            let hint = did_you_mean(&role, names)
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            r.error(ip.key("role"), format!("role \"{role}\" is neither declared in \"roles\" nor a MongoDB built-in role{hint}"));
            continue;
        }
        let Some(target) = target else { continue };
        if is_custom && target != RoleTarget::Custom && target != RoleTarget::Db("admin".into()) {
            r.error(
                ip.clone(),
                format!("custom role \"{role}\" is defined in admin; leave out domain/db"),
            );
            continue;
        }
        if ADMIN_ONLY_ROLES.contains(&role.as_str()) && target != RoleTarget::Db("admin".into()) {
            r.error(
                ip.clone(),
                format!("\"{role}\" exists only on the admin database: use \"db\": \"admin\""),
            );
            continue;
        }
        let target = if is_custom {
            RoleTarget::Custom
        } else {
            target
        };
        out.push(RoleRefSpec { role, target });
    }
    out
}

pub fn read_users(
    r: &mut Reader,
    p: &JsonPath,
    v: &Value,
    domains: &[String],
    custom: &[String],
    root: &Path,
) -> Vec<UserSpec> {
    let Some(map) = v.as_object() else {
        r.error(
            p.clone(),
            format!("expected an object of users, found {}", json_kind(v)),
        );
        return vec![];
    };
    let mut out = Vec::new();
    for (name, uv) in map {
        let up = p.key(name.as_str());
        let allowed = [
            "description",
            "database",
            "roles",
            "mechanisms",
            "password",
            "authenticationRestrictions",
            "purpose",
        ];
        let Some(m) = r.object(&up, uv, &allowed, "a user") else {
            continue;
        };
        if let Some(d) = m.get("description") {
            r.string(&up.key("description"), d);
        }
        let db = m
            .get("database")
            .and_then(|d| r.string(&up.key("database"), d))
            .unwrap_or_else(|| "admin".into());
        let roles = r
            .required(&up, m, "roles", "a user")
            .map(|rv| read_role_refs(r, &up.key("roles"), rv, domains, custom))
            .unwrap_or_default();
        let mechanisms = read_mechanisms(r, &up, m);
        let purpose = m
            .get("purpose")
            .and_then(|x| r.choice(&up.key("purpose"), x, PURPOSES))
            .unwrap_or_else(|| "service".into());
        let restrictions = m
            .get("authenticationRestrictions")
            .map(|x| read_restrictions(r, &up.key("authenticationRestrictions"), x))
            .unwrap_or_default();
        let password = match m.get("password") {
            Some(pv) => read_password(r, &up.key("password"), pv, root),
            None => {
                r.error(up.clone(), "missing \"password\": its source, one of {\"env\": \"VAR\"}, {\"file\": \"/path/outside/workspace\"}, {\"generate\": true}");
                None
            }
        };
        out.push(UserSpec {
            name: name.clone(),
            db,
            roles,
            mechanisms,
            restrictions,
            purpose,
            password,
        });
    }
    out
}

fn read_mechanisms(r: &mut Reader, up: &JsonPath, m: &Map<String, Value>) -> Vec<String> {
    let Some(mv) = m.get("mechanisms") else {
        return vec!["SCRAM-SHA-256".into()];
    };
    let mp = up.key("mechanisms");
    match mv.as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .enumerate()
            .filter_map(|(i, x)| r.choice(&mp.index(i), x, MECHANISMS))
            .collect(),
        _ => {
            r.error(
                mp,
                format!("expected a non-empty array of {}", quote_list(MECHANISMS)),
            );
            vec![]
        }
    }
}

fn read_restrictions(r: &mut Reader, p: &JsonPath, v: &Value) -> Vec<Document> {
    let Some(items) = v.as_array() else {
        r.error(
            p.clone(),
            "expected an array of {\"clientSource\": [...], \"serverAddress\": [...]}",
        );
        return vec![];
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = p.index(i);
        let Some(m) = r.object(
            &ip,
            item,
            &["clientSource", "serverAddress"],
            "an authentication restriction",
        ) else {
            continue;
        };
        let mut ok = true;
        for (k, list) in m {
            let ok_list = list.as_array().is_some_and(|a| {
                !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(is_address))
            });
            if !ok_list {
                r.error(
                    ip.key(k.as_str()),
                    "expected a non-empty array of IP addresses or CIDR ranges",
                );
                ok = false;
            }
        }
        if ok && let Ok(Bson::Document(d)) = Bson::try_from(item.clone()) {
            out.push(d);
        }
    }
    out
}

fn is_address(s: &str) -> bool {
    let (addr, bits) = s.split_once('/').unwrap_or((s, ""));
    let addr_ok = addr.parse::<std::net::IpAddr>().is_ok();
    addr_ok && (bits.is_empty() || bits.parse::<u8>().is_ok_and(|b| b <= 128))
}

fn read_password(r: &mut Reader, p: &JsonPath, v: &Value, root: &Path) -> Option<PasswordSource> {
    if v.is_string() {
        r.error(p.clone(), "literal password: passwords never live in the repo; use {\"env\": \"VAR\"}, {\"file\": \"/path/outside/workspace\"} or {\"generate\": true}");
        return None;
    }
    let m = r.object(p, v, &["env", "file", "generate"], "a password source")?;
    if m.len() != 1 {
        r.error(
            p.clone(),
            "a password source is exactly one of \"env\", \"file\" or \"generate\"",
        );
        return None;
    }
    let (k, x) = m.iter().next()?;
    match k.as_str() {
        "env" => {
            let var = r.string(&p.key("env"), x)?;
            // `{TENANT}` is the tenant placeholder of template users (checked by the manifest).
            let plain = var.replace(super::tenants::ENV_PLACEHOLDER, "T");
            let valid = !var.is_empty()
                && plain.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                r.error(
                    p.key("env"),
                    format!("\"{var}\" is not an environment variable name"),
                );
                return None;
            }
            Some(PasswordSource::Env(var))
        }
        "file" => {
            let path = PathBuf::from(r.string(&p.key("file"), x)?);
            if !path.is_absolute() {
                r.error(
                    p.key("file"),
                    "use an absolute path to a file outside the workspace",
                );
                return None;
            }
            let inside = std::fs::canonicalize(root).ok().is_some_and(|root| {
                let parent = path
                    .parent()
                    .and_then(|d| std::fs::canonicalize(d).ok())
                    .unwrap_or_else(|| path.clone());
                parent.starts_with(&root)
            });
            if inside {
                r.error(
                    p.key("file"),
                    "the password file is inside the workspace; keep secrets out of the repository",
                );
                return None;
            }
            Some(PasswordSource::File(path))
        }
        _ => {
            if r.boolean(&p.key("generate"), x) != Some(true) {
                r.error(p.key("generate"), "use true, or another source");
                return None;
            }
            Some(PasswordSource::Generate)
        }
    }
}

/// Keys whose string values are secrets when written literally.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "privatekey",
        "accesskey",
    ]
    .iter()
    .any(|s| k.ends_with(s) || k.starts_with(s))
}

/// Reports string values that look like literal secrets: a secret-named key with a non-empty
/// string value, or a connection string carrying a password.
pub fn scan_literal_secrets(r: &mut Reader, v: &Value, p: &JsonPath) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let kp = p.key(k.as_str());
                if let Value::String(s) = x
                    && secret_key(k)
                    && !s.is_empty()
                {
                    r.error(kp.clone(), format!("\"{k}\" looks like a literal secret; secrets never live in the repo (use a password source, or leave the field out)"));
                    continue;
                }
                scan_literal_secrets(r, x, &kp);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                scan_literal_secrets(r, x, &p.index(i));
            }
        }
        Value::String(s) if uri_with_password(s) => {
            r.error(
                p.clone(),
                "a connection string with a password; reference an environment variable instead",
            );
        }
        _ => {}
    }
}

fn uri_with_password(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("mongodb://")
        .or_else(|| s.strip_prefix("mongodb+srv://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| {
        userinfo
            .split_once(':')
            .is_some_and(|(_, pw)| !pw.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_detection() {
        assert!(
            secret_key("password")
                && secret_key("hashed_password")
                && secret_key("api_key")
                && secret_key("accessToken")
        );
        assert!(!secret_key("passport_number") && !secret_key("description"));
        assert!(
            uri_with_password("mongodb://u:p@h/db")
                && !uri_with_password("mongodb://u@h")
                && !uri_with_password("mongodb://h:27017")
        );
        assert!(is_address("10.0.0.0/8") && is_address("::1") && !is_address("localhost"));
    }
}
