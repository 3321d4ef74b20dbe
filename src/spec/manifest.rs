//! `mongoctl.json`: domains, their databases and collections, and environments.

use std::collections::BTreeMap;

use bson::Document;
use serde_json::Value;

use super::access::{self, RoleSpec, UserSpec};
use super::fields::{Reader, did_you_mean};
use crate::jsonpath::JsonPath;
use crate::model::{Capped, CollectionOptions, Timeseries};
use crate::sharding::model::{CollectionSharding, ShardingDecl};

pub const MANIFEST_FILE: &str = "mongoctl.json";

#[derive(Debug, Clone)]
pub struct Manifest {
    pub project: String,
    pub metadata_database: String,
    pub default_environment: Option<String>,
    pub environments: BTreeMap<String, Environment>,
    pub domains: Vec<Domain>,
    pub roles: Vec<RoleSpec>,
    pub users: Vec<UserSpec>,
    /// Zones and their shards (`sharding`).
    pub sharding: ShardingDecl,
    /// Where the tenants of template domains come from (`"tenants"`).
    pub tenants: Option<super::tenants::TenantSource>,
    /// Tenant classes and their quotas (`"tenantClasses"`; `"default"`: tenants without one).
    pub tenant_classes: BTreeMap<String, super::quotas::Quota>,
    /// Alert thresholds, budgets and the backup directory (`"alerts"`).
    pub alerts: crate::alerts::Thresholds,
}

#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub uri_env: Option<String>,
    pub database_prefix: Option<String>,
    pub databases: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub name: String,
    pub database: String,
    pub database_env: String,
    pub collections: Vec<CollectionDecl>,
    /// `"tenancy": "database"`: a template instantiated once per tenant; `database` holds
    /// `{tenant}` (see `crate::tenancy`).
    pub template: bool,
    /// `"views"`, filled by `spec::views::read_domains`.
    pub views: Vec<crate::model::ViewState>,
}

#[derive(Debug, Clone)]
pub struct CollectionDecl {
    pub name: String,
    pub options: CollectionOptions,
    /// `tenantKey`, `shardKey`, `shardOptions`, `zoneRanges`.
    pub sharding: CollectionSharding,
}

impl Manifest {
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }
    /// Whether any domain is a tenant template.
    pub fn has_templates(&self) -> bool {
        self.domains.iter().any(|d| d.template)
    }
}

impl Domain {
    pub fn collection(&self, name: &str) -> Option<&CollectionDecl> {
        self.collections.iter().find(|c| c.name == name)
    }
}

const TOP: &[&str] = &[
    "project",
    "metadataDatabase",
    "defaultEnvironment",
    "environments",
    "domains",
    // Read by the common-indexes pass (here and in DOMAIN and COLLECTION).
    "commonIndexes",
    "roles",
    "users",
    "sharding",
    "tenants",
    "tenantClasses",
    "alerts",
];
const ENV: &[&str] = &["uriEnv", "databasePrefix", "databases", "description"];
const DOMAIN: &[&str] = &[
    "database",
    "databaseEnv",
    "description",
    "collections",
    "tenancy",
    "commonIndexes",
    // Read by spec::views::read_domains.
    "views",
];
const COLLECTION: &[&str] = &[
    "description",
    "validationLevel",
    "validationAction",
    "capped",
    "timeseries",
    "collation",
    "clusteredIndex",
    "changeStreamPreAndPostImages",
    // Read by super::sharding.
    "tenantKey",
    "shardKey",
    "shardOptions",
    "zoneRanges",
    "commonIndexes",
];
pub const COLLATION: &[&str] = &[
    "locale",
    "strength",
    "caseLevel",
    "caseFirst",
    "numericOrdering",
    "alternate",
    "maxVariable",
    "backwards",
    "normalization",
];

pub use super::names::database_name_problem;

/// mongod's limit on `<database>.<collection>` for an unsharded collection.
pub const MAX_NAMESPACE_BYTES: usize = 255;

