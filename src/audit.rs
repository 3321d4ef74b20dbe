//! The access audit as a pure function: the users and roles read from the cluster, held
//! against the declared ones, become a list of findings (data; `render::audit` prints them).
//! Findings: users and roles not in the spec, privileged built-in roles beyond what is
//! declared, users without SCRAM-SHA-256, custom roles granting dangerous actions to service
//! users, and drift of declared users and roles. Tenant isolation (template workspaces) is
//! proven in [`isolation`].

pub mod isolation;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Access, RoleDef, RoleRef, UserDef};
use crate::spec::access::DANGEROUS_ACTIONS;

/// Built-in roles that amount to administration or wide data access.
const PRIVILEGED_ROLES: &[&str] = &[
    "root",
    "__system",
    "readAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "dbAdminAnyDatabase",
    "dbOwner",
    "userAdmin",
    "clusterAdmin",
    "restore",
];

/// One thing the audit found, about one user or role.
#[derive(Serialize, Debug, PartialEq)]
pub struct Finding {
    pub severity: &'static str,
    pub kind: &'static str,
    pub subject: String,
    pub detail: String,
}

/// Whether a finding fails the audit (exit 2): everything but `info`.
pub fn fails(found: &[Finding]) -> bool {
    found.iter().any(|f| f.severity != "info")
}

/// The audit itself: a pure function of the declared and the live access.
pub fn findings(declared: &Access, live: &Access) -> Vec<Finding> {
    let mut out = Vec::new();
    let declared_user = |u: &UserDef| {
        declared
            .users
            .iter()
            .find(|d| d.name == u.name && d.db == u.db)
    };
    let roles_by_id: BTreeMap<String, &RoleDef> = live
        .roles
        .iter()
        .map(|r| (format!("{}@{}", r.name, r.db), r))
        .collect();
    for u in &live.users {
        let decl = declared_user(u);
        let subject = format!("user {}", u.id());
        match decl {
            None => out.push(Finding {
                severity: "medium",
                kind: "undeclared_user",
                subject: subject.clone(),
                detail: format!("not in the spec; roles: {}", join(&u.roles)),
            }),
            Some(d) => {
                let extra: Vec<RoleRef> = u
                    .roles
                    .iter()
                    .filter(|r| !d.roles.contains(r))
                    .cloned()
                    .collect();
                let missing: Vec<RoleRef> = d
                    .roles
                    .iter()
                    .filter(|r| !u.roles.contains(r))
                    .cloned()
                    .collect();
                if !extra.is_empty() || !missing.is_empty() {
                    out.push(Finding {
                        severity: "medium",
                        kind: "user_drift",
                        subject: subject.clone(),
                        detail: format!(
                            "granted outside the spec: {}; declared but missing: {}",
                            join(&extra),
                            join(&missing)
                        ),
                    });
                }
            }
        }
        let allowed: &[RoleRef] = decl.map(|d| d.roles.as_slice()).unwrap_or(&[]);
        for r in &u.roles {
            if PRIVILEGED_ROLES.contains(&r.role.as_str()) && !allowed.contains(r) {
                out.push(Finding {
                    severity: "high",
                    kind: "excess_privilege",
                    subject: subject.clone(),
                    detail: format!("holds {r}, which the spec does not grant it"),
                });
            }
        }
        if !u.mechanisms.iter().any(|m| m == "SCRAM-SHA-256") {
            out.push(Finding {
                severity: "medium",
                kind: "weak_mechanism",
                subject: subject.clone(),
                detail: format!(
                    "mechanisms {}: no SCRAM-SHA-256",
                    if u.mechanisms.is_empty() {
                        "none".to_string()
                    } else {
                        u.mechanisms.join(", ")
                    }
                ),
            });
        }
        let is_service = decl.is_none_or(|d| d.purpose == "service");
        if is_service {
            for r in &u.roles {
                let Some(role) = roles_by_id.get(&r.to_string()) else {
                    continue;
                };
                let dangerous: Vec<&str> = role
                    .privileges
                    .iter()
                    .flat_map(|p| p.actions.iter())
                    .filter(|a| DANGEROUS_ACTIONS.contains(&a.as_str()))
                    .map(String::as_str)
                    .collect();
                if !dangerous.is_empty() {
                    out.push(Finding {
                        severity: "high",
                        kind: "dangerous_action",
                        subject: subject.clone(),
                        detail: format!(
                            "service user holds role {r} granting {}",
                            dangerous.join(", ")
                        ),
                    });
                }
            }
        }
    }
    for r in &live.roles {
        let subject = format!("role {}@{}", r.name, r.db);
        match declared
            .roles
            .iter()
            .find(|d| d.name == r.name && d.db == r.db)
        {
            None => out.push(Finding {
                severity: "medium",
                kind: "undeclared_role",
                subject,
                detail: "not in the spec".into(),
            }),
            Some(d) if d.privileges != r.privileges || d.roles != r.roles => out.push(Finding {
                severity: "medium",
                kind: "role_drift",
                subject,
                detail: "privileges or inherited roles differ from the spec (see `mongoctl plan`)"
                    .into(),
            }),
            Some(_) => {}
        }
    }
    for d in &declared.users {
        if !live.users.iter().any(|u| u.name == d.name && u.db == d.db) {
            out.push(Finding {
                severity: "low",
                kind: "missing_user",
                subject: format!("user {}", d.id()),
                detail: "declared but not created (run apply)".into(),
            });
        }
    }
    out
}

