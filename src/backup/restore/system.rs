//! System collections in a backup, treated as mongorestore treats them: `admin.system.version`
//! (the server's own auth schema and feature compatibility version) is never written;
//! `admin.system.users` / `admin.system.roles` of a full dump hold every database's users and
//! roles: never inserted as data (mongorestore merges them with `_mergeAuthzCollections`;
//! mongoctl does that only for per-database users, so a full dump's are skipped, said so);
//! `system.buckets.<name>` is a time-series collection's data; any other system collection
//! (`system.js`…) is restored but never dropped: the server refuses to drop system collections.

use serde::Serialize;

/// How a restore treats a collection whose name starts with `system.`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SystemColl {
    /// `admin.system.users` (`"users"`) or `admin.system.roles` (`"roles"`) of a full dump.
    Authz(&'static str),
    /// `admin.system.version`.
    ServerOwned,
    /// `system.buckets.<name>`: the data of time-series collection `<name>`.
    Buckets(String),
    /// Restored like any collection, but never dropped (`--drop`).
    Kept,
}

/// `None` for an ordinary collection.
pub(super) fn classify(db: &str, coll: &str) -> Option<SystemColl> {
    let rest = coll.strip_prefix("system.")?;
    Some(match (db, rest) {
        ("admin", "users") => SystemColl::Authz("users"),
        ("admin", "roles") => SystemColl::Authz("roles"),
        ("admin", "version") => SystemColl::ServerOwned,
        _ => match rest.strip_prefix("buckets.") {
            Some(name) => SystemColl::Buckets(name.to_string()),
            None => SystemColl::Kept,
        },
    })
}

/// A namespace of the backup that the restore did not write, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub namespace: String,
    pub reason: String,
}

pub(super) const SERVER_OWNED: &str = "the server's own (auth schema and feature compatibility \
     version); mongorestore does not restore it either";

/// The note for a full dump's `admin.system.users` / `admin.system.roles`.
pub(super) fn authz_skipped(kind: &str) -> String {
    format!(
        "the {kind} of every database, not restored: restoring a full dump's {kind} is not \
         supported yet (per-database ones saved by backup --users-and-roles or mongodump \
         --dumpDbUsersAndRoles are, with --users-and-roles)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_collections_are_told_apart() {
        assert_eq!(classify("app", "orders"), None);
        assert_eq!(classify("app", "systemic"), None);
        assert_eq!(
            classify("admin", "system.users"),
            Some(SystemColl::Authz("users"))
        );
        assert_eq!(
            classify("admin", "system.roles"),
            Some(SystemColl::Authz("roles"))
        );
        assert_eq!(classify("app", "system.users"), Some(SystemColl::Kept));
        assert_eq!(
            classify("admin", "system.version"),
            Some(SystemColl::ServerOwned)
        );
        assert_eq!(
            classify("app", "system.buckets.temps"),
            Some(SystemColl::Buckets("temps".into()))
        );
        assert_eq!(classify("app", "system.js"), Some(SystemColl::Kept));
    }
}
