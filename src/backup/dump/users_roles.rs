//! `--users-and-roles`: a database's users, roles and the auth schema version, read from
//! admin.system.* and saved as mongodump's `--dumpDbUsersAndRoles` saves them.

use std::path::Path;

use anyhow::{Context, Result};
use bson::{RawDocumentBuf, doc};
use mongodb::Client;
use mongodb::raw_batch_cursor::RawBatchCursor;

use crate::backup::direct::Access;
use crate::backup::filename::{database_dir, inside};
use crate::backup::manifest::{FileEntry, FileKind, NamespaceEntry};

use super::BackupOptions;
use super::files::cursor_to_file;

/// What mongodump --dumpDbUsersAndRoles saves per database: `$admin.<coll>` with the
/// database's users and roles, and all of admin.system.version (the auth schema version that
/// mongorestore checks).
pub(super) const AUTHZ_COLLECTIONS: [&str; 3] = ["system.users", "system.roles", "system.version"];

/// A cursor over the documents of admin.`coll` that belong to database `db`.
pub(super) async fn authz_cursor(client: &Client, db: &str, coll: &str) -> Result<RawBatchCursor> {
    let filter = if coll == "system.version" {
        doc! {}
    } else {
        doc! {"db": db}
    };
    client
        .database("admin")
        .collection::<RawDocumentBuf>(coll)
        .find(filter)
        .batch()
        .await
        .with_context(|| format!("reading admin.{coll} (needs a user allowed to read it)"))
}

/// The manifest's entry for a database's saved users, roles or auth schema version, named as
/// the archive names them (`<db>.$admin.system.users`) so that `backup verify` checks its count.
pub(super) fn authz_namespace(db: &str, coll: &str, documents: u64) -> NamespaceEntry {
    let kind = match coll {
        "system.users" => "users",
        "system.roles" => "roles",
        _ => "authSchema",
    };
    NamespaceEntry {
        namespace: format!("{db}.$admin.{coll}"),
        kind: kind.into(),
        documents,
        digest: None,
    }
}

/// A database's users and roles as mongodump's `--dumpDbUsersAndRoles` writes them:
/// `<db>/$admin.system.users.bson`, `$admin.system.roles.bson`, `$admin.system.version.bson`
/// (with the backup's `.gz` and `.age` suffixes).
pub(super) async fn dump_users_and_roles(
    client: &Client,
    opts: &BackupOptions,
    dir: &Path,
    db: &str,
) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for coll in AUTHZ_COLLECTIONS {
        let rel = format!(
            "{}/$admin.{coll}.bson{}",
            database_dir(db)?,
            opts.encoding().suffix()
        );
        let path = inside(dir, Path::new(&rel), &format!("{db}.$admin.{coll}"))?;
        let cursor = authz_cursor(client, db, coll).await?;
        // Credential hashes: readable by the owner only.
        let (n, len, checksums) = cursor_to_file(
            cursor,
            &format!("admin.{coll}"),
            &path,
            opts,
            Access::Private,
            |_| {},
        )
        .await?;
        out.push(FileEntry {
            path: rel,
            kind: FileKind::Data,
            namespace: Some(format!("admin.{coll}")),
            documents: Some(n),
            bytes: len,
            checksums,
            encrypted: !opts.encrypt.is_empty(),
        });
    }
    Ok(out)
}
