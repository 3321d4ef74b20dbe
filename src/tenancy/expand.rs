//! The pure half of the database-per-tenant model: split the desired state into the shared
//! part and the templates, instantiate a template for one tenant, find orphan databases and
//! the tenant a role or user change belongs to. No client, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Access, ClusterState, DatabaseState, PasswordSource, RoleDef, RoleRef, UserDef,
    normalize_access,
};
use crate::plan::Change;
pub use crate::plan::Orphan;
use crate::spec::tenants::{PLACEHOLDER, Tenant, is_template, substitute, substitute_env};

/// What is written once and instantiated per tenant: template databases (their names hold
/// `{tenant}`, after environment prefixes and overrides), and template roles and users.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    pub databases: Vec<DatabaseState>,
    pub roles: Vec<RoleDef>,
    pub users: Vec<UserDef>,
}

impl Templates {
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty() && self.roles.is_empty() && self.users.is_empty()
    }
    /// The template database names (`chat_{tenant}`).
    pub fn database_names(&self) -> Vec<String> {
        self.databases.iter().map(|d| d.name.clone()).collect()
    }
}

/// Moves template databases, roles and users out of `desired`; what stays is the shared part.
pub fn split(mut desired: ClusterState) -> (ClusterState, Templates) {
    let (templates, shared): (Vec<_>, Vec<_>) = desired
        .databases
        .into_iter()
        .partition(|d| is_template(&d.name));
    desired.databases = shared;
    let mut t = Templates {
        databases: templates,
        ..Templates::default()
    };
    if let Some(access) = desired.access.as_mut() {
        let (roles, shared): (Vec<_>, Vec<_>) = std::mem::take(&mut access.roles)
            .into_iter()
            .partition(|r| is_template(&r.name));
        access.roles = shared;
        t.roles = roles;
        let (users, shared): (Vec<_>, Vec<_>) = std::mem::take(&mut access.users)
            .into_iter()
            .partition(|u| is_template(&u.name));
        access.users = shared;
        t.users = users;
    }
    (desired, t)
}

/// The template's databases for one tenant.
pub fn databases(t: &Templates, id: &str) -> Vec<DatabaseState> {
    t.databases
        .iter()
        .map(|d| DatabaseState {
            name: substitute(&d.name, id),
            ..d.clone()
        })
        .collect()
}

fn role_ref(r: &RoleRef, id: &str) -> RoleRef {
    RoleRef {
        role: substitute(&r.role, id),
        db: substitute(&r.db, id),
    }
}

/// The template's roles and users for one tenant: names, grants, privilege resources and
/// password sources with the tenant in place of the placeholder.
pub fn access(t: &Templates, id: &str) -> (Vec<RoleDef>, Vec<UserDef>) {
    let roles = t
        .roles
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.name = substitute(&r.name, id);
            r.db = substitute(&r.db, id);
            r.roles = r.roles.iter().map(|x| role_ref(x, id)).collect();
            for p in &mut r.privileges {
                if let Ok(db) = p.resource.get_str("db") {
                    let db = substitute(db, id);
                    p.resource.insert("db", db);
                }
            }
            r
        })
        .collect();
    let users = t
        .users
        .iter()
        .map(|u| {
            let mut u = u.clone();
            u.name = substitute(&u.name, id);
            u.db = substitute(&u.db, id);
            u.roles = u.roles.iter().map(|x| role_ref(x, id)).collect();
            u.password = u.password.map(|p| match p {
                PasswordSource::Env(v) => PasswordSource::Env(substitute_env(&v, id)),
                PasswordSource::File(f) => {
                    PasswordSource::File(substitute(&f.to_string_lossy(), id).into())
                }
                PasswordSource::Generate => PasswordSource::Generate,
            });
            u
        })
        .collect();
    (roles, users)
}

/// Adds every tenant's roles and users to the shared access, so none of them is unmanaged
/// (users and roles live in `admin`, one list for the whole cluster).
pub fn with_tenant_access(shared: &mut ClusterState, t: &Templates, tenants: &[Tenant]) {
    if t.roles.is_empty() && t.users.is_empty() {
        return;
    }
    let all = shared.access.get_or_insert_with(Access::default);
    for tenant in tenants {
        let (roles, users) = access(t, &tenant.id);
        all.roles.extend(roles);
        all.users.extend(users);
    }
    normalize_access(&mut all.roles, &mut all.users);
}

/// Which tenant each expanded role and user name belongs to.
pub fn access_owners(t: &Templates, tenants: &[Tenant]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for tenant in tenants {
        for r in &t.roles {
            out.insert(substitute(&r.name, &tenant.id), tenant.id.clone());
        }
        for u in &t.users {
            out.insert(substitute(&u.name, &tenant.id), tenant.id.clone());
        }
    }
    out
}

/// The role or user a change creates or updates (the first command's first value).
pub fn access_subject(c: &Change) -> Option<&str> {
    c.commands.first()?.iter().next()?.1.as_str()
}

/// The tenants whose template databases exist but who are not in `tenants`: a database
/// matches a template when it is the template's prefix + a valid id + its suffix.
pub fn orphans(
    templates: &[String],
    existing: &[String],
    tenants: &BTreeSet<String>,
) -> Vec<Orphan> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in templates {
        let Some((prefix, suffix)) = t.split_once(PLACEHOLDER) else {
            continue;
        };
        for db in existing {
            let Some(id) = db
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
            else {
                continue;
            };
            if crate::spec::tenants::id_problem(id).is_none() && !tenants.contains(id) {
                found.entry(id.to_string()).or_default().push(db.clone());
            }
        }
    }
    found
        .into_iter()
        .map(|(tenant, mut databases)| {
            databases.sort();
            Orphan { tenant, databases }
        })
        .collect()
}

