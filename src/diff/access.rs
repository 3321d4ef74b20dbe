//! Roles and users: create / update changes for declared ones, unmanaged entries for the rest.
//! Passwords never enter the plan; a change names the source `apply` reads them from.

use bson::{Bson, Document, doc};

use crate::model::{Access, Privilege, RoleRef, doc_eq, doc_to_json};
use crate::plan::{Action, Change, PASSWORD_PLACEHOLDER, SecretNeed, Unmanaged, UnmanagedKind};

fn resource_label(r: &Document) -> String {
    if r.get_bool("cluster") == Ok(true) {
        return "cluster".into();
    }
    match (r.get_str("db"), r.get_str("collection")) {
        (Ok(""), Ok("")) => "any database".into(),
        (Ok(db), Ok("")) => format!("{db}.*"),
        (Ok(db), Ok(c)) => format!("{db}.{c}"),
        _ => doc_to_json(r).to_string(),
    }
}

fn privilege_docs(ps: &[Privilege]) -> Vec<Bson> {
    ps.iter()
        .map(|p| {
            Bson::Document(doc! {"resource": p.resource.clone(), "actions": p.actions.clone()})
        })
        .collect()
}

fn role_docs(rs: &[RoleRef]) -> Vec<Bson> {
    rs.iter()
        .map(|r| Bson::Document(doc! {"role": &r.role, "db": &r.db}))
        .collect()
}

/// `+ find, insert on db.coll` / `- remove on db.coll` per resource.
fn privilege_diff(old: &[Privilege], new: &[Privilege]) -> Vec<String> {
    let mut resources: Vec<&Document> = old.iter().chain(new).map(|p| &p.resource).collect();
    resources.dedup_by(|a, b| doc_eq(a, b, false));
    let mut seen: Vec<&Document> = Vec::new();
    let mut out = Vec::new();
    for r in resources {
        if seen.iter().any(|s| doc_eq(s, r, false)) {
            continue;
        }
        seen.push(r);
        let actions = |ps: &[Privilege]| -> Vec<String> {
            ps.iter()
                .filter(|p| doc_eq(&p.resource, r, false))
                .flat_map(|p| p.actions.clone())
                .collect()
        };
        let (a, b) = (actions(old), actions(new));
        let added: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
        let removed: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
        let join = |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        if !added.is_empty() {
            out.push(format!("+ {} on {}", join(added), resource_label(r)));
        }
        if !removed.is_empty() {
            out.push(format!("- {} on {}", join(removed), resource_label(r)));
        }
    }
    out
}

fn same_privileges(a: &[Privilege], b: &[Privilege]) -> bool {
    privilege_diff(a, b).is_empty()
}

