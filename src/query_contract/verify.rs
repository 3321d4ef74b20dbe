//! `verify`'s contract step: every query contract explained on the live cluster
//! (executionStats) and held against what it must meet (`breach`).

use std::collections::BTreeMap;

use anyhow::Result;
use mongodb::Client;
use serde::Serialize;

use super::{Query, QueryContract, breach};
use crate::conformance::slash_path;
use crate::stats::{self, Explain, Unavailable};

/// One contract's verdict on the cluster, with the winning plan.
#[derive(Debug, Clone, Serialize)]
pub struct ContractCheck {
    pub name: String,
    pub domain: String,
    pub database: String,
    pub collection: String,
    pub file: String,
    pub line: usize,
    /// What the plan does not meet (empty: the contract holds).
    pub breaches: Vec<String>,
    pub plan: Explain,
}

impl ContractCheck {
    pub fn ok(&self) -> bool {
        self.breaches.is_empty()
    }
}

/// Explains each contract on every database of its domain (`databases`: (domain, database)
/// pairs; a template domain has one per tenant).
pub async fn check_contracts(
    client: &Client,
    queries: &BTreeMap<(String, String), Vec<QueryContract>>,
    databases: &[(String, String)],
) -> Result<Vec<ContractCheck>> {
    let mut out = Vec::new();
    for (domain, database) in databases {
        let db = client.database(database);
        let of_domain = queries.iter().filter(|((d, _), _)| d == domain);
        for (c, collection) in
            of_domain.flat_map(|((_, coll), cs)| cs.iter().map(move |c| (c, coll)))
        {
            let shape = c.query.shape();
            let explained = match &c.query {
                Query::Find {
                    filter,
                    sort,
                    projection,
                } => {
                    stats::explain_find(&db, collection, filter, sort.as_ref(), projection.as_ref())
                        .await
                }
                Query::Aggregate { pipeline } => {
                    stats::explain_aggregate(
                        &db,
                        collection,
                        pipeline,
                        &shape.filter,
                        shape.sort.as_ref(),
                    )
                    .await
                }
            };
            let plan = explained.map_err(|e| {
                let ns = format!("{database}.{collection}");
                anyhow::anyhow!(
                    "explaining query contract \"{}\" on {ns}: {}",
                    c.name,
                    Unavailable::new(&e, "find", &ns).short()
                )
            })?;
            out.push(ContractCheck {
                name: c.name.clone(),
                domain: domain.clone(),
                database: database.clone(),
                collection: collection.clone(),
                file: slash_path(&c.file),
                line: c.line,
                breaches: breach::breaches(c, &plan),
                plan,
            });
        }
    }
    Ok(out)
}