fn collection_name_problem(name: &str) -> Option<String> {
    if name.contains(['/', '\\']) && !name.contains(['$', '\0']) && !name.is_empty() {
        // mongod accepts these, but the name is also a file name: seeds/<domain>/<name>.json.
        return Some(format!(
            "collection name \"{name}\" contains a path separator; it names the collection's spec files, so use a plain name"
        ));
    }
    super::names::namespace_name_problem("collection", name)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Validates the manifest, returning what could be read (possibly partial) — the caller
/// decides from the diagnostics whether it is usable.
pub fn read(r: &mut Reader, v: &Value, root: &std::path::Path) -> Option<Manifest> {
    let root_path = JsonPath::root();
    let top = r.object(&root_path, v, TOP, "the manifest")?;
    let project = r
        .required(&root_path, top, "project", "the manifest")
        .and_then(|p| r.string(&root_path.key("project"), p))
        .unwrap_or_default();
    let metadata_database = match top.get("metadataDatabase") {
        Some(m) => {
            let p = root_path.key("metadataDatabase");
            let name = r.string(&p, m).unwrap_or_default();
            if let Some(problem) = database_name_problem(&name) {
                r.error(p, problem);
            }
            name
        }
        None => "mongoctl".to_string(),
    };

    let mut environments = BTreeMap::new();
    if let Some(envs) = top.get("environments") {
        let p = root_path.key("environments");
        match envs.as_object() {
            Some(map) => {
                for (name, ev) in map {
                    environments
                        .insert(name.clone(), read_environment(r, &p.key(name.as_str()), ev));
                }
            }
            None => r.error(
                p,
                format!(
                    "expected an object of environments, found {}",
                    super::fields::json_kind(envs)
                ),
            ),
        }
    }

    let default_environment = top.get("defaultEnvironment").and_then(|d| {
        let p = root_path.key("defaultEnvironment");
        let name = r.string(&p, d)?;
        if !environments.contains_key(&name) {
            let hint = did_you_mean(&name, environments.keys().map(String::as_str))
                .map(|s| format!("; did you mean \"{s}\"?"))
                .unwrap_or_default();
            r.error(
                p,
                format!("environment \"{name}\" is not declared in \"environments\"{hint}"),
            );
        }
        Some(name)
    });

    let mut domains = Vec::new();
    if let Some(dv) = r.required(&root_path, top, "domains", "the manifest") {
        let p = root_path.key("domains");
        match dv.as_object() {
            Some(map) if map.is_empty() => r.error(p, "declare at least one domain"),
            Some(map) => {
                for (name, d) in map {
                    let dp = p.key(name.as_str());
                    if !is_identifier(name) {
                        r.error(
                            dp.clone(),
                            format!("domain name \"{name}\" must match ^[a-z][a-z0-9_]*$"),
                        );
                    }
                    if let Some(domain) = read_domain(r, &dp, name, d) {
                        domains.push(domain);
                    }
                }
            }
            None => r.error(
                p,
                format!(
                    "expected an object of domains, found {}",
                    super::fields::json_kind(dv)
                ),
            ),
        }
    }

    // Two domains resolving to the same database would fight over its collections.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for d in &domains {
        if let Some(other) = seen.insert(&d.database, &d.name) {
            r.error(
                root_path
                    .key("domains")
                    .key(d.name.as_str())
                    .key("database"),
                format!(
                    "database \"{}\" is already used by domain \"{other}\"",
                    d.database
                ),
            );
        }
    }
    for (env_name, env) in &environments {
        for dom in env.databases.keys() {
            if !domains.iter().any(|d| &d.name == dom) {
                r.error(
                    root_path
                        .key("environments")
                        .key(env_name.as_str())
                        .key("databases")
                        .key(dom.as_str()),
                    format!("\"{dom}\" is not a declared domain"),
                );
            }
        }
    }

    check_namespaces(r, &domains, &environments);
    let sharding = read_sharding(r, top, &domains);

    let domain_names: Vec<String> = domains.iter().map(|d| d.name.clone()).collect();
    let plain: Vec<String> = domains
        .iter()
        .filter(|d| !d.template)
        .map(|d| d.name.clone())
        .collect();
    let tenants = top
        .get("tenants")
        .and_then(|v| super::tenants::read_source(r, &root_path.key("tenants"), v, &plain));
    let tenant_classes = top
        .get("tenantClasses")
        .map(|v| super::quotas::read_classes(r, &root_path.key("tenantClasses"), v))
        .unwrap_or_default();
    let roles = top
        .get("roles")
        .map(|v| access::read_roles(r, &root_path.key("roles"), v, &domain_names))
        .unwrap_or_default();
    let custom: Vec<String> = roles.iter().map(|x| x.name.clone()).collect();
    let users = top
        .get("users")
        .map(|v| access::read_users(r, &root_path.key("users"), v, &domain_names, &custom, root))
        .unwrap_or_default();
    // Literal secrets anywhere else in the manifest (users' passwords are checked above).
    for (k, x) in top {
        if k == "users" {
            for (name, u) in x.as_object().into_iter().flatten() {
                for (f, fv) in u
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(f, _)| f.as_str() != "password")
                {
                    access::scan_literal_secrets(
                        r,
                        fv,
                        &root_path.key("users").key(name.as_str()).key(f.as_str()),
                    );
                }
            }
        } else {
            access::scan_literal_secrets(r, x, &root_path.key(k.as_str()));
        }
    }

    check_templates(r, &domains, &roles, &users, top.contains_key("tenants"));
    let alerts = top
        .get("alerts")
        .map(|v| super::alerts::read(r, &root_path.key("alerts"), v, &plain, &domain_names, root))
        .unwrap_or_default();

    Some(Manifest {
        project,
        metadata_database,
        default_environment,
        environments,
        domains,
        roles,
        users,
        sharding,
        tenants,
        tenant_classes,
        alerts,
    })
}

/// The top-level `sharding` section, and the zones the collections' ranges name in it.
fn read_sharding(
    r: &mut Reader,
    top: &serde_json::Map<String, Value>,
    domains: &[Domain],
) -> ShardingDecl {
    let decl = top
        .get("sharding")
        .map(|v| super::sharding::read_top(r, &JsonPath::root().key("sharding"), v))
        .unwrap_or_default();
    let collections: Vec<_> = domains
        .iter()
        .flat_map(|d| {
            d.collections.iter().map(|c| {
                let p = JsonPath::root()
                    .key("domains")
                    .key(d.name.as_str())
                    .key("collections")
                    .key(c.name.as_str());
                (p, &c.sharding)
            })
        })
        .collect();
    super::sharding::check_zones(r, &collections, &decl);
    decl
}