pub(super) fn diff_access(
    d: &Access,
    l: &Access,
    out: &mut Vec<Change>,
    unmanaged: &mut Vec<Unmanaged>,
) {
    for role in &d.roles {
        let live = l
            .roles
            .iter()
            .find(|x| x.name == role.name && x.db == role.db);
        let body = |verb: &str| doc! {verb: &role.name, "privileges": privilege_docs(&role.privileges), "roles": role_docs(&role.roles)};
        match live {
            None => {
                let mut c = Change::new(
                    Action::CreateRole,
                    &role.db,
                    None,
                    format!(
                        "{} ({} privilege(s), {} inherited role(s))",
                        role.name,
                        role.privileges.len(),
                        role.roles.len()
                    ),
                );
                c.details = privilege_diff(&[], &role.privileges);
                c.details
                    .extend(role.roles.iter().map(|r| format!("+ inherits {r}")));
                c.commands.push(body("createRole"));
                out.push(c);
            }
            Some(lr)
                if !same_privileges(&lr.privileges, &role.privileges) || lr.roles != role.roles =>
            {
                let mut c = Change::new(Action::UpdateRole, &role.db, None, role.name.clone());
                c.details = privilege_diff(&lr.privileges, &role.privileges);
                c.details.extend(
                    role.roles
                        .iter()
                        .filter(|r| !lr.roles.contains(r))
                        .map(|r| format!("+ inherits {r}")),
                );
                c.details.extend(
                    lr.roles
                        .iter()
                        .filter(|r| !role.roles.contains(r))
                        .map(|r| format!("- inherits {r}")),
                );
                c.commands.push(body("updateRole"));
                out.push(c);
            }
            Some(_) => {}
        }
    }
    for user in &d.users {
        let secret = user.password.clone().map(|source| SecretNeed {
            user: user.name.clone(),
            db: user.db.clone(),
            source,
        });
        let Some(live) = l
            .users
            .iter()
            .find(|x| x.name == user.name && x.db == user.db)
        else {
            let source = user
                .password
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "none".into());
            let mut c = Change::new(
                Action::CreateUser,
                &user.db,
                None,
                format!("{} (password: {source})", user.id()),
            );
            c.details = user.roles.iter().map(|r| format!("+ {r}")).collect();
            let mut cmd = doc! {"createUser": &user.name, "pwd": PASSWORD_PLACEHOLDER, "roles": role_docs(&user.roles), "mechanisms": user.mechanisms.clone()};
            if !user.restrictions.is_empty() {
                cmd.insert(
                    "authenticationRestrictions",
                    user.restrictions
                        .iter()
                        .cloned()
                        .map(Bson::Document)
                        .collect::<Vec<_>>(),
                );
            }
            c.commands.push(cmd);
            c.secret = secret;
            out.push(c);
            continue;
        };
        let mut c = Change::new(Action::UpdateUser, &user.db, None, user.id());
        let grant: Vec<RoleRef> = user
            .roles
            .iter()
            .filter(|r| !live.roles.contains(r))
            .cloned()
            .collect();
        let revoke: Vec<RoleRef> = live
            .roles
            .iter()
            .filter(|r| !user.roles.contains(r))
            .cloned()
            .collect();
        if !grant.is_empty() {
            c.details.extend(grant.iter().map(|r| format!("+ {r}")));
            c.commands
                .push(doc! {"grantRolesToUser": &user.name, "roles": role_docs(&grant)});
        }
        if !revoke.is_empty() {
            c.details.extend(revoke.iter().map(|r| format!("- {r}")));
            c.commands
                .push(doc! {"revokeRolesFromUser": &user.name, "roles": role_docs(&revoke)});
        }
        if user.mechanisms != live.mechanisms {
            c.details.push(format!(
                "mechanisms: {} → {}",
                live.mechanisms.join(", "),
                user.mechanisms.join(", ")
            ));
            let mut cmd = doc! {"updateUser": &user.name, "mechanisms": user.mechanisms.clone()};
            // Adding a mechanism needs the password to derive its credentials.
            if user.mechanisms.iter().any(|m| !live.mechanisms.contains(m)) {
                cmd.insert("pwd", PASSWORD_PLACEHOLDER);
                c.secret = secret.clone();
            }
            c.commands.push(cmd);
        }
        let same_restrictions = user.restrictions.len() == live.restrictions.len()
            && user
                .restrictions
                .iter()
                .zip(&live.restrictions)
                .all(|(a, b)| doc_eq(a, b, false));
        if !same_restrictions {
            let show = |r: &[Document]| {
                serde_json::Value::Array(r.iter().map(doc_to_json).collect()).to_string()
            };
            c.details.push(format!(
                "authenticationRestrictions: {} → {}",
                show(&live.restrictions),
                show(&user.restrictions)
            ));
            c.commands.push(doc! {"updateUser": &user.name, "authenticationRestrictions": user.restrictions.iter().cloned().map(Bson::Document).collect::<Vec<_>>()});
        }
        if !c.commands.is_empty() {
            c.summary = format!("{} ({} Change::new(s))", user.id(), c.details.len());
            out.push(c);
        }
    }
    for u in &l.users {
        if !d.users.iter().any(|x| x.name == u.name && x.db == u.db) {
            unmanaged.push(Unmanaged {
                kind: UnmanagedKind::User,
                database: u.db.clone(),
                collection: None,
                index: None,
                name: Some(u.name.clone()),
                protected: l.connected_as.contains(&u.id()),
            });
        }
    }
    for r in &l.roles {
        if !d.roles.iter().any(|x| x.name == r.name && x.db == r.db) {
            unmanaged.push(Unmanaged {
                kind: UnmanagedKind::Role,
                database: r.db.clone(),
                collection: None,
                index: None,
                name: Some(r.name.clone()),
                protected: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff;
    use crate::model::{ClusterState, PasswordSource};
    use crate::model::{RoleDef, UserDef};
    use crate::plan::Plan;

    fn user(
        name: &str,
        roles: &[(&str, &str)],
        mechs: &[&str],
        password: Option<PasswordSource>,
    ) -> UserDef {
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
            password,
        }
    }

    fn role(actions: &[&str]) -> RoleDef {
        RoleDef {
            name: "appender".into(),
            db: "admin".into(),
            privileges: vec![Privilege {
                resource: doc! {"db": "a", "collection": "logs"},
                actions: actions.iter().map(|a| a.to_string()).collect(),
            }],
            roles: vec![],
        }
    }

    fn plan_of(d: Access, l: Access, prune: bool) -> Plan {
        diff(
            &ClusterState {
                databases: vec![],
                access: Some(d),
            },
            &ClusterState {
                databases: vec![],
                access: Some(l),
            },
            prune,
        )
    }

    #[test]
    fn creates_roles_before_users_and_never_puts_a_password_in_the_plan() {
        let d = Access {
            roles: vec![role(&["find", "insert"])],
            users: vec![user(
                "svc",
                &[("appender", "admin")],
                &["SCRAM-SHA-256"],
                Some(PasswordSource::Env("PW".into())),
            )],
            connected_as: vec![],
        };
        let plan = plan_of(d, Access::default(), false);
        let kinds: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
        assert_eq!(kinds, vec![Action::CreateRole, Action::CreateUser]);
        assert_eq!(plan.changes[0].details, vec!["+ find, insert on a.logs"]);
        let create = &plan.changes[1];
        assert_eq!(
            create.commands[0].get_str("pwd").unwrap(),
            PASSWORD_PLACEHOLDER
        );
        assert_eq!(
            create.secret.as_ref().unwrap().source,
            PasswordSource::Env("PW".into())
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["changes"][1]["password_source"], "env PW");
    }

    #[test]
    fn role_and_grant_drift_become_updates_and_unmanaged_users_are_pruned_except_ourselves() {
        let d = Access {
            roles: vec![role(&["find", "insert"])],
            users: vec![user("svc", &[("readWrite", "a")], &["SCRAM-SHA-256"], None)],
            connected_as: vec![],
        };
        let l = Access {
            roles: vec![role(&["find", "insert", "remove"])],
            users: vec![
                user(
                    "svc",
                    &[("readWrite", "a"), ("root", "admin")],
                    &["SCRAM-SHA-1", "SCRAM-SHA-256"],
                    None,
                ),
                user("root", &[("root", "admin")], &["SCRAM-SHA-256"], None),
                user("old", &[], &["SCRAM-SHA-256"], None),
            ],
            connected_as: vec!["root@admin".into()],
        };
        let plan = plan_of(d.clone(), l.clone(), false);
        assert_eq!(plan.changes[0].action, Action::UpdateRole);
        assert_eq!(plan.changes[0].details, vec!["- remove on a.logs"]);
        let u = &plan.changes[1];
        assert_eq!(u.action, Action::UpdateUser);
        assert_eq!(
            u.details,
            vec![
                "- root@admin",
                "mechanisms: SCRAM-SHA-1, SCRAM-SHA-256 → SCRAM-SHA-256"
            ]
        );
        assert_eq!(
            u.commands[0],
            doc! {"revokeRolesFromUser": "svc", "roles": [{"role": "root", "db": "admin"}]}
        );
        assert!(u.secret.is_none(), "dropping a mechanism needs no password");
        assert_eq!(plan.unmanaged.len(), 2);

        let pruned = plan_of(d, l, true);
        let drops: Vec<&Change> = pruned
            .changes
            .iter()
            .filter(|c| c.action == Action::DropUser)
            .collect();
        assert_eq!(drops.len(), 1, "the connected user is never dropped");
        assert_eq!(drops[0].commands[0], doc! {"dropUser": "old"});
        assert!(drops[0].destructive);
    }
}
