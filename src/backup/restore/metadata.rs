//! The collections' metadata (options, validator, indexes, type) as a backup holds it, read
//! without its data: what `backup drill` compares the restored collections with.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::backup::archive::ArchiveReader;
use crate::backup::crypto::{Identities, open_decoded};
use crate::backup::format::CollectionMeta;
use crate::backup::manifest::Manifest;

use super::directory::scan_directory;

/// Namespace (as in the backup) → its metadata, for a directory or an archive file.
pub fn backup_metadata(
    backup: &Path,
    ids: &Identities,
) -> Result<BTreeMap<String, CollectionMeta>> {
    if backup.is_dir() {
        let manifest = Manifest::load(backup)?;
        let scanned = scan_directory(backup, manifest.as_ref(), ids)?;
        return Ok(scanned
            .units
            .into_iter()
            .map(|u| (u.source, u.meta))
            .collect());
    }
    let name = backup.display().to_string();
    let r = ArchiveReader::open(open_decoded(backup, ids, &name)?).with_context(|| name.clone())?;
    let mut out = BTreeMap::new();
    for e in r.entries.iter().filter(|e| !e.is_oplog() && !e.is_authz()) {
        let meta = CollectionMeta::from_json(&e.metadata, &e.collection)
            .with_context(|| format!("{name}: {}.{}: invalid metadata", e.db, e.collection))?;
        out.insert(format!("{}.{}", e.db, meta.name), meta);
    }
    Ok(out)
}
