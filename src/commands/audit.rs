//! `audit`: every user and role in the cluster held against the spec. Findings: users and
//! roles not in the spec, privileged built-in roles beyond what is declared, users without
//! SCRAM-SHA-256, custom roles granting dangerous actions to service users, and drift of
//! declared users and roles. Exit 2 when there is any finding (a CI gate).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::live;
use crate::model::{Access, RoleDef, RoleRef, UserDef};
use crate::render;
use crate::spec::access::DANGEROUS_ACTIONS;

#[derive(Args, Debug, Clone, Default)]
pub struct AuditArgs {}

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

#[derive(Serialize, Debug, PartialEq)]
pub struct Finding {
    pub severity: &'static str,
    pub kind: &'static str,
    pub subject: String,
    pub detail: String,
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

pub async fn run(_args: AuditArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let desired = ctx.desired(&ws, &[])?;
    let declared = desired.access.unwrap_or_default();
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let live = live::inspect_access(&client, true).await?;
    let found = findings(&declared, &live);
    if ctx.json() {
        render::json(
            &serde_json::json!({"users": live.users.len(), "roles": live.roles.len(), "findings": found}),
        );
    } else if found.is_empty() {
        if !ctx.global.quiet {
            println!(
                "No findings: {} user(s) and {} custom role(s) match the spec.",
                live.users.len(),
                live.roles.len()
            );
        }
    } else {
        let mut t = render::table(&["severity", "finding", "subject", "detail"]);
        for f in &found {
            t.add_row(vec![f.severity, f.kind, &f.subject, &f.detail]);
        }
        println!("{t}");
        println!(
            "{} finding(s) over {} user(s) and {} custom role(s).",
            found.len(),
            live.users.len(),
            live.roles.len()
        );
    }
    Ok(if found.is_empty() {
        SUCCESS
    } else {
        CHANGES_PENDING
    })
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
}
