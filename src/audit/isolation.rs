//! Tenant isolation as a pure function of the users' and roles' effective privileges (what
//! the server resolves them to, built-in and inherited roles expanded): a proof that no user
//! belonging to one tenant can read or write another tenant's databases, or the findings that
//! say who can, which action and through which role.
//!
//! The rules:
//! - A user belongs to tenant T when it is T's template user, or when it holds a data
//!   privilege (read or write below) on one of T's databases by name.
//! - A resource reaches a tenant when it names one of its databases (`{db: X, collection: …}`,
//!   any collection), or every database (`{db: "", …}`, as the `*AnyDatabase` built-ins
//!   grant), or `{anyResource: true}`.
//! - Reading is `find`, `listCollections`, `listIndexes`, `listSearchIndexes`, `changeStream`,
//!   `dbHash`; writing is changing documents, collections, indexes or the database, and
//!   creating users or granting roles there (which amounts to writing). Size statistics
//!   (`collStats`, `dbStats`, `indexStats`) are not tenant data.
//! - `cross_tenant_access` (high): a tenant's template user reaching another tenant, or a user
//!   that is not declared in the spec reaching more than one tenant.
//! - `cross_tenant_role` (high): a custom role reaching more than one tenant, or a tenant's
//!   template role reaching any other tenant (any-database privileges included).
//! - `cross_tenant_declared` (info, not failing): a shared user or role declared in the spec
//!   (not a template) reaching more than one tenant: a platform admin, a backup user. Grants
//!   added to it outside the spec are `user_drift` / `role_drift`, which fail.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Finding;
use crate::model::{Effective, Privilege};
use crate::tenancy::fleet::some_names;

/// Actions that read a tenant's data.
pub const READ_ACTIONS: &[&str] = &[
    "find",
    "listCollections",
    "listIndexes",
    "listSearchIndexes",
    "changeStream",
    "dbHash",
];

/// Actions that write a tenant's data, or let the holder give itself that right.
pub const WRITE_ACTIONS: &[&str] = &[
    "insert",
    "update",
    "remove",
    "createIndex",
    "dropIndex",
    "reIndex",
    "createCollection",
    "dropCollection",
    "renameCollectionSameDB",
    "convertToCapped",
    "emptycapped",
    "collMod",
    "dropDatabase",
    "createSearchIndexes",
    "dropSearchIndex",
    "updateSearchIndex",
    "createUser",
    "changePassword",
    "grantRole",
    "createRole",
    "updateRole",
    "anyAction",
];

/// One tenant as the audit sees it: its databases and its template users and roles (`name@db`).
#[derive(Debug, Clone, Default)]
pub struct TenantScope {
    pub id: String,
    pub databases: Vec<String>,
    pub users: Vec<String>,
    pub roles: Vec<String>,
}

/// What the isolation check is given: the tenants, the shared (non-template) users and roles
/// the spec declares, and the live users and custom roles with their effective privileges.
/// `role_privileges` holds the effective privileges of every role a user holds directly, to
/// name the role a reach comes through.
#[derive(Debug, Default)]
pub struct Input<'a> {
    pub tenants: &'a [TenantScope],
    pub declared_users: BTreeSet<String>,
    pub declared_roles: BTreeSet<String>,
    pub users: &'a [Effective],
    pub roles: &'a [Effective],
    pub role_privileges: BTreeMap<String, &'a [Privilege]>,
}

/// One user or role reaching a tenant that is not its own.
#[derive(Serialize, Debug, PartialEq)]
pub struct Violation {
    pub kind: &'static str,
    /// `user name@db` or `role name@db`.
    pub subject: String,
    /// The tenant it belongs to (template users and roles), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The other tenants it reaches.
    pub reaches: Vec<String>,
    /// It holds data actions on every database (`{db: ""}`, `anyResource`, the
    /// `*AnyDatabase` built-ins); for a tenant's own user or role that alone is a violation.
    pub any_database: bool,
    /// The data actions it holds there.
    pub actions: Vec<String>,
    /// The roles that grant them (users only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
}

/// The proof: how many tenants, tenant users and principals were checked, and every
/// violation (none: isolation holds).
#[derive(Serialize, Debug, PartialEq)]
pub struct Isolation {
    pub tenants: usize,
    pub tenant_users: usize,
    pub users_checked: usize,
    pub roles_checked: usize,
    pub proven: bool,
    pub violations: Vec<Violation>,
    /// Declared shared users and roles that reach more than one tenant (info).
    pub declared_shared: Vec<String>,
}

