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

/// The key database of a full dump's `admin.system.users` / `admin.system.roles` in [`Authz`]:
/// the empty name, which `_mergeAuthzCollections` reads as "every database".
pub(super) const EVERY_DATABASE: &str = "";

/// Which users or roles an archive namespace holds, under the key database of [`Authz`]:
/// `<db>.$admin.system.<kind>` (saved per database by `--users-and-roles`) or, in a full
/// dump, `admin.system.<kind>` (every database's, [`EVERY_DATABASE`]).
pub(super) fn authz_kind(db: &str, coll: &str) -> Option<(String, &'static str)> {
    let kind = |rest: &str| match rest {
        "system.users" => Some("users"),
        "system.roles" => Some("roles"),
        _ => None,
    };
    match coll.strip_prefix("$admin.") {
        Some(rest) => kind(rest).map(|k| (db.to_string(), k)),
        None if db == "admin" => kind(coll).map(|k| (EVERY_DATABASE.to_string(), k)),
        None => None,
    }
}

/// Which users and roles an archive restore keeps.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KeepAuthz {
    /// Those saved per database (`--users-and-roles`).
    pub(super) saved: bool,
    /// A full dump's `admin.system.users` / `admin.system.roles`.
    pub(super) full_dump: bool,
}

impl KeepAuthz {
    pub(super) fn keeps(&self, key_db: &str) -> bool {
        if key_db == EVERY_DATABASE {
            self.full_dump
        } else {
            self.saved
        }
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
            let docs = read_authz_file(&path, ids)?;
            out.insert((src.clone(), kind.to_string()), docs);
        }
    }
    Ok(out)
}

/// The documents of one users or roles file (`.gz` / `.age` read with `ids`).
pub(super) fn read_authz_file(path: &Path, ids: &Identities) -> Result<Vec<Vec<u8>>> {
    let mut r = open_decoded(path, ids, &path.display().to_string())?;
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
    Ok(docs)
}

/// Users and roles saved by `backup --users-and-roles`, merged into the target databases the
/// way mongorestore does it: through temporary collections and `_mergeAuthzCollections`.
pub(super) async fn restore_users_and_roles(
    client: &Client,
    mut authz: Authz,
    dbs: &[(String, String)],
    opts: &RestoreOptions,
) -> Result<(u64, u64)> {
    let (mut users, mut roles) = (0, 0);
    for (src, dst) in dbs {
        let mut take = |kind: &str| -> Result<Option<Vec<Document>>> {
            let Some(raw) = authz.remove(&(src.clone(), kind.to_string())) else {
                return Ok(None);
            };
            let mut docs = Vec::with_capacity(raw.len());
            for d in raw {
                let mut d = Document::from_reader(&d[..])?;
                rename_authz(&mut d, src, dst);
                docs.push(d);
            }
            Ok(Some(docs))
        };
        let (u, r) = (take("users")?, take("roles")?);
        let (nu, nr) = merge_authz(client, u, r, dst, opts.drop)
            .await
            .with_context(|| format!("restoring the users and roles of {dst}"))?;
        users += nu;
        roles += nr;
    }
    Ok((users, roles))
}

/// A full dump's `admin.system.users` / `admin.system.roles` (every database's), merged as
/// mongorestore merges them: `_mergeAuthzCollections` for every database, so that with `drop`
/// the users and roles the dump does not hold are removed.
pub(super) async fn restore_full_dump_authz(
    client: &Client,
    mut authz: Authz,
    drop: bool,
) -> Result<(u64, u64)> {
    let mut take = |kind: &str| -> Result<Option<Vec<Document>>> {
        authz
            .remove(&(EVERY_DATABASE.to_string(), kind.to_string()))
            .map(|raw| {
                raw.iter()
                    .map(|d| Ok(Document::from_reader(&d[..])?))
                    .collect()
            })
            .transpose()
    };
    let (u, r) = (take("users")?, take("roles")?);
    merge_authz(client, u, r, EVERY_DATABASE, drop)
        .await
        .context("restoring admin.system.users / admin.system.roles (every database's)")
}

/// Loads `users` / `roles` into temporary collections of `admin` and merges them into database
/// `db` (every database when empty) with `_mergeAuthzCollections`. `None`: the backup holds no
/// such collection. Returns how many users and roles were merged.
async fn merge_authz(
    client: &Client,
    users: Option<Vec<Document>>,
    roles: Option<Vec<Document>>,
    db: &str,
    drop: bool,
) -> Result<(u64, u64)> {
    const TEMP: [&str; 2] = ["mongoctl_tempusers", "mongoctl_temproles"];
    let admin = client.database("admin");
    let mut counts = [0u64; 2];
    let mut loaded = [false; 2];
    for (i, docs) in [users, roles].into_iter().enumerate() {
        let Some(docs) = docs else { continue };
        let tc = admin.collection::<Document>(TEMP[i]);
        tc.drop().await.map_err(described)?;
        if docs.is_empty() {
            continue;
        }
        counts[i] = docs.len() as u64;
        tc.insert_many(docs).await.map_err(described)?;
        loaded[i] = true;
    }
    if !loaded.contains(&true) {
        return Ok((0, 0));
    }
    let temp = |i: usize| {
        if loaded[i] {
            format!("admin.{}", TEMP[i])
        } else {
            String::new()
        }
    };
    let merged = admin
        .run_command(doc! {
            "_mergeAuthzCollections": 1,
            "tempUsersCollection": temp(0),
            "tempRolesCollection": temp(1),
            "drop": drop,
            "db": db,
        })
        .await
        .map_err(described);
    for t in TEMP {
        admin.collection::<Document>(t).drop().await.ok();
    }
    merged?;
    Ok((counts[0], counts[1]))
}
