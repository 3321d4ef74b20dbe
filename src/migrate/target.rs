//! Where a migration's `{domain, collection}` lives in the connected cluster, and what the
//! cluster offers the engine (transactions, change streams).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use bson::doc;
use mongodb::Client;

use super::model::CollRef;
use crate::error::described;
use crate::spec::ResolvedDatabase;

/// Domain → database name, for the chosen environment.
#[derive(Debug, Clone, Default)]
pub struct Databases(BTreeMap<String, String>);

impl Databases {
    pub fn new(resolved: &[ResolvedDatabase]) -> Self {
        Databases(
            resolved
                .iter()
                .map(|r| (r.domain.clone(), r.name.clone()))
                .collect(),
        )
    }

    /// `(database, collection)` of a reference (the spec reader checked the domain exists).
    pub fn resolve(&self, c: &CollRef) -> Result<(String, String)> {
        match self.0.get(&c.domain) {
            Some(db) => Ok((db.clone(), c.collection.clone())),
            None => bail!(
                "domain \"{}\" has no database in this environment",
                c.domain
            ),
        }
    }

    pub fn namespace(&self, c: &CollRef) -> Result<String> {
        let (db, coll) = self.resolve(c)?;
        Ok(format!("{db}.{coll}"))
    }
}

/// Whether the server is a replica set member (transactions and change streams work).
pub async fn is_replica_set(client: &Client) -> Result<bool> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(described)?;
    Ok(hello.get_str("setName").is_ok())
}

pub async fn collection_exists(client: &Client, db: &str, coll: &str) -> Result<bool> {
    Ok(!client
        .database(db)
        .list_collection_names()
        .filter(doc! {"name": coll})
        .await
        .map_err(described)?
        .is_empty())
}