/// Where a set of privileges reaches: tenant → the data actions held on it, and the tenants
/// reached through a database named explicitly (not only through any-database resources).
#[derive(Default)]
struct Reach {
    actions: BTreeMap<String, BTreeSet<String>>,
    named: BTreeSet<String>,
    /// Some data action on every database (`{db: ""}` or `anyResource`).
    any_database: bool,
}

fn is_data_action(a: &str) -> bool {
    READ_ACTIONS.contains(&a) || WRITE_ACTIONS.contains(&a)
}

fn reach(privileges: &[Privilege], tenant_of: &BTreeMap<&str, &str>, all: &[String]) -> Reach {
    let mut out = Reach::default();
    for p in privileges {
        let actions: Vec<&String> = p.actions.iter().filter(|a| is_data_action(a)).collect();
        if actions.is_empty() {
            continue;
        }
        let any_resource = p.resource.get_bool("anyResource") == Ok(true);
        let every = any_resource || p.resource.get_str("db") == Ok("");
        out.any_database |= every;
        let tenants: Vec<&str> = match p.resource.get_str("db") {
            _ if every => all.iter().map(String::as_str).collect(),
            Ok(db) => match tenant_of.get(db) {
                Some(t) => {
                    out.named.insert(t.to_string());
                    vec![t]
                }
                None => vec![],
            },
            Err(_) => vec![],
        };
        for t in tenants {
            out.actions
                .entry(t.to_string())
                .or_default()
                .extend(actions.iter().map(|a| a.to_string()));
        }
    }
    out
}

/// The isolation check itself (no client, no printing): the proof and the findings.
pub fn check(input: &Input) -> (Isolation, Vec<Finding>) {
    let all: Vec<String> = input.tenants.iter().map(|t| t.id.clone()).collect();
    let tenant_of: BTreeMap<&str, &str> = input
        .tenants
        .iter()
        .flat_map(|t| t.databases.iter().map(|d| (d.as_str(), t.id.as_str())))
        .collect();
    // Template users and roles by `(is_role, name@db)` → their tenant.
    let owners: BTreeMap<(bool, &str), &str> = input
        .tenants
        .iter()
        .flat_map(|t| {
            let users = t
                .users
                .iter()
                .map(move |u| ((false, u.as_str()), t.id.as_str()));
            let roles = t
                .roles
                .iter()
                .map(move |r| ((true, r.as_str()), t.id.as_str()));
            users.chain(roles)
        })
        .collect();
    let mut violations = Vec::new();
    let mut declared_shared = Vec::new();
    let mut declared_findings = Vec::new();
    let mut tenant_users = 0;
    let principals = input
        .users
        .iter()
        .map(|u| (u, false))
        .chain(input.roles.iter().map(|r| (r, true)));
    for (p, is_role) in principals {
        let r = reach(&p.privileges, &tenant_of, &all);
        let home = owners.get(&(is_role, p.id.as_str())).map(|t| t.to_string());
        if !is_role && (home.is_some() || !r.named.is_empty()) {
            tenant_users += 1;
        }
        let reached: Vec<String> = r.actions.keys().cloned().collect();
        let foreign: Vec<String> = match &home {
            Some(t) => reached.iter().filter(|x| *x != t).cloned().collect(),
            None if reached.len() > 1 => reached.clone(),
            None => vec![],
        };
        // A tenant's own user or role may hold nothing on every database, even as the only
        // tenant.
        let any_database = r.any_database;
        if foreign.is_empty() && !(home.is_some() && any_database) {
            continue;
        }
        let declared = if is_role {
            &input.declared_roles
        } else {
            &input.declared_users
        };
        let subject = format!("{} {}", if is_role { "role" } else { "user" }, p.id);
        if home.is_none() && declared.contains(&p.id) {
            declared_findings.push(Finding {
                severity: "info",
                kind: "cross_tenant_declared",
                detail: format!(
                    "declared shared {} reaching {} of {} tenants' data (by design; grants outside the spec show as drift)",
                    if is_role { "role" } else { "user" },
                    reached.len(),
                    all.len()
                ),
                subject: subject.clone(),
            });
            declared_shared.push(subject);
            continue;
        }
        let actions: BTreeSet<String> = if foreign.is_empty() {
            r.actions.values().flatten().cloned().collect()
        } else {
            foreign
                .iter()
                .flat_map(|t| r.actions[t].iter().cloned())
                .collect()
        };
        let through = if is_role {
            vec![]
        } else {
            granting_roles(p, &foreign, input, &tenant_of, &all)
        };
        violations.push(Violation {
            kind: if is_role {
                "cross_tenant_role"
            } else {
                "cross_tenant_access"
            },
            subject,
            tenant: home,
            reaches: foreign,
            any_database,
            actions: actions.into_iter().collect(),
            through,
        });
    }
    let mut findings: Vec<Finding> = violations.iter().map(finding).collect();
    findings.extend(declared_findings);
    let isolation = Isolation {
        tenants: input.tenants.len(),
        tenant_users,
        users_checked: input.users.len(),
        roles_checked: input.roles.len(),
        proven: violations.is_empty(),
        violations,
        declared_shared,
    };
    (isolation, findings)
}