/// Template rules: template domains need a tenant source; a role or user granting on a
/// template domain is itself a template (`{tenant}` in its name), so each tenant's grants
/// resolve to that tenant's database only; `{TENANT}` in a password variable only in templates.
fn check_templates(
    r: &mut Reader,
    domains: &[Domain],
    roles: &[RoleSpec],
    users: &[UserSpec],
    has_source: bool,
) {
    use super::tenants::{ENV_PLACEHOLDER, PLACEHOLDER, is_template};
    let templates: Vec<&str> = domains
        .iter()
        .filter(|d| d.template)
        .map(|d| d.name.as_str())
        .collect();
    if let Some(first) = templates.first()
        && !has_source
    {
        r.error(
            JsonPath::root().key("domains").key(*first).key("tenancy"),
            "a template domain needs the tenant list: add \"tenants\": {\"file\": \"tenants.json\"} (or {\"collection\": …}) to the manifest",
        );
    }
    // Shared collections with a tenantKey take their tenant list from it too.
    let shared_tenants = domains
        .iter()
        .flat_map(|d| &d.collections)
        .any(|c| c.sharding.tenant_key.is_some());
    if templates.is_empty() && has_source && !shared_tenants {
        r.warn(
            JsonPath::root().key("tenants"),
            "\"tenants\" is declared but no domain has \"tenancy\": \"database\" and no collection a \"tenantKey\"",
        );
    }
    // A grant on a template domain, or on a template role, makes the grantee a template.
    let on_template = |refs: &[access::RoleRefSpec]| {
        refs.iter().find_map(|x| match &x.target {
            access::RoleTarget::Domain(d) if templates.contains(&d.as_str()) => Some(d.clone()),
            _ if is_template(&x.role) => Some(format!("role {}", x.role)),
            _ => None,
        })
    };
    for role in roles {
        let rp = JsonPath::root().key("roles").key(role.name.as_str());
        let resource_domain = role.privileges.iter().find_map(|p| match &p.resource {
            access::ResourceSpec::Domain { domain, .. } if templates.contains(&domain.as_str()) => {
                Some(domain.clone())
            }
            _ => None,
        });
        let template_domain = resource_domain.or_else(|| on_template(&role.roles));
        check_template_name(r, rp, "role", &role.name, template_domain.as_deref());
    }
    for user in users {
        let up = JsonPath::root().key("users").key(user.name.as_str());
        let template_domain = on_template(&user.roles);
        check_template_name(
            r,
            up.clone(),
            "user",
            &user.name,
            template_domain.as_deref(),
        );
        let env_template = matches!(&user.password, Some(crate::model::PasswordSource::Env(v)) if v.contains(ENV_PLACEHOLDER));
        if env_template && !is_template(&user.name) {
            r.error(
                up.key("password").key("env"),
                format!("{ENV_PLACEHOLDER} in a password variable needs a template user ({PLACEHOLDER} in its name)"),
            );
        }
        if is_template(&user.name)
            && matches!(&user.password, Some(crate::model::PasswordSource::Env(v)) if !v.contains(ENV_PLACEHOLDER))
        {
            r.error(
                up.key("password").key("env"),
                format!("a template user's password variable holds {ENV_PLACEHOLDER} (one secret per tenant), e.g. \"SVC_{ENV_PLACEHOLDER}_PASSWORD\""),
            );
        }
    }
}

fn check_template_name(
    r: &mut Reader,
    p: JsonPath,
    what: &str,
    name: &str,
    template_domain: Option<&str>,
) {
    use super::tenants::{PLACEHOLDER, is_template};
    match (is_template(name), template_domain) {
        (false, Some(d)) => r.error(
            p,
            format!("{what} \"{name}\" grants on template \"{d}\": put {PLACEHOLDER} in its name (one {what} per tenant, on that tenant's database only)"),
        ),
        (true, None) => r.error(
            p,
            format!("{what} \"{name}\" has {PLACEHOLDER} in its name but grants on no template domain or role"),
        ),
        _ => {}
    }
}

/// Every `<database>.<collection>` a domain can resolve to (the manifest's database, or an
/// environment's, each with that environment's prefix) must fit mongod's namespace limit.
fn check_namespaces(r: &mut Reader, domains: &[Domain], envs: &BTreeMap<String, Environment>) {
    for d in domains {
        let p = JsonPath::root().key("domains").key(d.name.as_str());
        let databases = resolved_databases(d, envs);
        for c in &d.collections {
            check_namespace(r, &p.key("collections"), &databases, &c.name);
        }
    }
}

/// Each database domain `d` resolves to: the manifest's (no environment), then each
/// environment's, with that environment's prefix.
pub fn resolved_databases<'e>(
    d: &Domain,
    envs: &'e BTreeMap<String, Environment>,
) -> Vec<(String, Option<&'e str>)> {
    let mut databases = vec![(d.database.clone(), None)];
    for (env_name, env) in envs {
        let prefix = env.database_prefix.as_deref().unwrap_or("");
        let base = env.databases.get(&d.name).unwrap_or(&d.database);
        databases.push((format!("{prefix}{base}"), Some(env_name.as_str())));
    }
    databases
}