/// The resolved databases with each template one replaced by one row per tenant (`list`).
pub fn resolved_per_tenant(
    resolved: Vec<crate::spec::ResolvedDatabase>,
    tenants: &[Tenant],
) -> Vec<crate::spec::ResolvedDatabase> {
    let mut out = Vec::new();
    for r in resolved {
        if !is_template(&r.name) {
            out.push(r);
            continue;
        }
        out.extend(tenants.iter().map(|t| crate::spec::ResolvedDatabase {
            domain: r.domain.clone(),
            name: substitute(&r.name, &t.id),
            source: format!("tenant {}", t.id),
        }));
    }
    out
}

/// Pairs (concrete, template) for one tenant, longest first, to write a tenant's plan in
/// template terms (so plans of different tenants compare).
pub fn generalizer(t: &Templates, id: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = t
        .databases
        .iter()
        .map(|d| d.name.clone())
        .chain(t.roles.iter().map(|r| r.name.clone()))
        .chain(t.users.iter().map(|u| u.name.clone()))
        .map(|name| (substitute(&name, id), name))
        .collect();
    pairs.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
    pairs
}

pub fn generalize(text: &str, pairs: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (concrete, template) in pairs {
        out = out.replace(concrete.as_str(), template);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CollectionState, Privilege};
    use bson::doc;

    fn templates() -> Templates {
        let desired = ClusterState {
            databases: vec![
                DatabaseState {
                    domain: "platform".into(),
                    name: "platform".into(),
                    collections: vec![CollectionState::new("clients")],
                    views: vec![],
                },
                DatabaseState {
                    domain: "chat".into(),
                    name: "staging_chat_{tenant}".into(),
                    collections: vec![CollectionState::new("messages")],
                    views: vec![crate::model::ViewState {
                        name: "recent".into(),
                        view_on: "messages".into(),
                        pipeline: vec![doc! {"$limit": 10}],
                        collation: None,
                        absent: false,
                    }],
                },
            ],
            access: Some(Access {
                roles: vec![RoleDef {
                    name: "chat_{tenant}_rw".into(),
                    db: "admin".into(),
                    privileges: vec![Privilege {
                        resource: doc! {"db": "staging_chat_{tenant}", "collection": ""},
                        actions: vec!["find".into()],
                    }],
                    roles: vec![],
                }],
                users: vec![
                    UserDef {
                        name: "svc_chat_{tenant}".into(),
                        db: "admin".into(),
                        roles: vec![RoleRef {
                            role: "readWrite".into(),
                            db: "staging_chat_{tenant}".into(),
                        }],
                        mechanisms: vec![],
                        restrictions: vec![],
                        purpose: "service".into(),
                        password: Some(PasswordSource::Env("CHAT_{TENANT}_PW".into())),
                    },
                    UserDef {
                        name: "admin_ops".into(),
                        db: "admin".into(),
                        roles: vec![],
                        mechanisms: vec![],
                        restrictions: vec![],
                        purpose: "human".into(),
                        password: None,
                    },
                ],
                connected_as: vec![],
            }),
        };
        let (shared, t) = split(desired);
        assert_eq!(shared.databases.len(), 1);
        assert_eq!(shared.access.as_ref().unwrap().users.len(), 1);
        t
    }

    #[test]
    fn a_template_expands_to_the_tenant_database_only() {
        let t = templates();
        let dbs = databases(&t, "acme");
        assert_eq!(dbs[0].name, "staging_chat_acme");
        assert_eq!(dbs[0].domain, "chat");
        // Views come with the template: viewOn names a collection of the same database.
        assert_eq!(dbs[0].views[0].name, "recent");
        assert_eq!(dbs[0].views[0].view_on, "messages");
        let (roles, users) = access(&t, "acme");
        assert_eq!(roles[0].name, "chat_acme_rw");
        assert_eq!(
            roles[0].privileges[0].resource,
            doc! {"db": "staging_chat_acme", "collection": ""}
        );
        assert_eq!(users[0].name, "svc_chat_acme");
        assert_eq!(users[0].roles[0].db, "staging_chat_acme");
        assert_eq!(
            users[0].password,
            Some(PasswordSource::Env("CHAT_ACME_PW".into()))
        );
    }

    #[test]
    fn tenant_access_joins_the_shared_access_and_names_its_owner() {
        let t = templates();
        let tenants: Vec<Tenant> = ["b", "a"]
            .iter()
            .map(|id| Tenant {
                id: id.to_string(),
                class: None,
            })
            .collect();
        let mut shared = ClusterState::default();
        with_tenant_access(&mut shared, &t, &tenants);
        let users: Vec<&str> = shared
            .access
            .as_ref()
            .unwrap()
            .users
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(users, ["svc_chat_a", "svc_chat_b"]);
        let owners = access_owners(&t, &tenants);
        assert_eq!(owners["chat_b_rw"], "b");
        assert_eq!(owners["svc_chat_a"], "a");
    }

    #[test]
    fn orphans_are_template_databases_of_tenants_not_listed() {
        let existing: Vec<String> = ["chat_acme", "chat_old", "chat_Bad.x", "platform", "chatter"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let tenants = BTreeSet::from(["acme".to_string()]);
        assert_eq!(
            orphans(&["chat_{tenant}".into()], &existing, &tenants),
            [Orphan {
                tenant: "old".into(),
                databases: vec!["chat_old".into()]
            }]
        );
    }

    #[test]
    fn plans_generalize_to_template_names() {
        let t = templates();
        let pairs = generalizer(&t, "a");
        assert_eq!(
            generalize("create svc_chat_a on staging_chat_a.messages", &pairs),
            "create svc_chat_{tenant} on staging_chat_{tenant}.messages"
        );
    }
}
