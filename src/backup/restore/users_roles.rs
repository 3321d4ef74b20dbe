//! `--users-and-roles`: the users and roles a backup saved, renamed with their databases and
//! merged in the way mongorestore does (temporary collections and `_mergeAuthzCollections`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use mongodb::Client;

use crate::backup::bsonio::{Next, read_doc};
use crate::backup::crypto::{AGE_SUFFIX, Identities, open_decoded};
use crate::backup::staging::described;

use super::RestoreOptions;

/// Rewrites references to database `from` as `to` in a user or role document.
pub(super) fn rename_authz(d: &mut Document, from: &str, to: &str) {
    if d.get_str("db") == Ok(from) {
        let name = d
            .get_str("user")
            .or_else(|_| d.get_str("role"))
            .unwrap_or_default()
            .to_string();
        d.insert("db", to);
        d.insert("_id", format!("{to}.{name}"));
    }
    for key in ["roles", "inheritedRoles"] {
        if let Ok(list) = d.get_array_mut(key) {
            for r in list.iter_mut() {
                if let Bson::Document(r) = r
                    && r.get_str("db") == Ok(from)
                {
                    r.insert("db", to);
                }
            }
        }
    }
    if let Ok(privs) = d.get_array_mut("privileges") {
        for p in privs.iter_mut() {
            if let Bson::Document(p) = p
                && let Ok(res) = p.get_document_mut("resource")
                && res.get_str("db") == Ok(from)
            {
                res.insert("db", to);
            }
        }
    }
}

/// Saved users and roles: raw documents per (source database, "users" | "roles"); a key is
/// present when the backup holds that collection for the database (even empty).
pub(super) type Authz = BTreeMap<(String, String), Vec<Vec<u8>>>;

/// Which saved collection of users or roles an archive namespace `$admin.system.<kind>` is.
pub(super) fn authz_kind(coll: &str) -> Option<&'static str> {
    match coll {
        "$admin.system.users" => Some("users"),
        "$admin.system.roles" => Some("roles"),
        _ => None,
    }
}

/// `<db>/$admin.system.{users,roles}.bson[.gz][.age]` of the source databases of `dbs`.
pub(super) fn read_authz_files(
    dir: &Path,
    dbs: &[(String, String)],
    ids: &Identities,
) -> Result<Authz> {
    let mut out = Authz::new();
    for (src, _) in dbs {
        for kind in ["users", "roles"] {
            let age = AGE_SUFFIX;
            let path = ["", ".gz", age, &format!(".gz{age}")]
                .iter()
                .map(|sfx| {
                    dir.join(src)
                        .join(format!("$admin.system.{kind}.bson{sfx}"))
                })
                .find(|p| p.exists());
            let Some(path) = path else { continue };
            let mut r = open_decoded(&path, ids, &path.display().to_string())?;
            let mut offset = 0;
            let mut docs = Vec::new();
            loop {
                match read_doc(&mut r, &mut offset)
                    .with_context(|| format!("reading {}", path.display()))?
                {
                    Next::Doc(d) => docs.push(d),
                    Next::Terminator => {
                        bail!(
                            "{}: unexpected terminator at byte offset {offset}",
                            path.display()
                        )
                    }
                    Next::Eof => break,
                }
            }
            out.insert((src.clone(), kind.to_string()), docs);
        }
    }
    Ok(out)
}

/// Users and roles saved by `backup --users-and-roles`, merged into the target databases the
/// way mongorestore does it: through temporary collections and `_mergeAuthzCollections`.
pub(super) async fn restore_users_and_roles(
    client: &Client,
    mut authz: Authz,
    dbs: &[(String, String)],
    opts: &RestoreOptions,
) -> Result<(u64, u64)> {
    let admin = client.database("admin");
    let (mut users, mut roles) = (0, 0);
    for (src, dst) in dbs {
        let mut any = false;
        let mut names = ("", "");
        for (kind, temp) in [
            ("users", "mongoctl_tempusers"),
            ("roles", "mongoctl_temproles"),
        ] {
            let Some(raw) = authz.remove(&(src.clone(), kind.to_string())) else {
                continue;
            };
            let mut docs = Vec::with_capacity(raw.len());
            for d in raw {
                let mut d = Document::from_reader(&d[..])?;
                rename_authz(&mut d, src, dst);
                docs.push(d);
            }
            let tc = admin.collection::<Document>(temp);
            tc.drop().await.map_err(described)?;
            if docs.is_empty() {
                continue;
            }
            let n = docs.len() as u64;
            tc.insert_many(docs).await.map_err(described)?;
            any = true;
            if kind == "users" {
                users += n;
                names.0 = temp;
            } else {
                roles += n;
                names.1 = temp;
            }
        }
        if any {
            let merged = admin
                .run_command(doc! {
                    "_mergeAuthzCollections": 1,
                    "tempUsersCollection": if names.0.is_empty() { String::new() } else { format!("admin.{}", names.0) },
                    "tempRolesCollection": if names.1.is_empty() { String::new() } else { format!("admin.{}", names.1) },
                    "drop": opts.drop,
                    "db": dst,
                })
                .await
                .map_err(described)
                .with_context(|| format!("restoring the users and roles of {dst}"));
            for t in ["mongoctl_tempusers", "mongoctl_temproles"] {
                admin.collection::<Document>(t).drop().await.ok();
            }
            merged?;
        }
    }
    Ok((users, roles))
}
