//! What `list` shows: for each domain, its database, whether it exists, and its collections
//! declared / present / missing / unmanaged. Returns data; `render::list` prints it.

use anyhow::{Context, Result};
use futures::future::try_join_all;
use mongodb::Client;
use serde::Serialize;

use crate::live;
use crate::spec::{ResolvedDatabase, Workspace};

/// One domain and how its declared collections compare with the present ones.
#[derive(Serialize, Debug, PartialEq)]
pub struct DomainRow {
    pub domain: String,
    pub database: String,
    /// Where the database name came from (its env var, the environment, the manifest).
    pub database_source: String,
    pub exists: bool,
    pub declared: Vec<String>,
    pub present: Vec<String>,
    pub missing: Vec<String>,
    pub unmanaged: Vec<String>,
}

/// Reads which databases exist and the collections of each resolved domain database.
pub async fn domains(
    client: &Client,
    ws: &Workspace,
    resolved: Vec<ResolvedDatabase>,
) -> Result<Vec<DomainRow>> {
    let existing = live::existing_databases(client).await?;
    try_join_all(resolved.into_iter().map(|r| {
        let exists = existing.contains(&r.name);
        let declared: Vec<String> = ws
            .manifest
            .domain(&r.domain)
            .map(|d| {
                // Declared views are listed like collections: present, missing or not.
                let views = d.views.iter().filter(|v| !v.absent);
                d.collections
                    .iter()
                    .map(|c| c.name.clone())
                    .chain(views.map(|v| v.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        async move {
            let present = if exists {
                client
                    .database(&r.name)
                    .list_collection_names()
                    .await
                    .with_context(|| format!("listing collections of {}", r.name))?
            } else {
                vec![]
            };
            anyhow::Ok(compare(r, exists, declared, present))
        }
    }))
    .await
}

/// The row of one domain: `system.*` collections are left out, present ones sorted.
fn compare(
    r: ResolvedDatabase,
    exists: bool,
    declared: Vec<String>,
    mut present: Vec<String>,
) -> DomainRow {
    present.retain(|c| !c.starts_with("system."));
    present.sort();
    let missing = declared
        .iter()
        .filter(|c| !present.contains(c))
        .cloned()
        .collect();
    let unmanaged = present
        .iter()
        .filter(|c| !declared.contains(c))
        .cloned()
        .collect();
    DomainRow {
        domain: r.domain,
        database: r.name,
        database_source: r.source,
        exists,
        declared,
        present,
        missing,
        unmanaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_and_unmanaged_collections_without_system_ones() {
        let r = ResolvedDatabase {
            domain: "auth".into(),
            name: "app_auth".into(),
            source: "manifest".into(),
        };
        let row = compare(
            r,
            true,
            names(&["users", "sessions"]),
            names(&["zeta", "system.views", "users"]),
        );
        assert_eq!(row.present, names(&["users", "zeta"]));
        assert_eq!(row.missing, names(&["sessions"]));
        assert_eq!(row.unmanaged, names(&["zeta"]));
        assert_eq!(row.declared, names(&["users", "sessions"]));
    }
}
