//! Reads the live cluster into the same model the spec produces. Only the databases the
//! desired state names are inspected, all of them concurrently: one `listCollections` per
//! database, one `listIndexes` per collection (or, for a fleet of tenant databases, one
//! `$listCatalog` per database: [`catalog`]) and one `find` per seeded collection.

pub mod catalog;
pub mod views;

use anyhow::{Context, Result};
use bson::{Bson, Document, doc};
use futures::{TryStreamExt, future::try_join_all};
use mongodb::{Client, Database};

use crate::diff::seeds::key_filter;
use crate::model::{
    Access, Capped, ClusterState, CollectionOptions, CollectionState, DatabaseState, Effective,
    INDEX_OPTIONS, IndexDef, Privilege, RoleDef, RoleRef, SeedSet, Timeseries, UserDef, as_i64,
    normalize_access,
};

pub async fn existing_databases(client: &Client) -> Result<Vec<String>> {
    client
        .list_database_names()
        .await
        .context("listing databases")
}

/// The live counterpart of `desired`: databases that do not exist are absent from the result.
pub async fn inspect(client: &Client, desired: &ClusterState) -> Result<ClusterState> {
    let existing = existing_databases(client).await?;
    let dbs = desired
        .databases
        .iter()
        .filter(|d| existing.contains(&d.name))
        .map(|d| inspect_database(client.database(&d.name), d, None));
    let access = match desired.access {
        // Declared roles live in admin: plan needs no other database's roles.
        Some(_) => Some(inspect_access(client, false).await?),
        None => None,
    };
    Ok(ClusterState {
        access,
        databases: try_join_all(dbs).await?,
    })
}

/// The live state of those of `desired` that are among `existing` (the caller lists the
/// databases once for many calls: the fleet of a template workspace). With `catalog` (read
/// once for the fleet), index specs come from it where it holds them; the result is the same.
pub async fn inspect_databases(
    client: &Client,
    desired: &[DatabaseState],
    existing: &std::collections::BTreeSet<String>,
    catalog: Option<&catalog::Catalog>,
) -> Result<Vec<DatabaseState>> {
    let dbs = desired
        .iter()
        .filter(|d| existing.contains(&d.name))
        .map(|d| inspect_database(client.database(&d.name), d, catalog));
    try_join_all(dbs).await
}

