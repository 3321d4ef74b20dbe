//! System collections in a backup, treated as mongorestore treats them: `admin.system.version`
//! (the server's own auth schema and feature compatibility version) is never written;
//! `admin.system.users` / `admin.system.roles` of a full dump hold every database's users and
//! roles: never inserted as data but merged with `_mergeAuthzCollections` for every database,
//! as mongorestore does (only when `admin` is restored under its own name, without renames);
//! `system.buckets.<name>` is a time-series collection's data; any other system collection
//! (`system.js`…) is restored but never dropped: the server refuses to drop system collections.

use serde::Serialize;

use crate::backup::nsmatch::NsRules;

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

/// Why a full dump's `admin.system.<kind>` (`users` / `roles`: every database's) is not
/// restored under `rules`, or `None` when it is. Its documents name their databases, so they are
/// merged only when `admin` is restored under its own name and no database is renamed (a
/// renamed database's users would stay with the old name).
pub(super) fn full_dump_authz_refusal(rules: &NsRules, kind: &str) -> Option<String> {
    let ns = format!("admin.system.{kind}");
    if !rules.selected(&ns) {
        return Some(format!(
            "the {kind} of every database, not selected by --ns-include / --ns-exclude"
        ));
    }
    if !rules.renames.is_empty() {
        return Some(format!(
            "the {kind} of every database, not restored with --ns-from / --ns-to: they name \
             their databases, which the renames would leave behind"
        ));
    }
    None
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

    #[test]
    fn a_full_dumps_users_are_restored_only_under_their_own_names() {
        let none: &[String] = &[];
        let all = NsRules::default();
        assert_eq!(full_dump_authz_refusal(&all, "users"), None);
        let only_app = NsRules::new(&["app.*".into()], none, none, none).unwrap();
        let why = full_dump_authz_refusal(&only_app, "users").unwrap();
        assert!(why.contains("not selected"), "{why}");
        let no_admin = NsRules::new(none, &["admin.*".into()], none, none).unwrap();
        assert!(full_dump_authz_refusal(&no_admin, "roles").is_some());
        let renamed = NsRules::new(none, none, &["app".into()], &["app2".into()]).unwrap();
        let why = full_dump_authz_refusal(&renamed, "roles").unwrap();
        assert!(why.contains("--ns-from"), "{why}");
    }
}
