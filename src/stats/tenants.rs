//! Usage per tenant, for `stats --tenants` and the quota step of `verify`, in both tenancy
//! models: a tenant's own databases (database per tenant: one `dbStats` per database, at most
//! `jobs` tenants at a time) and its documents in shared collections (one `$group` by the
//! tenant key per shared collection, streamed — never a scan per tenant; sizes there are
//! logical BSON sizes, `$bsonSize`). [`rows`] joins both with the tenant list and the quotas
//! (pure); [`over_quota`] says which limits a row exceeds.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use bson::{Bson, Document, doc};
use futures::{StreamExt, TryStreamExt};
use mongodb::Client;
use serde::Serialize;

use super::SortBy;
use crate::spec::quotas::{self, Quota, Quotas};
use crate::spec::tenants::Tenant;

/// A collection shared by tenants, with the field holding the tenant id (`tenantKey`).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedCollection {
    pub database: String,
    pub collection: String,
    pub tenant_key: String,
}

/// A tenant's own databases (database per tenant), summed from their dbStats.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatabaseUsage {
    pub databases: Vec<String>,
    /// Of `databases`, those that do not exist (yet): counted as empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub documents: u64,
    pub data_size: u64,
    pub storage_size: u64,
    pub index_size: u64,
    pub indexes: u64,
}

/// A tenant's documents in the shared collections.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SharedUsage {
    pub documents: u64,
    /// Sum of `$bsonSize` of the documents: logical, not on-disk, bytes.
    pub bson_size: u64,
}

impl SharedUsage {
    fn add(&mut self, o: &SharedUsage) {
        self.documents += o.documents;
        self.bson_size += o.bson_size;
    }
}

/// The shared collections' usage by tenant value, and what carried no tenant value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SharedTotals {
    pub by_tenant: BTreeMap<String, SharedUsage>,
    /// Documents whose tenant key is missing or null.
    pub without_tenant: SharedUsage,
}

/// One limit a tenant exceeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excess {
    /// `"maxDocuments"` or `"maxDataSize"`.
    pub what: &'static str,
    pub used: u64,
    pub limit: u64,
}

/// One row of `stats --tenants`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantUsage {
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Listed by the tenant source (false: only found as a value in a shared collection).
    pub in_source: bool,
    /// Both models together: what quotas are measured against.
    pub documents: u64,
    pub data_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub databases: Option<DatabaseUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedUsage>,
    pub quota: Quota,
    /// The highest use of any of its limits, in percent; none without limits.
    pub use_percent: Option<f64>,
    pub over: Vec<Excess>,
}

/// `stats --tenants`: the rows, and what they were measured from.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    pub tenants: Vec<TenantUsage>,
    /// The shared collections counted (`database.collection`, by their tenant key).
    pub shared_collections: Vec<String>,
    /// Documents of the shared collections without a tenant value.
    pub without_tenant: SharedUsage,
    /// Whether the workspace declares any quota.
    pub quotas_declared: bool,
}

impl TenantReport {
    pub fn over_quota(&self) -> impl Iterator<Item = &TenantUsage> {
        self.tenants.iter().filter(|t| t.is_over())
    }
}

impl TenantUsage {
    pub fn is_over(&self) -> bool {
        !self.over.is_empty()
    }
}

/// dbStats of each tenant's databases, `jobs` tenants at a time, in the order given. A
/// database that cannot be read fails the whole: a quota must not pass on a missing number.
pub async fn database_usage(
    client: &Client,
    tenants: &[(String, Vec<String>)],
    jobs: usize,
) -> Result<BTreeMap<String, DatabaseUsage>> {
    let existing: std::collections::BTreeSet<String> = crate::live::existing_databases(client)
        .await?
        .into_iter()
        .collect();
    let existing = &existing;
    futures::stream::iter(tenants)
        .map(|(id, dbs)| async move {
            let mut u = DatabaseUsage {
                databases: dbs.clone(),
                ..DatabaseUsage::default()
            };
            for name in dbs {
                if !existing.contains(name) {
                    u.missing.push(name.clone());
                    continue;
                }
                let d = client
                    .database(name)
                    .run_command(doc! {"dbStats": 1, "scale": 1})
                    .await
                    .with_context(|| format!("dbStats of {name} (tenant {id})"))?;
                let n = |k: &str| {
                    d.get(k)
                        .and_then(crate::model::as_f64)
                        .unwrap_or(0.0)
                        .max(0.0) as u64
                };
                u.documents += n("objects");
                u.data_size += n("dataSize");
                u.storage_size += n("storageSize");
                u.index_size += n("indexSize");
                u.indexes += n("indexes");
            }
            Ok::<_, anyhow::Error>((id.clone(), u))
        })
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await
}