/// `name` (a collection or view declared under `p`) fits mongod's namespace limit in each
/// of `databases` (views share the collections' limit).
pub fn check_namespace(
    r: &mut Reader,
    p: &JsonPath,
    databases: &[(String, Option<&str>)],
    name: &str,
) {
    let Some((db, env)) = databases
        .iter()
        .find(|(db, _)| db.len() + 1 + name.len() > MAX_NAMESPACE_BYTES)
    else {
        return;
    };
    let ns = format!("{db}.{name}");
    let r#in = env
        .map(|e| format!(" in environment \"{e}\""))
        .unwrap_or_default();
    r.error(
        p.key(name),
        format!(
            "namespace \"{ns}\"{} is {} bytes; MongoDB allows at most {MAX_NAMESPACE_BYTES} for database.collection",
            r#in,
            ns.len()
        ),
    );
}

fn read_environment(r: &mut Reader, p: &JsonPath, v: &Value) -> Environment {
    let mut env = Environment::default();
    let Some(map) = r.object(p, v, ENV, "an environment") else {
        return env;
    };
    if let Some(u) = map.get("uriEnv") {
        env.uri_env = r.string(&p.key("uriEnv"), u);
    }
    if let Some(u) = map.get("databasePrefix") {
        env.database_prefix = r.string(&p.key("databasePrefix"), u);
    }
    if let Some(u) = map.get("description") {
        r.string(&p.key("description"), u);
    }
    if let Some(dbs) = map.get("databases") {
        let dp = p.key("databases");
        match dbs.as_object() {
            Some(m) => {
                for (dom, name) in m {
                    let np = dp.key(dom.as_str());
                    if let Some(name) = r.string(&np, name) {
                        if let Some(problem) = database_name_problem(&name) {
                            r.error(np, problem);
                        }
                        env.databases.insert(dom.clone(), name);
                    }
                }
            }
            None => r.error(
                dp,
                "expected an object mapping domain names to database names",
            ),
        }
    }
    env
}

fn read_domain(r: &mut Reader, p: &JsonPath, name: &str, v: &Value) -> Option<Domain> {
    let map = r.object(p, v, DOMAIN, "a domain")?;
    let database = r
        .required(p, map, "database", "a domain")
        .and_then(|d| r.string(&p.key("database"), d))?;
    let template = map
        .get("tenancy")
        .and_then(|t| r.choice(&p.key("tenancy"), t, &["database"]))
        .is_some();
    let placeholder = super::tenants::PLACEHOLDER;
    if template && !database.contains(placeholder) {
        r.error(
            p.key("database"),
            format!("a template domain (\"tenancy\": \"database\") names its database with {placeholder}, e.g. \"{name}_{placeholder}\""),
        );
    } else if !template && database.contains(placeholder) {
        r.error(
            p.key("database"),
            format!(
                "{placeholder} in a database name needs \"tenancy\": \"database\" on the domain"
            ),
        );
    } else if let Some(problem) = database_name_problem(&super::tenants::substitute(&database, "t"))
    {
        r.error(p.key("database"), problem);
    }
    let database_env = match map.get("databaseEnv") {
        Some(e) => r.string(&p.key("databaseEnv"), e).unwrap_or_default(),
        None => format!("DB_NAME_{}", name.to_uppercase()),
    };
    if let Some(d) = map.get("description") {
        r.string(&p.key("description"), d);
    }
    let mut collections = Vec::new();
    if let Some(cv) = r.required(p, map, "collections", "a domain") {
        let cp = p.key("collections");
        match cv.as_object() {
            Some(cmap) => {
                for (cname, c) in cmap {
                    let ccp = cp.key(cname.as_str());
                    if let Some(problem) = collection_name_problem(cname) {
                        r.error(ccp.clone(), problem);
                    }
                    if let Some(options) = read_collection_options(r, &ccp, c) {
                        collections.push(CollectionDecl {
                            name: cname.clone(),
                            options,
                            sharding: super::sharding::read_collection(r, &ccp, c),
                        });
                    }
                }
            }
            None => r.error(
                cp,
                "expected an object mapping collection names to their options",
            ),
        }
    }
    Some(Domain {
        name: name.to_string(),
        database,
        database_env,
        collections,
        template,
        // Filled in by spec::views::read_domains.
        views: vec![],
    })
}