fn join(roles: &[RoleRef]) -> String {
    if roles.is_empty() {
        "none".into()
    } else {
        roles
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Privilege;
    use bson::doc;

    fn user(name: &str, roles: &[(&str, &str)], mechs: &[&str]) -> UserDef {
        UserDef {
            name: name.into(),
            db: "admin".into(),
            roles: roles
                .iter()
                .map(|(r, d)| RoleRef {
                    role: r.to_string(),
                    db: d.to_string(),
                })
                .collect(),
            mechanisms: mechs.iter().map(|m| m.to_string()).collect(),
            restrictions: vec![],
            purpose: "service".into(),
            password: None,
        }
    }

    #[test]
    fn finds_excess_privileges_weak_mechanisms_dangerous_roles_and_strangers() {
        let declared = Access {
            roles: vec![],
            users: vec![user("svc", &[("readWrite", "app")], &["SCRAM-SHA-256"])],
            connected_as: vec![],
        };
        let boss = RoleDef {
            name: "boss".into(),
            db: "admin".into(),
            privileges: vec![Privilege {
                resource: doc! {"db": "", "collection": ""},
                actions: vec!["dropDatabase".into(), "find".into()],
            }],
            roles: vec![],
        };
        let live = Access {
            roles: vec![boss],
            users: vec![
                user(
                    "svc",
                    &[("readWrite", "app"), ("root", "admin"), ("boss", "admin")],
                    &["SCRAM-SHA-1"],
                ),
                user("stranger", &[("read", "app")], &["SCRAM-SHA-256"]),
            ],
            connected_as: vec![],
        };
        let kinds: Vec<(&str, &str)> = findings(&declared, &live)
            .iter()
            .map(|f| (f.kind, f.severity))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("user_drift", "medium"),
                ("excess_privilege", "high"),
                ("weak_mechanism", "medium"),
                ("dangerous_action", "high"),
                ("undeclared_user", "medium"),
                ("undeclared_role", "medium"),
            ]
        );
        let clean = Access {
            roles: vec![],
            users: vec![user("svc", &[("readWrite", "app")], &["SCRAM-SHA-256"])],
            connected_as: vec![],
        };
        assert!(findings(&declared, &clean).is_empty());
    }

    fn access(users: Vec<UserDef>, roles: Vec<RoleDef>) -> Access {
        Access {
            roles,
            users,
            connected_as: vec![],
        }
    }

    fn role(name: &str, actions: &[&str]) -> RoleDef {
        RoleDef {
            name: name.into(),
            db: "admin".into(),
            privileges: vec![Privilege {
                resource: doc! {"db": "app", "collection": ""},
                actions: actions.iter().map(|a| a.to_string()).collect(),
            }],
            roles: vec![],
        }
    }

    fn human(mut u: UserDef) -> UserDef {
        u.purpose = "human".into();
        u
    }

    /// (case, declared, live, the (kind, subject) of every finding in order).
    type Case = (
        &'static str,
        Access,
        Access,
        Vec<(&'static str, &'static str)>,
    );

    #[test]
    fn findings_table() {
        let scram = &["SCRAM-SHA-256"];
        let cases: Vec<Case> = vec![
            (
                "a declared privileged role is not excess",
                access(vec![user("adm", &[("root", "admin")], scram)], vec![]),
                access(vec![user("adm", &[("root", "admin")], scram)], vec![]),
                vec![],
            ),
            (
                "an undeclared user holding root is both a stranger and over-privileged",
                access(vec![], vec![]),
                access(vec![user("x", &[("root", "admin")], scram)], vec![]),
                vec![
                    ("undeclared_user", "user x@admin"),
                    ("excess_privilege", "user x@admin"),
                ],
            ),
            (
                "a declared role missing live is drift, not excess",
                access(
                    vec![user("svc", &[("read", "app"), ("readWrite", "app")], scram)],
                    vec![],
                ),
                access(vec![user("svc", &[("read", "app")], scram)], vec![]),
                vec![("user_drift", "user svc@admin")],
            ),
            (
                "no mechanism at all is weak",
                access(vec![user("svc", &[], &[])], vec![]),
                access(vec![user("svc", &[], &[])], vec![]),
                vec![("weak_mechanism", "user svc@admin")],
            ),
            (
                "a dangerous custom role is flagged for service users only",
                access(
                    vec![
                        user("svc", &[("ops", "admin")], scram),
                        human(user("alice", &[("ops", "admin")], scram)),
                    ],
                    vec![role("ops", &["dropDatabase"])],
                ),
                access(
                    vec![
                        user("svc", &[("ops", "admin")], scram),
                        human(user("alice", &[("ops", "admin")], scram)),
                    ],
                    vec![role("ops", &["dropDatabase"])],
                ),
                vec![("dangerous_action", "user svc@admin")],
            ),
            (
                "a harmless custom role is not dangerous",
                access(
                    vec![user("svc", &[("reader", "admin")], scram)],
                    vec![role("reader", &["find"])],
                ),
                access(
                    vec![user("svc", &[("reader", "admin")], scram)],
                    vec![role("reader", &["find"])],
                ),
                vec![],
            ),
            (
                "a live role whose privileges differ is role drift",
                access(vec![], vec![role("reader", &["find"])]),
                access(vec![], vec![role("reader", &["find", "insert"])]),
                vec![("role_drift", "role reader@admin")],
            ),
            (
                "a declared user not created yet is missing",
                access(vec![user("later", &[], scram)], vec![]),
                access(vec![], vec![]),
                vec![("missing_user", "user later@admin")],
            ),
        ];
        for (case, declared, live, expected) in cases {
            let got: Vec<(&str, String)> = findings(&declared, &live)
                .into_iter()
                .map(|f| (f.kind, f.subject))
                .collect();
            let expected: Vec<(&str, String)> = expected
                .into_iter()
                .map(|(k, s)| (k, s.to_string()))
                .collect();
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn drift_detail_names_extra_and_missing_roles() {
        let declared = access(
            vec![user("svc", &[("read", "app")], &["SCRAM-SHA-256"])],
            vec![],
        );
        let live = access(
            vec![user("svc", &[("readWrite", "app")], &["SCRAM-SHA-256"])],
            vec![],
        );
        let f = findings(&declared, &live);
        assert_eq!(
            f[0].detail,
            "granted outside the spec: readWrite@app; declared but missing: read@app"
        );
    }
}