/// The user's direct roles whose effective privileges reach one of `foreign` (none: every
/// database).
fn granting_roles(
    user: &Effective,
    foreign: &[String],
    input: &Input,
    tenant_of: &BTreeMap<&str, &str>,
    all: &[String],
) -> Vec<String> {
    user.roles
        .iter()
        .map(ToString::to_string)
        .filter(|id| {
            input.role_privileges.get(id).is_some_and(|p| {
                let r = reach(p, tenant_of, all);
                if foreign.is_empty() {
                    r.any_database
                } else {
                    foreign.iter().any(|t| r.actions.contains_key(t))
                }
            })
        })
        .collect()
}

fn finding(v: &Violation) -> Finding {
    let whose = match &v.tenant {
        Some(t) => format!("tenant {t}'s {}", v.subject.split(' ').next().unwrap_or("")),
        None => format!("undeclared {}", v.subject.split(' ').next().unwrap_or("")),
    };
    let through = if v.through.is_empty() {
        String::new()
    } else {
        format!(" through {}", v.through.join(", "))
    };
    let actions: Vec<String> = v.actions.clone();
    let reaches = match (v.reaches.len(), v.any_database) {
        (0, _) => "every database".to_string(),
        (n, any) => format!(
            "tenant{} {}{}",
            if n == 1 { "" } else { "s" },
            some_names(&v.reaches, 5),
            if any { " (every database)" } else { "" }
        ),
    };
    Finding {
        severity: "high",
        kind: v.kind,
        subject: v.subject.clone(),
        detail: format!(
            "{whose} reaches {reaches}: {}{through}",
            some_names(&actions, 6),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleRef;
    use bson::doc;

    fn on(db: &str, actions: &[&str]) -> Privilege {
        Privilege {
            resource: doc! {"db": db, "collection": ""},
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn any_resource(actions: &[&str]) -> Privilege {
        Privilege {
            resource: doc! {"anyResource": true},
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn eff(id: &str, roles: &[&str], privileges: Vec<Privilege>) -> Effective {
        Effective {
            id: id.into(),
            roles: roles
                .iter()
                .map(|r| {
                    let (role, db) = r.split_once('@').unwrap();
                    RoleRef {
                        role: role.into(),
                        db: db.into(),
                    }
                })
                .collect(),
            privileges,
        }
    }

    fn tenants(ids: &[&str]) -> Vec<TenantScope> {
        ids.iter()
            .map(|t| TenantScope {
                id: t.to_string(),
                databases: vec![format!("chat_{t}"), format!("files_{t}")],
                users: vec![format!("svc_{t}@admin")],
                roles: vec![format!("chat_{t}_rw@admin")],
            })
            .collect()
    }

    const RW: &[&str] = &["find", "insert", "update", "remove"];

    /// The roles the cases' users hold, as the server resolves them.
    fn role_table() -> Vec<Effective> {
        vec![
            eff("chat_a_rw@admin", &[], vec![on("chat_a", RW)]),
            eff("chat_b_rw@admin", &[], vec![on("chat_b", RW)]),
            eff(
                "read@chat_b",
                &[],
                vec![on("chat_b", &["find", "listCollections"])],
            ),
            eff(
                "readAnyDatabase@admin",
                &[],
                vec![
                    on("", &["find", "listCollections"]),
                    Privilege {
                        resource: doc! {"cluster": true},
                        actions: vec!["listDatabases".into()],
                    },
                ],
            ),
            // A custom role inheriting `read` on tenant b's database.
            eff(
                "leaky@admin",
                &["read@chat_b"],
                vec![on("chat_a", RW), on("chat_b", &["find", "listCollections"])],
            ),
            eff(
                "clusterMonitor@admin",
                &[],
                vec![on("", &["collStats", "dbStats"])],
            ),
            eff("root@admin", &[], vec![any_resource(&["anyAction"])]),
        ]
    }

    struct Case {
        name: &'static str,
        tenants: &'static [&'static str],
        users: Vec<Effective>,
        roles: Vec<Effective>,
        declared_users: &'static [&'static str],
        declared_roles: &'static [&'static str],
        /// (kind, subject, detail fragment) of every finding, in order.
        expected: Vec<(&'static str, &'static str, &'static str)>,
        tenant_users: usize,
    }

    fn run(c: &Case) -> (Isolation, Vec<Finding>) {
        let table = role_table();
        let scopes = tenants(c.tenants);
        let input = Input {
            tenants: &scopes,
            declared_users: c.declared_users.iter().map(|s| s.to_string()).collect(),
            declared_roles: c.declared_roles.iter().map(|s| s.to_string()).collect(),
            users: &c.users,
            roles: &c.roles,
            role_privileges: table
                .iter()
                .map(|r| (r.id.clone(), r.privileges.as_slice()))
                .collect(),
        };
        check(&input)
    }

    #[test]
    fn isolation_table() {
        let a_rw = || on("chat_a", RW);
        let cases = vec![
            Case {
                name: "each tenant's user on its own databases: proven",
                tenants: &["a", "b"],
                users: vec![
                    eff(
                        "svc_a@admin",
                        &["chat_a_rw@admin"],
                        vec![a_rw(), on("files_a", RW)],
                    ),
                    eff("svc_b@admin", &["chat_b_rw@admin"], vec![on("chat_b", RW)]),
                ],
                roles: vec![
                    eff("chat_a_rw@admin", &[], vec![a_rw()]),
                    eff("chat_b_rw@admin", &[], vec![on("chat_b", RW)]),
                ],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![],
                tenant_users: 2,
            },
            Case {
                name: "a grant of read on another tenant's database",
                tenants: &["a", "b"],
                users: vec![eff(
                    "svc_a@admin",
                    &["chat_a_rw@admin", "read@chat_b"],
                    vec![a_rw(), on("chat_b", &["find", "listCollections"])],
                )],
                roles: vec![],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![(
                    "cross_tenant_access",
                    "user svc_a@admin",
                    "tenant a's user reaches tenant b: find, listCollections through read@chat_b",
                )],
                tenant_users: 1,
            },
            Case {
                name: "the any-database resource reaches every other tenant",
                tenants: &["a", "b", "c"],
                users: vec![eff(
                    "svc_a@admin",
                    &["chat_a_rw@admin", "readAnyDatabase@admin"],
                    vec![a_rw(), on("", &["find"])],
                )],
                roles: vec![],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![(
                    "cross_tenant_access",
                    "user svc_a@admin",
                    "reaches tenants b, c (every database): find through readAnyDatabase@admin",
                )],
                tenant_users: 1,
            },
            Case {
                name: "an inherited role: the template role itself leaks, and its holder",
                tenants: &["a", "b"],
                users: vec![eff(
                    "svc_a@admin",
                    &["leaky@admin"],
                    vec![a_rw(), on("chat_b", &["find"])],
                )],
                roles: vec![eff(
                    "chat_a_rw@admin",
                    &["read@chat_b"],
                    vec![a_rw(), on("chat_b", &["find"])],
                )],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![
                    (
                        "cross_tenant_access",
                        "user svc_a@admin",
                        "reaches tenant b: find through leaky@admin",
                    ),
                    (
                        "cross_tenant_role",
                        "role chat_a_rw@admin",
                        "tenant a's role reaches tenant b: find",
                    ),
                ],
                tenant_users: 1,
            },
            Case {
                name: "an undeclared user on two tenants, an undeclared role spanning two",
                tenants: &["a", "b", "c"],
                users: vec![eff(
                    "ops@admin",
                    &[],
                    vec![on("chat_a", &["find"]), on("files_b", &["insert"])],
                )],
                roles: vec![eff(
                    "bridge@admin",
                    &[],
                    vec![on("chat_b", &["find"]), on("chat_c", &["remove"])],
                )],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![
                    (
                        "cross_tenant_access",
                        "user ops@admin",
                        "undeclared user reaches tenants a, b: find, insert",
                    ),
                    (
                        "cross_tenant_role",
                        "role bridge@admin",
                        "undeclared role reaches tenants b, c: find, remove",
                    ),
                ],
                tenant_users: 1,
            },
            Case {
                name: "declared shared users and roles reaching every tenant are info",
                tenants: &["a", "b"],
                users: vec![eff(
                    "root@admin",
                    &["root@admin"],
                    vec![any_resource(&["anyAction"])],
                )],
                roles: vec![eff("platform_read@admin", &[], vec![on("", &["find"])])],
                declared_users: &["root@admin"],
                declared_roles: &["platform_read@admin"],
                expected: vec![
                    (
                        "cross_tenant_declared",
                        "user root@admin",
                        "declared shared user reaching 2 of 2",
                    ),
                    (
                        "cross_tenant_declared",
                        "role platform_read@admin",
                        "declared shared role",
                    ),
                ],
                tenant_users: 0,
            },
            Case {
                name: "the same root user undeclared is a violation",
                tenants: &["a", "b"],
                users: vec![eff(
                    "root@admin",
                    &["root@admin"],
                    vec![any_resource(&["anyAction"])],
                )],
                roles: vec![],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![(
                    "cross_tenant_access",
                    "user root@admin",
                    "undeclared user reaches tenants a, b (every database): anyAction through root@admin",
                )],
                tenant_users: 0,
            },
            Case {
                name: "one tenant's database only, size statistics and cluster actions: nothing",
                tenants: &["a", "b"],
                users: vec![
                    eff("reader@admin", &[], vec![on("chat_b", &["find"])]),
                    eff(
                        "monitor@admin",
                        &["clusterMonitor@admin"],
                        vec![on("", &["collStats", "dbStats"])],
                    ),
                ],
                roles: vec![],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![],
                tenant_users: 1,
            },
            Case {
                name: "a template role and user on every database are flagged even with one tenant",
                tenants: &["a"],
                users: vec![eff(
                    "svc_a@admin",
                    &["chat_a_rw@admin", "readAnyDatabase@admin"],
                    vec![on("", &["find"])],
                )],
                roles: vec![eff("chat_a_rw@admin", &[], vec![on("", &["find"])])],
                declared_users: &[],
                declared_roles: &[],
                expected: vec![
                    (
                        "cross_tenant_access",
                        "user svc_a@admin",
                        "tenant a's user reaches every database: find through readAnyDatabase@admin",
                    ),
                    (
                        "cross_tenant_role",
                        "role chat_a_rw@admin",
                        "tenant a's role reaches every database: find",
                    ),
                ],
                tenant_users: 1,
            },
        ];
        for c in &cases {
            let (isolation, found) = run(c);
            let got: Vec<(&str, &str)> =
                found.iter().map(|f| (f.kind, f.subject.as_str())).collect();
            let want: Vec<(&str, &str)> = c.expected.iter().map(|(k, s, _)| (*k, *s)).collect();
            assert_eq!(got, want, "{}", c.name);
            for (f, (_, _, fragment)) in found.iter().zip(&c.expected) {
                assert!(
                    f.detail.contains(fragment),
                    "{}: {:?} lacks {fragment:?}",
                    c.name,
                    f.detail
                );
            }
            let high = c
                .expected
                .iter()
                .filter(|e| e.0 != "cross_tenant_declared")
                .count();
            assert_eq!(isolation.violations.len(), high, "{}", c.name);
            assert_eq!(isolation.proven, high == 0, "{}", c.name);
            assert_eq!(isolation.tenants, c.tenants.len(), "{}", c.name);
            assert_eq!(isolation.tenant_users, c.tenant_users, "{}", c.name);
            assert_eq!(isolation.users_checked, c.users.len(), "{}", c.name);
        }
    }

    #[test]
    fn a_violation_names_the_tenants_the_actions_and_the_roles() {
        let c = Case {
            name: "structured",
            tenants: &["a", "b", "c"],
            users: vec![eff(
                "svc_a@admin",
                &["chat_a_rw@admin", "read@chat_b"],
                vec![a_rw_all(), on("chat_b", &["find", "listCollections"])],
            )],
            roles: vec![],
            declared_users: &[],
            declared_roles: &[],
            expected: vec![],
            tenant_users: 1,
        };
        let (isolation, _) = run(&c);
        assert_eq!(
            isolation.violations,
            vec![Violation {
                kind: "cross_tenant_access",
                subject: "user svc_a@admin".into(),
                tenant: Some("a".into()),
                reaches: vec!["b".into()],
                any_database: false,
                actions: vec!["find".into(), "listCollections".into()],
                through: vec!["read@chat_b".into()],
            }]
        );
    }

    fn a_rw_all() -> Privilege {
        on("chat_a", RW)
    }
}