fn read_collection_options(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<CollectionOptions> {
    let map = r.object(p, v, COLLECTION, "collection options")?;
    let mut o = CollectionOptions::default();
    if let Some(x) = map.get("description") {
        r.string(&p.key("description"), x);
    }
    if let Some(x) = map.get("validationLevel") {
        o.validation_level = r.choice(&p.key("validationLevel"), x, &["off", "strict", "moderate"]);
    }
    if let Some(x) = map.get("validationAction") {
        o.validation_action = r.choice(&p.key("validationAction"), x, &["error", "warn"]);
    }
    if let Some(x) = map.get("capped") {
        let cp = p.key("capped");
        if let Some(cm) = r.object(&cp, x, &["size", "max"], "capped options") {
            let size = r
                .required(&cp, cm, "size", "capped options")
                .and_then(|s| r.integer(&cp.key("size"), s, 1));
            let max = cm.get("max").and_then(|m| r.integer(&cp.key("max"), m, 1));
            if let Some(size) = size {
                o.capped = Some(Capped { size, max });
            }
        }
    }
    if let Some(x) = map.get("timeseries") {
        let tp = p.key("timeseries");
        let allowed = [
            "timeField",
            "metaField",
            "granularity",
            "expireAfterSeconds",
        ];
        if let Some(tm) = r.object(&tp, x, &allowed, "time-series options") {
            let time_field = r
                .required(&tp, tm, "timeField", "time-series options")
                .and_then(|t| r.string(&tp.key("timeField"), t));
            let meta_field = tm
                .get("metaField")
                .and_then(|m| r.string(&tp.key("metaField"), m));
            let granularity = tm.get("granularity").and_then(|g| {
                r.choice(&tp.key("granularity"), g, &["seconds", "minutes", "hours"])
            });
            let expire_after_seconds = tm
                .get("expireAfterSeconds")
                .and_then(|e| r.integer(&tp.key("expireAfterSeconds"), e, 0));
            if meta_field.is_some() && meta_field == time_field {
                r.error(tp.key("metaField"), "metaField must differ from timeField");
            }
            if let Some(time_field) = time_field {
                o.timeseries = Some(Timeseries {
                    time_field,
                    meta_field,
                    granularity,
                    expire_after_seconds,
                });
            }
        }
    }
    if let Some(x) = map.get("collation") {
        o.collation = read_collation(r, &p.key("collation"), x);
    }
    if let Some(x) = map.get("clusteredIndex") {
        let cp = p.key("clusteredIndex");
        if r.boolean(&cp, x) == Some(false) {
            r.error(cp, "use true, or leave clusteredIndex out");
        } else {
            o.clustered = true;
        }
    }
    if let Some(x) = map.get("changeStreamPreAndPostImages") {
        o.change_stream_pre_and_post_images = r
            .boolean(&p.key("changeStreamPreAndPostImages"), x)
            .unwrap_or(false);
    }
    let conflicts = [
        (
            o.capped.is_some() && o.timeseries.is_some(),
            "a collection cannot be both capped and time series",
        ),
        (
            o.capped.is_some() && o.clustered,
            "a clustered collection cannot be capped",
        ),
        (
            o.timeseries.is_some() && o.clustered,
            "a time-series collection is clustered by MongoDB itself; remove clusteredIndex",
        ),
        (
            o.timeseries.is_some() && o.change_stream_pre_and_post_images,
            "changeStreamPreAndPostImages is not supported on time-series collections",
        ),
    ];
    for (bad, why) in conflicts {
        if bad {
            r.error(p.clone(), why);
        }
    }
    Some(o)
}

/// A collation document; `locale` is required, other fields are typed as MongoDB expects.
pub fn read_collation(r: &mut Reader, p: &JsonPath, v: &Value) -> Option<Document> {
    let map = r.object(p, v, COLLATION, "a collation")?;
    let locale = r
        .required(p, map, "locale", "a collation")
        .and_then(|l| r.string(&p.key("locale"), l));
    for (k, val) in map {
        let kp = p.key(k.as_str());
        match k.as_str() {
            "strength" => {
                if let Some(n) = r.integer(&kp, val, 1)
                    && n > 5
                {
                    r.error(kp, "strength must be 1 to 5");
                }
            }
            "caseLevel" | "numericOrdering" | "backwards" | "normalization" => {
                r.boolean(&kp, val);
            }
            "caseFirst" => {
                r.choice(&kp, val, &["upper", "lower", "off"]);
            }
            "alternate" => {
                r.choice(&kp, val, &["non-ignorable", "shifted"]);
            }
            "maxVariable" => {
                r.choice(&kp, val, &["punct", "space"]);
            }
            _ => {}
        }
    }
    locale?;
    bson::Bson::try_from(v.clone()).ok()?.as_document().cloned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::diag::Diagnostic;
    use crate::spec::source::SourceFile;

    /// Parses `text` as `mongoctl.json` and reads it, returning the manifest and every
    /// diagnostic (syntax errors would panic: these tests are about the reader).
    fn read_text(text: &str) -> (Option<Manifest>, Vec<Diagnostic>) {
        let (src, mut diags) = SourceFile::parse(Path::new(MANIFEST_FILE), text.into()).unwrap();
        let m = read(
            &mut Reader::new(&src, &mut diags),
            &src.value,
            Path::new("."),
        );
        (m, diags)
    }

    #[test]
    fn template_domains_roles_and_users_follow_the_tenant_rules() {
        let ok = read_ok(
            r#"{"project": "p", "tenants": {"file": "tenants.json"},
              "domains": {"chat": {"database": "chat_{tenant}", "tenancy": "database", "collections": {"m": {}}}},
              "roles": {"chat_{tenant}_rw": {"privileges": [{"resource": {"domain": "chat", "collection": ""}, "actions": ["find"]}]}},
              "users": {"svc_{tenant}": {"roles": [{"role": "chat_{tenant}_rw"}], "password": {"env": "SVC_{TENANT}_PW"}}}}"#,
        );
        assert!(ok.domains[0].template && ok.has_templates());
        let (_, diags) = read_text(
            r#"{"project": "p",
              "domains": {"chat": {"database": "chat", "tenancy": "database", "collections": {"m": {}}},
                          "other": {"database": "o_{tenant}", "collections": {"m": {}}}},
              "roles": {"rw": {"privileges": [{"resource": {"domain": "chat", "collection": ""}, "actions": ["find"]}]}},
              "users": {"svc_{tenant}": {"roles": [{"role": "rw"}], "password": {"env": "SVC_PW"}}}}"#,
        );
        let shown: Vec<String> = diags
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        let has = |needle: &str| shown.iter().any(|m| m.contains(needle));
        assert!(has("domains.chat.database: a template domain"), "{shown:?}");
        assert!(
            has("domains.other.database: {tenant} in a database name needs"),
            "{shown:?}"
        );
        assert!(
            has("domains.chat.tenancy: a template domain needs the tenant list"),
            "{shown:?}"
        );
        assert!(
            has("roles.rw: role \"rw\" grants on template \"chat\""),
            "{shown:?}"
        );
        assert!(
            has("has {tenant} in its name but grants on no template"),
            "{shown:?}"
        );
        assert!(
            has("password.env: a template user's password variable holds {TENANT}"),
            "{shown:?}"
        );
    }

    fn read_ok(text: &str) -> Manifest {
        let (m, diags) = read_text(text);
        assert!(diags.is_empty(), "unexpected diagnostics: {diags:?}");
        m.unwrap()
    }

    /// The one diagnostic a manifest produced, as `path: message` with its position.
    fn only_diag(text: &str) -> Diagnostic {
        let (_, diags) = read_text(text);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        diags.into_iter().next().unwrap()
    }

    const MINIMAL: &str = r#"{"project": "shop", "domains": {"sales": {"database": "sales", "collections": {"orders": {}}}}}"#;

    #[test]
    fn minimal_manifest_gets_defaults() {
        let m = read_ok(MINIMAL);
        assert_eq!(m.project, "shop");
        assert_eq!(m.metadata_database, "mongoctl");
        assert_eq!(m.default_environment, None);
        assert!(m.environments.is_empty());
        let d = m.domain("sales").unwrap();
        assert_eq!(d.database, "sales");
        assert_eq!(d.database_env, "DB_NAME_SALES");
        assert!(d.collection("orders").is_some());
        assert!(d.collection("nope").is_none());
        assert!(m.domain("nope").is_none());
    }

    #[test]
    fn explicit_database_env_and_metadata_database_are_kept() {
        let m = read_ok(
            r#"{"project": "p", "metadataDatabase": "ops_meta",
                "domains": {"billing_v2": {"database": "bill", "databaseEnv": "BILL_DB", "collections": {}}}}"#,
        );
        assert_eq!(m.metadata_database, "ops_meta");
        assert_eq!(m.domains[0].database_env, "BILL_DB");
    }

    #[test]
    fn domains_keep_file_order() {
        let m = read_ok(
            r#"{"project": "p", "domains": {
                "zeta": {"database": "z", "collections": {}},
                "alpha": {"database": "a", "collections": {}}}}"#,
        );
        let names: Vec<_> = m.domains.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
    }

    #[test]
    fn unknown_top_level_key_is_located_with_a_suggestion() {
        let d = only_diag(
            "{\n  \"project\": \"p\",\n  \"enviroments\": {},\n  \"domains\": {\"s\": {\"database\": \"s\", \"collections\": {}}}\n}",
        );
        assert_eq!(d.path.to_string(), "enviroments");
        assert_eq!((d.line, d.column), (3, 3));
        assert!(
            d.message.contains(
                "unknown field \"enviroments\" in the manifest; did you mean \"environments\"?"
            ),
            "{}",
            d.message
        );
        assert_eq!(
            d.to_string(),
            format!("mongoctl.json:3:3: error: enviroments: {}", d.message)
        );
    }

    #[test]
    fn unknown_key_far_from_any_field_lists_the_allowed_ones() {
        let d = only_diag(
            r#"{"project": "p", "domains": {"s": {"database": "s", "collections": {}, "zzz": 1}}}"#,
        );
        assert_eq!(d.path.to_string(), "domains.s.zzz");
        assert!(
            d.message.ends_with(
                "expected one of: database, databaseEnv, description, collections, tenancy, commonIndexes, views"
            ),
            "{}",
            d.message
        );
    }

    #[test]
    fn wrong_type_names_path_and_kind() {
        let d = only_diag(
            "{\n  \"project\": 5,\n  \"domains\": {\"s\": {\"database\": \"s\", \"collections\": {}}}\n}",
        );
        assert_eq!(d.path.to_string(), "project");
        assert_eq!((d.line, d.column), (2, 3));
        assert_eq!(d.message, "expected a string, found a number");
    }

    #[test]
    fn manifest_that_is_not_an_object_yields_nothing() {
        let (m, diags) = read_text("[1]");
        assert!(m.is_none());
        assert_eq!(
            diags[0].message,
            "expected the manifest (an object), found an array"
        );
    }

    #[test]
    fn missing_and_empty_domains_are_errors() {
        let d = only_diag(r#"{"project": "p"}"#);
        assert_eq!(
            d.message,
            "missing required field \"domains\" in the manifest"
        );
        assert!(d.path.is_root());
        let d = only_diag(r#"{"project": "p", "domains": {}}"#);
        assert_eq!(d.path.to_string(), "domains");
        assert_eq!(d.message, "declare at least one domain");
    }

    #[test]
    fn domain_names_must_be_identifiers() {
        let d = only_diag(
            r#"{"project": "p", "domains": {"Sales": {"database": "s", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "domains.Sales");
        assert!(
            d.message.contains("must match ^[a-z][a-z0-9_]*$"),
            "{}",
            d.message
        );
    }

    #[test]
    fn two_domains_on_one_database_conflict() {
        let d = only_diag(
            r#"{"project": "p", "domains": {
                "a": {"database": "same", "collections": {}},
                "b": {"database": "same", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "domains.b.database");
        assert_eq!(
            d.message,
            "database \"same\" is already used by domain \"a\""
        );
    }

    #[test]
    fn default_environment_must_be_declared() {
        let d = only_diag(
            r#"{"project": "p", "defaultEnvironment": "prd",
                "environments": {"prod": {}, "dev": {}},
                "domains": {"s": {"database": "s", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "defaultEnvironment");
        assert_eq!(
            d.message,
            "environment \"prd\" is not declared in \"environments\"; did you mean \"prod\"?"
        );
    }

    #[test]
    fn environment_fields_are_read_and_checked() {
        let m = read_ok(
            r#"{"project": "p", "defaultEnvironment": "dev",
                "environments": {"dev": {"uriEnv": "DEV_URI", "databasePrefix": "dev_",
                                         "databases": {"s": "sales_dev"}, "description": "x"}},
                "domains": {"s": {"database": "s", "collections": {}}}}"#,
        );
        let dev = &m.environments["dev"];
        assert_eq!(m.default_environment.as_deref(), Some("dev"));
        assert_eq!(dev.uri_env.as_deref(), Some("DEV_URI"));
        assert_eq!(dev.database_prefix.as_deref(), Some("dev_"));
        assert_eq!(dev.databases["s"], "sales_dev");

        let d = only_diag(
            r#"{"project": "p", "environments": {"dev": {"databases": {"ghost": "g"}}},
                "domains": {"s": {"database": "s", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "environments.dev.databases.ghost");
        assert_eq!(d.message, "\"ghost\" is not a declared domain");

        let d = only_diag(
            r#"{"project": "p", "environments": {"dev": {"databases": {"s": "a.b"}}},
                "domains": {"s": {"database": "s", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "environments.dev.databases.s");
        assert!(d.message.contains("contains '.'"), "{}", d.message);
    }

    #[test]
    fn bad_database_names_are_reported_at_their_field() {
        let d = only_diag(
            r#"{"project": "p", "metadataDatabase": "admin", "domains": {"s": {"database": "s", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "metadataDatabase");
        assert!(d.message.contains("system database"), "{}", d.message);
        let d = only_diag(
            r#"{"project": "p", "domains": {"s": {"database": "my db", "collections": {}}}}"#,
        );
        assert_eq!(d.path.to_string(), "domains.s.database");
        assert!(d.message.contains("contains ' '"), "{}", d.message);
    }

    #[test]
    fn database_name_limits() {
        assert_eq!(database_name_problem("sales"), None);
        assert_eq!(database_name_problem(&"a".repeat(63)), None);
        let long = database_name_problem(&"a".repeat(64)).unwrap();
        assert!(
            long.ends_with("is 64 bytes; MongoDB allows at most 63"),
            "{long}"
        );
        // The limit is in bytes: 32 two-byte characters are too long.
        assert!(database_name_problem(&"é".repeat(32)).is_some());
        assert_eq!(database_name_problem(&"é".repeat(31)), None);
        assert_eq!(
            database_name_problem("").as_deref(),
            Some("database name must not be empty")
        );
    }

    #[test]
    fn database_name_characters() {
        for c in ['/', '\\', '.', ' ', '"', '$', '\0'] {
            let name = format!("a{c}b");
            let p = database_name_problem(&name).unwrap_or_else(|| panic!("{name:?} accepted"));
            assert!(p.ends_with("which MongoDB does not allow"), "{p}");
        }
        for c in ['*', '<', '>', ':', '|', '?'] {
            let name = format!("a{c}b");
            let p = database_name_problem(&name).unwrap_or_else(|| panic!("{name:?} accepted"));
            assert!(p.contains("on Windows"), "{p}");
        }
        for sys in ["admin", "local", "config"] {
            assert!(
                database_name_problem(sys)
                    .unwrap()
                    .contains("system database")
            );
        }
        // Only the exact system names are reserved, and dashes and digits are fine.
        assert_eq!(database_name_problem("admin2"), None);
        assert_eq!(database_name_problem("my-app_01"), None);
    }

    #[test]
    fn collection_name_limits() {
        assert_eq!(collection_name_problem("orders.archive"), None);
        assert!(collection_name_problem("").is_some());
        assert!(collection_name_problem("a$b").unwrap().contains("'$'"));
        assert!(
            collection_name_problem("a/b")
                .unwrap()
                .contains("path separator")
        );
        assert!(
            collection_name_problem("a\\b")
                .unwrap()
                .contains("path separator")
        );
        assert!(
            collection_name_problem("system.users")
                .unwrap()
                .contains("reserved")
        );
        assert_eq!(collection_name_problem("systems"), None);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("a") && is_identifier("sales_2"));
        assert!(!is_identifier("") && !is_identifier("2a") && !is_identifier("_a"));
        assert!(!is_identifier("Sales") && !is_identifier("a-b"));
    }

    #[test]
    fn namespace_limit_counts_the_environment_prefix() {
        let coll = "c".repeat(MAX_NAMESPACE_BYTES - 2); // "s." + coll is exactly the limit
        let ok = format!(
            r#"{{"project": "p", "domains": {{"s": {{"database": "s", "collections": {{"{coll}": {{}}}}}}}}}}"#
        );
        read_ok(&ok);
        let prefixed = format!(
            r#"{{"project": "p", "environments": {{"dev": {{"databasePrefix": "x"}}}},
                "domains": {{"s": {{"database": "s", "collections": {{"{coll}": {{}}}}}}}}}}"#
        );
        let d = only_diag(&prefixed);
        assert_eq!(d.path.to_string(), format!("domains.s.collections.{coll}"));
        assert!(
            d.message.contains("in environment \"dev\" is 256 bytes"),
            "{}",
            d.message
        );
    }

    #[test]
    fn namespace_limit_counts_an_environment_database_override() {
        let coll = "c".repeat(MAX_NAMESPACE_BYTES - 10);
        let db = "d".repeat(10); // db + "." + coll is one byte over
        let text = format!(
            r#"{{"project": "p", "environments": {{"dev": {{"databases": {{"s": "{db}"}}}}}},
                "domains": {{"s": {{"database": "s", "collections": {{"{coll}": {{}}}}}}}}}}"#
        );
        let d = only_diag(&text);
        assert!(
            d.message.starts_with(&format!(
                "namespace \"{db}.{coll}\" in environment \"dev\" is 256 bytes"
            )),
            "{}",
            d.message
        );
    }

    fn collection_diags(options: &str) -> Vec<String> {
        let text = format!(
            r#"{{"project": "p", "domains": {{"s": {{"database": "s", "collections": {{"c": {options}}}}}}}}}"#
        );
        read_text(&text)
            .1
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn collection_options_are_read() {
        let m = read_ok(
            r#"{"project": "p", "domains": {"s": {"database": "s", "collections": {
                "log": {"capped": {"size": 4096, "max": 10}, "validationLevel": "moderate",
                        "validationAction": "warn", "changeStreamPreAndPostImages": true},
                "ts": {"timeseries": {"timeField": "t", "metaField": "m", "granularity": "hours",
                                      "expireAfterSeconds": 0}},
                "cl": {"clusteredIndex": true, "collation": {"locale": "fr", "strength": 2}}}}}}"#,
        );
        let d = &m.domains[0];
        let log = &d.collection("log").unwrap().options;
        let capped = log.capped.as_ref().unwrap();
        assert_eq!((capped.size, capped.max), (4096, Some(10)));
        assert_eq!(log.validation_level.as_deref(), Some("moderate"));
        assert_eq!(log.validation_action.as_deref(), Some("warn"));
        assert!(log.change_stream_pre_and_post_images);
        let ts = d
            .collection("ts")
            .unwrap()
            .options
            .timeseries
            .clone()
            .unwrap();
        assert_eq!(ts.time_field, "t");
        assert_eq!(ts.meta_field.as_deref(), Some("m"));
        assert_eq!(ts.granularity.as_deref(), Some("hours"));
        assert_eq!(ts.expire_after_seconds, Some(0));
        let cl = &d.collection("cl").unwrap().options;
        assert!(cl.clustered);
        let collation = cl.collation.as_ref().unwrap();
        assert_eq!(collation.get_str("locale").unwrap(), "fr");
    }

    #[test]
    fn collection_option_errors() {
        assert_eq!(
            collection_diags(r#"{"validationLevel": "strikt"}"#),
            [
                r#"domains.s.collections.c.validationLevel: "strikt" is not one of "off", "strict", "moderate" (did you mean "strict"?)"#
            ]
        );
        assert_eq!(
            collection_diags(r#"{"capped": {"size": 0}}"#),
            ["domains.s.collections.c.capped.size: 0 is less than the minimum 1"]
        );
        assert_eq!(
            collection_diags(r#"{"capped": {"size": 1.5}}"#),
            ["domains.s.collections.c.capped.size: expected a whole number, found 1.5"]
        );
        assert_eq!(
            collection_diags(r#"{"clusteredIndex": false}"#),
            ["domains.s.collections.c.clusteredIndex: use true, or leave clusteredIndex out"]
        );
        assert_eq!(
            collection_diags(r#"{"timeseries": {"timeField": "t", "metaField": "t"}}"#),
            ["domains.s.collections.c.timeseries.metaField: metaField must differ from timeField"]
        );
        assert_eq!(
            collection_diags(r#"{"capped": {"size": 1}, "timeseries": {"timeField": "t"}}"#),
            ["domains.s.collections.c: a collection cannot be both capped and time series"]
        );
        assert_eq!(
            collection_diags(r#"{"collation": {"strength": 6}}"#),
            [
                "domains.s.collections.c.collation: missing required field \"locale\" in a collation",
                "domains.s.collections.c.collation.strength: strength must be 1 to 5",
            ]
        );
        assert_eq!(
            collection_diags(r#"{"collation": {"locale": "en", "caseFirst": "UPPER"}}"#),
            [
                r#"domains.s.collections.c.collation.caseFirst: "UPPER" is not one of "upper", "lower", "off" (did you mean "upper"?)"#
            ]
        );
        assert_eq!(
            collection_diags(r#"{"validationLvl": "strict"}"#),
            [
                r#"domains.s.collections.c.validationLvl: unknown field "validationLvl" in collection options; did you mean "validationLevel"?"#
            ]
        );
    }
}