/// The aggregation counting one shared collection per tenant.
pub fn group_by_tenant(tenant_key: &str) -> Vec<Document> {
    vec![doc! {"$group": {
        "_id": format!("${tenant_key}"),
        "documents": {"$sum": 1},
        "bsonSize": {"$sum": {"$bsonSize": "$$ROOT"}},
    }}]
}

/// One `$group` per shared collection, its results streamed into per-tenant sums.
pub async fn shared_usage(client: &Client, shared: &[SharedCollection]) -> Result<SharedTotals> {
    let mut totals = SharedTotals::default();
    for s in shared {
        let ns = format!("{}.{}", s.database, s.collection);
        let mut cursor = client
            .database(&s.database)
            .collection::<Document>(&s.collection)
            .aggregate(group_by_tenant(&s.tenant_key))
            .await
            .with_context(|| format!("counting the documents of {ns} per {}", s.tenant_key))?;
        while let Some(d) = cursor
            .try_next()
            .await
            .with_context(|| format!("counting the documents of {ns} per {}", s.tenant_key))?
        {
            let n = |k: &str| {
                d.get(k)
                    .and_then(crate::model::as_f64)
                    .unwrap_or(0.0)
                    .max(0.0) as u64
            };
            let u = SharedUsage {
                documents: n("documents"),
                bson_size: n("bsonSize"),
            };
            match tenant_value(d.get("_id")) {
                Some(id) => totals.by_tenant.entry(id).or_default().add(&u),
                None => totals.without_tenant.add(&u),
            }
        }
    }
    Ok(totals)
}

/// A tenant key's value as a tenant id: a string as itself, another value as Extended JSON.
fn tenant_value(v: Option<&Bson>) -> Option<String> {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => None,
        Some(Bson::String(s)) => Some(s.clone()),
        Some(other) => Some(other.clone().into_relaxed_extjson().to_string()),
    }
}

/// The rows: the source's tenants (`None`: no source is declared, then the tenants are the
/// values found in the shared collections), each with its usage and quota; values found in
/// shared collections but not in a declared source get a row too (`in_source: false`).
/// `only` narrows (every id in it must be a tenant).
pub fn rows(
    source: Option<&[Tenant]>,
    databases: &BTreeMap<String, DatabaseUsage>,
    shared: &SharedTotals,
    has_shared: bool,
    quotas: &Quotas,
    only: &[String],
) -> Result<Vec<TenantUsage>> {
    let mut tenants: BTreeMap<String, (Option<String>, bool)> = BTreeMap::new();
    for t in source.unwrap_or(&[]) {
        tenants.insert(t.id.clone(), (t.class.clone(), true));
    }
    for id in shared.by_tenant.keys() {
        tenants.entry(id.clone()).or_insert((None, false));
    }
    if let Some(unknown) = only.iter().find(|t| !tenants.contains_key(t.as_str())) {
        let hint = crate::spec::fields::did_you_mean(unknown, tenants.keys().map(String::as_str))
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        bail!("--tenant {unknown}: not a tenant of the source or of the shared collections{hint}");
    }
    Ok(tenants
        .into_iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .map(|(id, (class, in_source))| {
            let tenant = Tenant { id, class };
            let db = databases.get(&tenant.id).cloned();
            let sh = has_shared.then(|| {
                shared
                    .by_tenant
                    .get(&tenant.id)
                    .cloned()
                    .unwrap_or_default()
            });
            let documents =
                db.as_ref().map_or(0, |d| d.documents) + sh.as_ref().map_or(0, |s| s.documents);
            let data_size =
                db.as_ref().map_or(0, |d| d.data_size) + sh.as_ref().map_or(0, |s| s.bson_size);
            let quota = quotas::resolve(quotas, &tenant.id, tenant.class.as_deref());
            TenantUsage {
                use_percent: use_percent(&quota, documents, data_size),
                over: over_quota(&quota, documents, data_size),
                tenant: tenant.id,
                class: tenant.class,
                in_source,
                documents,
                data_size,
                databases: db,
                shared: sh,
                quota,
            }
        })
        .collect())
}