async fn inspect_database(
    db: Database,
    desired: &DatabaseState,
    catalog: Option<&catalog::Catalog>,
) -> Result<DatabaseState> {
    let specs: Vec<Document> = db
        .run_cursor_command(doc! {"listCollections": 1, "authorizedCollections": true})
        .await
        .with_context(|| format!("listing collections of {}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("listing collections of {}", db.name()))?;
    let (view_specs, specs): (Vec<&Document>, Vec<&Document>) =
        specs.iter().partition(|s| s.get_str("type") == Ok("view"));
    let mut views: Vec<_> = view_specs.into_iter().map(views::view_from_spec).collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    let colls = specs.into_iter().map(|spec| {
        let name = spec.get_str("name").unwrap_or_default();
        let known = catalog
            .and_then(|c| c.indexes(db.name(), name))
            .map(<[Document]>::to_vec);
        inspect_collection(&db, spec, desired, known)
    });
    let mut collections = try_join_all(colls).await?;
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DatabaseState {
        domain: desired.domain.clone(),
        name: db.name().to_string(),
        collections,
        views,
    })
}

/// One collection's state; `known`: its index specs when already read (from the catalog),
/// else one `listIndexes`.
async fn inspect_collection(
    db: &Database,
    spec: &Document,
    desired: &DatabaseState,
    known: Option<Vec<Document>>,
) -> Result<CollectionState> {
    let name = spec.get_str("name").unwrap_or_default().to_string();
    let options = spec.get_document("options").cloned().unwrap_or_default();
    let mut state = collection_from_options(&name, &options);
    if name.starts_with("system.") {
        return Ok(state);
    }
    let indexes: Vec<Document> = match known {
        Some(specs) => specs,
        None => db
            .run_cursor_command(doc! {"listIndexes": &name})
            .await
            .with_context(|| format!("listing indexes of {}.{name}", db.name()))?
            .try_collect()
            .await
            .with_context(|| format!("listing indexes of {}.{name}", db.name()))?,
    };
    state.indexes = indexes.iter().map(index_from_document).collect();
    if let Some(seeds) = desired.collection(&name).and_then(|c| c.seeds.as_ref()) {
        let documents = if seeds.owns_collection {
            find_owned_documents(db, &desired.domain, &name).await?
        } else {
            find_seed_documents(db, &name, seeds).await?
        };
        state.seeds = Some(SeedSet {
            key: seeds.key.clone(),
            documents,
            owns_collection: seeds.owns_collection,
        });
    }
    Ok(state)
}

/// The live documents whose natural keys appear in the seed set.
async fn find_seed_documents(db: &Database, coll: &str, seeds: &SeedSet) -> Result<Vec<Document>> {
    let filters: Vec<Document> = seeds
        .documents
        .iter()
        .filter_map(|d| seeds.key_of(d))
        .map(|k| key_filter(seeds, &k))
        .collect();
    if filters.is_empty() {
        return Ok(vec![]);
    }
    db.collection::<Document>(coll)
        .find(doc! {"$or": filters})
        .await
        .with_context(|| format!("reading seed documents of {}.{coll}", db.name()))?
        .try_collect()
        .await
        .with_context(|| format!("reading seed documents of {}.{coll}", db.name()))
}

/// The most documents an owned seed collection may hold: owned seeds are reference data, and
/// plan holds the whole collection in memory to compare it.
pub const MAX_OWNED_SEED_DOCUMENTS: usize = 100_000;

/// Every document of a collection its seed file owns; refused above
/// [`MAX_OWNED_SEED_DOCUMENTS`] (one more is read to tell, so a huge collection is not read whole).
async fn find_owned_documents(db: &Database, domain: &str, coll: &str) -> Result<Vec<Document>> {
    let context = || format!("reading the documents of {}.{coll}", db.name());
    let limit = i64::try_from(MAX_OWNED_SEED_DOCUMENTS + 1).unwrap_or(i64::MAX);
    let docs: Vec<Document> = db
        .collection::<Document>(coll)
        .find(doc! {})
        .limit(limit)
        .await
        .with_context(context)?
        .try_collect()
        .await
        .with_context(context)?;
    if docs.len() > MAX_OWNED_SEED_DOCUMENTS {
        anyhow::bail!(
            "seeds/{domain}/{coll}.json owns {}.{coll} (\"ownsCollection\": true), but the collection holds more than {MAX_OWNED_SEED_DOCUMENTS} documents; owned seeds are for reference data: remove \"ownsCollection\" or the extra documents",
            db.name()
        );
    }
    Ok(docs)
}

/// Parses a collection's (not a view's: [`views`]) `listCollections` options into the model.
pub fn collection_from_options(name: &str, o: &Document) -> CollectionState {
    let mut c = CollectionState::new(name);
    if let Ok(v) = o.get_document("validator") {
        match v.get_document("$jsonSchema") {
            Ok(schema) if v.len() == 1 => c.validator = Some(schema.clone()),
            _ if v.is_empty() => {}
            _ => c.other_validator = Some(v.clone()),
        }
    }
    let str_opt = |k: &str| o.get_str(k).ok().map(str::to_string);
    let timeseries = o.get_document("timeseries").ok().map(|t| Timeseries {
        time_field: t.get_str("timeField").unwrap_or_default().to_string(),
        meta_field: t.get_str("metaField").ok().map(str::to_string),
        granularity: t.get_str("granularity").ok().map(str::to_string),
        expire_after_seconds: o.get("expireAfterSeconds").and_then(as_i64),
    });
    c.options = CollectionOptions {
        validation_level: str_opt("validationLevel"),
        validation_action: str_opt("validationAction"),
        capped: (o.get_bool("capped") == Ok(true)).then(|| Capped {
            size: o.get("size").and_then(as_i64).unwrap_or(0),
            max: o.get("max").and_then(as_i64).filter(|m| *m > 0),
        }),
        clustered: timeseries.is_none()
            && o.contains_key("clusteredIndex")
            && o.get_bool("clusteredIndex") != Ok(false),
        timeseries,
        collation: o.get_document("collation").ok().cloned(),
        change_stream_pre_and_post_images: o
            .get_document("changeStreamPreAndPostImages")
            .is_ok_and(|d| d.get_bool("enabled") == Ok(true)),
    };
    c
}

/// A `listIndexes` entry in the model: options mongoctl does not manage (`v`, `ns`,
/// `textIndexVersion`, …) are left out.
pub fn index_from_document(d: &Document) -> IndexDef {
    IndexDef {
        name: d.get_str("name").unwrap_or_default().to_string(),
        key: d.get_document("key").cloned().unwrap_or_default(),
        options: d
            .iter()
            .filter(|(k, _)| INDEX_OPTIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Document>(),
    }
}

/// Every user and the custom roles of `admin` (of every database with
/// `roles_of_all_databases`, as `audit` wants), plus who we are connected as (never
/// pruned). Users are listed once across all databases, then fetched by exact match to get
/// their authentication restrictions (MongoDB refuses both in one query).
pub async fn inspect_access(client: &Client, roles_of_all_databases: bool) -> Result<Access> {
    let admin = client.database("admin");
    let listed = admin
        .run_command(doc! {"usersInfo": {"forAllDBs": true}})
        .await
        .context("listing users (usersInfo; needs viewUser)")?;
    let ids: Vec<Bson> = docs(&listed, "users").iter().map(|u| Bson::Document(doc! {"user": u.get_str("user").unwrap_or_default(), "db": u.get_str("db").unwrap_or_default()})).collect();
    let full = if ids.is_empty() {
        vec![]
    } else {
        docs(
            &admin
                .run_command(doc! {"usersInfo": ids, "showAuthenticationRestrictions": true})
                .await
                .context("reading users")?,
            "users",
        )
    };
    let mut users: Vec<UserDef> = full
        .iter()
        .map(|u| UserDef {
            name: u.get_str("user").unwrap_or_default().to_string(),
            db: u.get_str("db").unwrap_or_default().to_string(),
            roles: role_refs(u),
            mechanisms: u
                .get_array("mechanisms")
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            restrictions: u
                .get_array("authenticationRestrictions")
                .map(|a| a.iter().filter_map(|r| r.as_document().cloned()).collect())
                .unwrap_or_default(),
            purpose: "service".into(),
            password: None,
        })
        .collect();
    let mut dbs = if roles_of_all_databases {
        existing_databases(client).await?
    } else {
        vec![]
    };
    if !dbs.iter().any(|d| d == "admin") {
        dbs.push("admin".into());
    }
    let mut roles = Vec::new();
    for db in dbs {
        let reply = client
            .database(&db)
            .run_command(doc! {"rolesInfo": 1, "showPrivileges": true, "showBuiltinRoles": false})
            .await
            .with_context(|| format!("reading roles of {db} (rolesInfo; needs viewRole)"))?;
        for r in docs(&reply, "roles") {
            roles.push(RoleDef {
                name: r.get_str("role").unwrap_or_default().to_string(),
                db: r.get_str("db").unwrap_or_default().to_string(),
                privileges: privileges(&r, "privileges"),
                roles: role_refs(&r),
            });
        }
    }
    let status = admin
        .run_command(doc! {"connectionStatus": 1})
        .await
        .context("connectionStatus")?;
    let connected_as = status
        .get_document("authInfo")
        .map(|a| {
            docs(a, "authenticatedUsers")
                .iter()
                .map(|u| {
                    format!(
                        "{}@{}",
                        u.get_str("user").unwrap_or_default(),
                        u.get_str("db").unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    normalize_access(&mut roles, &mut users);
    Ok(Access {
        roles,
        users,
        connected_as,
    })
}

/// Users asked about in one `usersInfo` (or roles in one `rolesInfo`): keeps each reply far
/// below the 16 MB document limit however many tenants there are.
const EFFECTIVE_BATCH: usize = 200;

/// What the server resolves `users`, the roles they hold directly and the custom `roles` to
/// (`usersInfo`/`rolesInfo` with `showPrivileges`: `inheritedPrivileges` expands built-in and
/// inherited roles), for the isolation audit: (users, roles).
pub async fn inspect_effective(
    client: &Client,
    users: &[UserDef],
    roles: &[RoleDef],
) -> Result<(Vec<Effective>, Vec<Effective>)> {
    let admin = client.database("admin");
    let mut effective_users = Vec::new();
    for chunk in users.chunks(EFFECTIVE_BATCH) {
        let ids: Vec<Bson> = chunk
            .iter()
            .map(|u| Bson::Document(doc! {"user": &u.name, "db": &u.db}))
            .collect();
        let reply = admin
            .run_command(doc! {"usersInfo": ids, "showPrivileges": true})
            .await
            .context("reading the users' effective privileges (usersInfo; needs viewUser)")?;
        effective_users.extend(docs(&reply, "users").iter().map(|u| Effective {
            id: format!(
                "{}@{}",
                u.get_str("user").unwrap_or_default(),
                u.get_str("db").unwrap_or_default()
            ),
            roles: role_refs(u),
            privileges: privileges(u, "inheritedPrivileges"),
        }));
    }
    let mut wanted: Vec<RoleRef> = users
        .iter()
        .flat_map(|u| u.roles.iter().cloned())
        .chain(roles.iter().map(|r| RoleRef {
            role: r.name.clone(),
            db: r.db.clone(),
        }))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut effective_roles = Vec::new();
    for chunk in wanted.chunks(EFFECTIVE_BATCH) {
        let ids: Vec<Bson> = chunk
            .iter()
            .map(|r| Bson::Document(doc! {"role": &r.role, "db": &r.db}))
            .collect();
        let reply = admin
            .run_command(doc! {"rolesInfo": ids, "showPrivileges": true, "showBuiltinRoles": true})
            .await
            .context("reading the roles' effective privileges (rolesInfo; needs viewRole)")?;
        effective_roles.extend(docs(&reply, "roles").iter().map(|r| Effective {
            id: format!(
                "{}@{}",
                r.get_str("role").unwrap_or_default(),
                r.get_str("db").unwrap_or_default()
            ),
            roles: role_refs(r),
            privileges: privileges(r, "inheritedPrivileges"),
        }));
    }
    Ok((effective_users, effective_roles))
}

/// A `privileges`-shaped array of a user or role document.
fn privileges(d: &Document, key: &str) -> Vec<Privilege> {
    docs(d, key)
        .iter()
        .map(|p| Privilege {
            resource: p.get_document("resource").cloned().unwrap_or_default(),
            actions: p
                .get_array("actions")
                .map(|x| {
                    x.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn docs(d: &Document, key: &str) -> Vec<Document> {
    d.get_array(key)
        .map(|a| a.iter().filter_map(|x| x.as_document().cloned()).collect())
        .unwrap_or_default()
}

fn role_refs(d: &Document) -> Vec<RoleRef> {
    docs(d, "roles")
        .iter()
        .map(|r| RoleRef {
            role: r.get_str("role").unwrap_or_default().to_string(),
            db: r.get_str("db").unwrap_or_default().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn collection_options_are_read_as_the_server_lists_them() {
        let o = doc! {
            "validator": {"$jsonSchema": {"bsonType": "object", "required": ["a"]}},
            "validationLevel": "moderate",
            "validationAction": "warn",
            "capped": true, "size": 4096_i64, "max": 0,
            "collation": {"locale": "fr", "strength": 2},
            "changeStreamPreAndPostImages": {"enabled": true},
        };
        let c = collection_from_options("c", &o);
        assert_eq!(
            c.validator,
            Some(doc! {"bsonType": "object", "required": ["a"]})
        );
        assert_eq!(c.other_validator, None);
        assert_eq!(c.options.validation_level.as_deref(), Some("moderate"));
        assert_eq!(c.options.validation_action.as_deref(), Some("warn"));
        // `max: 0` is the server's "no limit": not a declared max.
        assert_eq!(
            c.options.capped,
            Some(Capped {
                size: 4096,
                max: None
            })
        );
        assert_eq!(
            c.options.collation,
            Some(doc! {"locale": "fr", "strength": 2})
        );
        assert!(c.options.change_stream_pre_and_post_images);
        assert!(!c.options.clustered && c.options.timeseries.is_none());
    }

    #[test]
    fn query_validators_timeseries_and_clustered_collections() {
        // A validator with query operators beside $jsonSchema is kept whole, as drift.
        let v = doc! {"validator": {"$jsonSchema": {"bsonType": "object"}, "a": {"$gt": 1}}};
        let c = collection_from_options("c", &v);
        assert_eq!(c.validator, None);
        assert!(c.other_validator.is_some());
        assert_eq!(
            collection_from_options("c", &doc! {"validator": {}}).other_validator,
            None
        );

        let ts = collection_from_options(
            "t",
            &doc! {"timeseries": {"timeField": "ts", "metaField": "m", "granularity": "hours"},
            "expireAfterSeconds": 86400_i64, "clusteredIndex": true},
        );
        let t = ts.options.timeseries.unwrap();
        assert_eq!(
            (t.time_field.as_str(), t.meta_field.as_deref()),
            ("ts", Some("m"))
        );
        assert_eq!(t.granularity.as_deref(), Some("hours"));
        assert_eq!(t.expire_after_seconds, Some(86400));
        // A time series is clustered by the server; that is not a declared clusteredIndex.
        assert!(!ts.options.clustered);
        let clustered = collection_from_options(
            "k",
            &doc! {"clusteredIndex": {"key": {"_id": 1}, "unique": true}},
        );
        assert!(clustered.options.clustered);
    }

    #[test]
    fn index_entries_keep_managed_options_only() {
        let d = doc! {
            "v": 2, "ns": "db.c", "name": "email_1", "key": {"email": 1},
            "unique": true, "textIndexVersion": 3,
            "partialFilterExpression": {"email": {"$exists": true}},
        };
        let i = index_from_document(&d);
        assert_eq!(i.name, "email_1");
        assert_eq!(i.key, doc! {"email": 1});
        assert_eq!(
            i.options,
            doc! {"unique": true, "partialFilterExpression": {"email": {"$exists": true}}}
        );
    }

    #[test]
    fn role_references_are_read_with_their_databases() {
        let u = doc! {"roles": [{"role": "readWrite", "db": "app"}, {"role": "read", "db": "x"}, "junk"]};
        let refs = role_refs(&u);
        assert_eq!(refs.len(), 2);
        assert_eq!(
            (refs[0].role.as_str(), refs[0].db.as_str()),
            ("readWrite", "app")
        );
        assert_eq!((refs[1].role.as_str(), refs[1].db.as_str()), ("read", "x"));
        assert!(role_refs(&doc! {}).is_empty());
    }
}
