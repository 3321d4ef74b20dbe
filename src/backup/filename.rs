//! File names of the directory layout, as mongodump makes them, so that mongorestore reads
//! our directories and we read theirs. A collection name is data anyone who can write to the
//! cluster chooses (`/etc/x`, `..`, `a/b`): it never becomes a path as it is.
//!
//! - The file stem is Go's `url.QueryEscape(name)`: `[A-Za-z0-9-_.~]` kept, space → `+`,
//!   every other byte → `%XX`. No stem holds `/`, and none is `.` or `..` (mongodb forbids
//!   empty names).
//! - A stem longer than [`MAX_STEM`] bytes would make `<stem>.metadata.json.gz` longer than
//!   the 255 bytes a file name may have: it becomes its first 208 bytes, `%24` and the
//!   unpadded base64url SHA-1 of the name (exactly 238 bytes), and the name is read back from
//!   the `collectionName` of the metadata file.
//! - Database names are directory names as they are (mongodump's way); the server forbids
//!   `/\. "$` and NUL in them, and [`database_dir`] refuses any that could leave the backup.

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::{Digest, Sha1};

use crate::percent::{query_escape, query_unescape};

/// The longest stem: 255 bytes less `.metadata.json.gz`.
pub const MAX_STEM: usize = 238;
/// Bytes of the escaped name a truncated stem keeps.
const KEPT: usize = 208;
/// The `$` between a truncated stem's prefix and its hash, escaped.
const HASH_MARK: &str = "%24";

/// The file stem of collection `coll` (mongodump's `outputPath`).
pub fn collection_stem(coll: &str) -> String {
    let escaped = query_escape(coll);
    if escaped.len() <= MAX_STEM {
        return escaped;
    }
    // The escaped text is ASCII, so any byte offset is a character boundary.
    let hash = URL_SAFE_NO_PAD.encode(Sha1::digest(coll.as_bytes()));
    format!("{}{HASH_MARK}{hash}", &escaped[..KEPT])
}

/// What a file stem says about its collection's name.
#[derive(Debug, PartialEq, Eq)]
pub enum Stem {
    Name(String),
    /// A long name's truncated stem: the name is the metadata file's `collectionName`.
    Truncated,
}

/// The collection name of a file stem (mongorestore's `getInfoFromFile`).
pub fn decode_stem(stem: &str) -> Result<Stem> {
    if stem.len() == MAX_STEM && stem.contains(HASH_MARK) {
        return Ok(Stem::Truncated);
    }
    match query_unescape(stem) {
        Ok(name) => Ok(Stem::Name(name)),
        Err(e) => bail!("file stem {stem:?} is not an escaped collection name: {e}"),
    }
}

/// `db` as a directory name of the backup, or an error when it could leave the backup's
/// directory (the server allows no such name; this is defence in depth).
pub fn database_dir(db: &str) -> Result<&str> {
    if db.is_empty() || db == "." || db == ".." || db.contains(['/', '\\', '\0']) {
        bail!("database name {db:?} cannot be a directory name of a backup; nothing was written");
    }
    Ok(db)
}

/// `root.join(rel)`, refused unless `rel` is relative and made only of plain names (no
/// `..`, `.` or root), so that the path stays under `root`. `what` names the namespace or
/// file the path is for, in the error.
pub fn inside(root: &Path, rel: &Path, what: &str) -> Result<PathBuf> {
    let plain = rel.components().next().is_some()
        && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        bail!(
            "{what}: refusing to write {}: the path would leave {}",
            rel.display(),
            root.display()
        );
    }
    Ok(root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_plain_file_name(stem: &str) -> bool {
        !stem.is_empty() && stem != "." && stem != ".." && !stem.contains('/')
    }

    #[test]
    fn stems_are_mongodumps_and_decode_back() {
        // Expected stems from mongodump's outputPath (url.QueryEscape).
        let table = [
            ("plain", "plain"),
            ("a/b", "a%2Fb"),
            ("..", ".."),
            ("%41", "%2541"),
            ("with space", "with+space"),
            ("a+b", "a%2Bb"),
            ("données", "donn%C3%A9es"),
            ("/etc/x", "%2Fetc%2Fx"),
            ("../../x", "..%2F..%2Fx"),
            ("system.views", "system.views"),
        ];
        for (name, stem) in table {
            assert_eq!(collection_stem(name), stem, "{name}");
            assert_eq!(
                decode_stem(stem).unwrap(),
                Stem::Name(name.into()),
                "{stem}"
            );
        }
    }

    #[test]
    fn dot_dot_is_a_name_the_path_guard_still_refuses() {
        // ".." escapes to itself (QueryEscape keeps dots): only `<stem>.bson` is ever a path,
        // and the guard refuses a bare ".." component regardless.
        let root = Path::new("/backups/x");
        let ok = inside(root, &Path::new("db").join("...bson"), "db...").unwrap();
        assert_eq!(ok, root.join("db/...bson"));
        for bad in ["..", "db/../../etc", "/etc/x", "./db", ""] {
            let e = inside(root, Path::new(bad), "db.c")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("db.c: refusing to write"), "{bad}: {e}");
        }
    }

    #[test]
    fn long_names_get_mongodumps_hashed_238_byte_stem() {
        let long = "x".repeat(255);
        let stem = collection_stem(&long);
        assert_eq!(stem.len(), MAX_STEM);
        // sha1("x" * 255), base64url without padding, as Go's RawURLEncoding prints it.
        let hash = URL_SAFE_NO_PAD.encode(Sha1::digest(long.as_bytes()));
        assert_eq!(hash.len(), 27);
        assert_eq!(stem, format!("{}%24{hash}", "x".repeat(208)));
        assert_eq!(decode_stem(&stem).unwrap(), Stem::Truncated);
        // Escaping counts: 80 × "é" is 160 bytes, 480 escaped.
        let accented = "é".repeat(80);
        let stem = collection_stem(&accented);
        assert_eq!(stem.len(), MAX_STEM);
        assert!(stem.starts_with(&"%C3%A9".repeat(34)), "{stem}");
        // At the limit a stem is kept whole (and is no truncated one: no "%24").
        let at_limit = "y".repeat(MAX_STEM);
        assert_eq!(collection_stem(&at_limit), at_limit);
        assert_eq!(
            decode_stem(&at_limit).unwrap(),
            Stem::Name(at_limit.clone())
        );
        for s in [collection_stem(&long), collection_stem(&accented)] {
            assert!(is_plain_file_name(&s) && s.len() + ".metadata.json.gz".len() <= 255);
        }
    }

    #[test]
    fn long_names_sharing_a_prefix_get_distinct_stems() {
        let prefix = "p".repeat(208);
        let (a, b) = (
            format!("{prefix}{}", "a".repeat(40)),
            format!("{prefix}{}", "b".repeat(40)),
        );
        let (sa, sb) = (collection_stem(&a), collection_stem(&b));
        assert_eq!(&sa[..208], &sb[..208]);
        assert_ne!(sa, sb);
    }

    #[test]
    fn stems_that_are_not_escaped_names_are_errors() {
        for bad in ["50%off", "x%2", "%C3"] {
            let e = decode_stem(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn database_names_that_could_leave_the_backup_are_refused() {
        assert_eq!(database_dir("shop").unwrap(), "shop");
        for bad in ["", ".", "..", "a/b", "/etc", "a\\b", "a\0b"] {
            let e = database_dir(bad).unwrap_err().to_string();
            assert!(e.contains("cannot be a directory name"), "{bad}: {e}");
        }
    }
}