/// The limits of `quota` that `documents` and `data_size` exceed (reaching a limit is not
/// exceeding it).
pub fn over_quota(quota: &Quota, documents: u64, data_size: u64) -> Vec<Excess> {
    let mut out = Vec::new();
    if let Some(limit) = quota.max_documents
        && documents > limit
    {
        out.push(Excess {
            what: "maxDocuments",
            used: documents,
            limit,
        });
    }
    if let Some(limit) = quota.max_data_size
        && data_size > limit
    {
        out.push(Excess {
            what: "maxDataSize",
            used: data_size,
            limit,
        });
    }
    out
}

fn use_percent(quota: &Quota, documents: u64, data_size: u64) -> Option<f64> {
    let pct = |used: u64, limit: u64| used as f64 * 100.0 / limit.max(1) as f64;
    [
        quota.max_documents.map(|l| pct(documents, l)),
        quota.max_data_size.map(|l| pct(data_size, l)),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::max)
}

pub fn sort_tenants(rows: &mut [TenantUsage], by: SortBy) {
    rows.sort_by(|a, b| {
        match by {
            SortBy::Size => b.data_size.cmp(&a.data_size),
            SortBy::Docs => b.documents.cmp(&a.documents),
            SortBy::Name => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.tenant.cmp(&b.tenant))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(data: Option<u64>, docs: Option<u64>) -> Quota {
        Quota {
            max_data_size: data,
            max_documents: docs,
        }
    }

    #[test]
    fn reaching_a_limit_is_not_exceeding_it() {
        let q = quota(Some(1000), Some(10));
        assert!(over_quota(&q, 10, 1000).is_empty());
        assert_eq!(
            over_quota(&q, 11, 1001),
            [
                Excess {
                    what: "maxDocuments",
                    used: 11,
                    limit: 10
                },
                Excess {
                    what: "maxDataSize",
                    used: 1001,
                    limit: 1000
                }
            ]
        );
        assert!(over_quota(&Quota::default(), u64::MAX, u64::MAX).is_empty());
        assert_eq!(use_percent(&q, 5, 900), Some(90.0));
        assert_eq!(use_percent(&Quota::default(), 5, 900), None);
    }

    #[test]
    fn rows_join_both_models_with_the_source_and_the_quotas() {
        let source = vec![
            Tenant {
                id: "acme".into(),
                class: Some("gold".into()),
            },
            Tenant {
                id: "globex".into(),
                class: None,
            },
        ];
        let databases = BTreeMap::from([(
            "acme".to_string(),
            DatabaseUsage {
                databases: vec!["chat_acme".into()],
                documents: 8,
                data_size: 800,
                ..DatabaseUsage::default()
            },
        )]);
        let shared = SharedTotals {
            by_tenant: BTreeMap::from([
                (
                    "acme".to_string(),
                    SharedUsage {
                        documents: 3,
                        bson_size: 300,
                    },
                ),
                (
                    "stray".to_string(),
                    SharedUsage {
                        documents: 1,
                        bson_size: 50,
                    },
                ),
            ]),
            without_tenant: SharedUsage::default(),
        };
        let quotas = Quotas {
            classes: BTreeMap::from([
                ("gold".into(), quota(None, Some(10))),
                ("default".into(), quota(Some(10), None)),
            ]),
            overrides: BTreeMap::new(),
        };
        let r = rows(Some(&source), &databases, &shared, true, &quotas, &[]).unwrap();
        let ids: Vec<(&str, bool, u64, u64, bool)> = r
            .iter()
            .map(|x| {
                (
                    x.tenant.as_str(),
                    x.in_source,
                    x.documents,
                    x.data_size,
                    x.is_over(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("acme", true, 11, 1100, true),
                ("globex", true, 0, 0, false),
                ("stray", false, 1, 50, true),
            ]
        );
        assert_eq!(r[0].over[0].what, "maxDocuments");
        assert_eq!(r[2].over[0].what, "maxDataSize");

        let narrowed = rows(
            Some(&source),
            &databases,
            &shared,
            true,
            &quotas,
            &["globex".into()],
        )
        .unwrap();
        assert_eq!(narrowed.len(), 1);
        let e = rows(
            Some(&source),
            &databases,
            &shared,
            true,
            &quotas,
            &["globx".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("did you mean \"globex\""), "{e}");
    }
}
