//! The commands that take a sharded cluster from its state (as `config.collections`,
//! `config.tags` and `config.shards` describe it) to the declared sharding. A pure function:
//! no I/O, so every case is a row of a unit-test table.

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, doc};
use serde::Serialize;

use super::model::{DeclaredSharding, ShardKey, ZoneRange};

/// A sharded collection, from `config.collections`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCollection {
    pub key: Document,
    pub unique: bool,
}

/// A zone key range, from `config.tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRange {
    pub namespace: String,
    pub zone: String,
    pub min: Document,
    pub max: Document,
}

/// What a sharded cluster has; the empty state is a cluster with nothing sharded and no
/// shard known (what `plan` diffs against when there is no mongos to read it from).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterSharding {
    /// Namespace → its shard key.
    pub collections: BTreeMap<String, LiveCollection>,
    /// Shard id → the zones it is in.
    pub shards: BTreeMap<String, Vec<String>>,
    pub ranges: Vec<LiveRange>,
}

/// One admin command to send through a mongos.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub summary: String,
    #[serde(serialize_with = "ser_doc")]
    pub command: Document,
}

fn ser_doc<S: serde::Serializer>(d: &Document, s: S) -> Result<S::Ok, S::Error> {
    crate::model::doc_to_json(d).serialize(s)
}

/// The steps, in the order they must run, and the differences no command here converges.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    pub steps: Vec<Step>,
    pub conflicts: Vec<String>,
}

/// The sharding part of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShardingPlan {
    /// Whether this connection is to a mongos (only then are the steps sent, and the state
    /// read from `config.*`; otherwise they are diffed against an empty sharded cluster).
    pub mongos: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
}

/// What `plan` says when sharding is declared and the connection is not to a mongos.
pub const NOT_SHARDED: &str = "sharding is declared but the cluster is not sharded (no mongos)";

fn range_cmd(ns: &str, min: &Document, max: &Document, zone: Bson) -> Document {
    doc! {"updateZoneKeyRange": ns, "min": min.clone(), "max": max.clone(), "zone": zone}
}

fn shard_collection_cmd(ns: &str, key: &ShardKey) -> Document {
    let mut c = doc! {"shardCollection": ns, "key": key.key_doc()};
    if key.unique {
        c.insert("unique", true);
    }
    c.extend(key.options.clone());
    c
}

fn same_range(l: &LiveRange, ns: &str, z: &ZoneRange) -> bool {
    l.namespace == ns && l.zone == z.zone && l.min == z.min && l.max == z.max
}

/// Same key, ignoring how the number 1 is typed (`config.collections` may hold 1.0).
fn same_key(live: &Document, declared: &Document) -> bool {
    live.len() == declared.len()
        && live.iter().zip(declared).all(|((a, x), (b, y))| {
            a == b
                && match (x.as_str(), y.as_str()) {
                    (Some(x), Some(y)) => x == y,
                    (None, None) => super::model::compare(x, y).is_eq(),
                    _ => false,
                }
        })
}

/// The commands from `live` to `declared`. Order: shards join their zones, stale ranges go,
/// declared ranges come (before `shardCollection`, so an empty collection is split along
/// its zones from the start), collections are sharded, shards leave zones they are no
/// longer declared in. Zones the manifest does not name, and ranges of namespaces it does
/// not shard, are left alone.
pub fn diff(declared: &DeclaredSharding, live: &ClusterSharding) -> Diff {
    let mut out = Diff::default();
    // A sharded cluster always has a shard; with none known, membership is not checked.
    let knows_shards = !live.shards.is_empty();

    for (zone, shards) in &declared.zones {
        for shard in shards {
            match live.shards.get(shard) {
                Some(tags) if tags.contains(zone) => {}
                None if knows_shards => out.conflicts.push(format!(
                    "zone \"{zone}\": shard \"{shard}\" is not in the cluster (config.shards has {})",
                    live.shards.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
                _ => out.steps.push(Step {
                    summary: format!("add shard {shard} to zone {zone}"),
                    command: doc! {"addShardToZone": shard, "zone": zone},
                }),
            }
        }
    }

    let mut removals = Vec::new();
    let mut additions = Vec::new();
    let mut shardings = Vec::new();
    for c in &declared.collections {
        let ns = c.namespace.as_str();
        for l in live.ranges.iter().filter(|l| l.namespace == ns) {
            if !c.zone_ranges.iter().any(|z| same_range(l, ns, z)) {
                removals.push(Step {
                    summary: format!(
                        "remove zone range {ns} {} – {} (zone {})",
                        l.min, l.max, l.zone
                    ),
                    command: range_cmd(ns, &l.min, &l.max, Bson::Null),
                });
            }
        }
        for z in &c.zone_ranges {
            if !live.ranges.iter().any(|l| same_range(l, ns, z)) {
                additions.push(Step {
                    summary: format!("zone range {ns} {} – {} → zone {}", z.min, z.max, z.zone),
                    command: range_cmd(ns, &z.min, &z.max, Bson::String(z.zone.clone())),
                });
            }
        }
        match live.collections.get(ns) {
            None => shardings.push(Step {
                summary: format!("shard {ns} on {}", c.key.key_doc()),
                command: shard_collection_cmd(ns, &c.key),
            }),
            Some(l) if !same_key(&l.key, &c.key.key_doc()) || l.unique != c.key.unique => {
                let unique = |u: bool| if u { " unique" } else { "" };
                out.conflicts.push(format!(
                    "{ns} is sharded on {}{}, declared {}{}: mongoctl does not change a shard key (see reshardCollection and refineCollectionShardKey)",
                    l.key,
                    unique(l.unique),
                    c.key.key_doc(),
                    unique(c.key.unique)
                ));
            }
            Some(_) => {}
        }
    }
    out.steps.extend(removals);
    out.steps.extend(additions);
    out.steps.extend(shardings);

    let declared_in: BTreeMap<&str, BTreeSet<&str>> = declared
        .zones
        .iter()
        .map(|(z, shards)| (z.as_str(), shards.iter().map(String::as_str).collect()))
        .collect();
    for (shard, tags) in &live.shards {
        for zone in tags {
            let keep = declared_in
                .get(zone.as_str())
                .is_none_or(|shards| shards.contains(shard.as_str()));
            if !keep {
                out.steps.push(Step {
                    summary: format!("remove shard {shard} from zone {zone}"),
                    command: doc! {"removeShardFromZone": shard, "zone": zone},
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sharding::model::{DeclaredCollection, KeyKind};

    fn key(fields: &[(&str, KeyKind)]) -> ShardKey {
        ShardKey {
            fields: fields.iter().map(|(f, k)| (f.to_string(), *k)).collect(),
            unique: false,
            options: Document::new(),
        }
    }

    fn tenant_key() -> ShardKey {
        key(&[
            ("tenant_id", KeyKind::Ranged),
            ("created_at", KeyKind::Ranged),
        ])
    }

    fn range(zone: &str, lo: Bson, hi: Bson) -> ZoneRange {
        ZoneRange {
            zone: zone.into(),
            min: doc! {"tenant_id": lo, "created_at": Bson::MinKey},
            max: doc! {"tenant_id": hi, "created_at": Bson::MinKey},
        }
    }

    fn live_range(ns: &str, z: &ZoneRange) -> LiveRange {
        LiveRange {
            namespace: ns.into(),
            zone: z.zone.clone(),
            min: z.min.clone(),
            max: z.max.clone(),
        }
    }

    const NS: &str = "chat.messages";

    fn declared(ranges: Vec<ZoneRange>) -> DeclaredSharding {
        DeclaredSharding {
            zones: BTreeMap::from([
                ("eu".to_string(), vec!["shard-eu".to_string()]),
                ("us".to_string(), vec!["shard-us".to_string()]),
            ]),
            collections: vec![DeclaredCollection {
                namespace: NS.into(),
                key: tenant_key(),
                zone_ranges: ranges,
            }],
        }
    }

    fn eu() -> ZoneRange {
        range("eu", Bson::MinKey, Bson::String("m".into()))
    }
    fn us() -> ZoneRange {
        range("us", Bson::String("m".into()), Bson::MaxKey)
    }

    fn commands(d: &Diff) -> Vec<Document> {
        d.steps.iter().map(|s| s.command.clone()).collect()
    }

    fn converged() -> ClusterSharding {
        ClusterSharding {
            collections: BTreeMap::from([(
                NS.to_string(),
                LiveCollection {
                    key: doc! {"tenant_id": 1.0, "created_at": 1.0},
                    unique: false,
                },
            )]),
            shards: BTreeMap::from([
                ("shard-eu".to_string(), vec!["eu".to_string()]),
                ("shard-us".to_string(), vec!["us".to_string()]),
            ]),
            ranges: vec![live_range(NS, &eu()), live_range(NS, &us())],
        }
    }

    #[test]
    fn nothing_sharded_yet_gives_every_command_in_order() {
        let d = diff(&declared(vec![eu(), us()]), &ClusterSharding::default());
        assert!(d.conflicts.is_empty(), "{:?}", d.conflicts);
        assert_eq!(
            commands(&d),
            [
                doc! {"addShardToZone": "shard-eu", "zone": "eu"},
                doc! {"addShardToZone": "shard-us", "zone": "us"},
                doc! {"updateZoneKeyRange": NS, "min": eu().min, "max": eu().max, "zone": "eu"},
                doc! {"updateZoneKeyRange": NS, "min": us().min, "max": us().max, "zone": "us"},
                doc! {"shardCollection": NS, "key": {"tenant_id": 1, "created_at": 1}},
            ]
        );
    }

    #[test]
    fn a_converged_cluster_needs_nothing() {
        let d = diff(&declared(vec![eu(), us()]), &converged());
        assert_eq!(d, Diff::default());
    }

    /// (what changed in the cluster, the commands that converge it)
    #[test]
    fn table_of_drifts() {
        let moved = range("us", Bson::String("k".into()), Bson::MaxKey);
        let cases: Vec<(&str, ClusterSharding, Vec<Document>)> = vec![
            (
                "a shard left its zone",
                {
                    let mut s = converged();
                    s.shards.insert("shard-us".into(), vec![]);
                    s
                },
                vec![doc! {"addShardToZone": "shard-us", "zone": "us"}],
            ),
            (
                "a shard joined a declared zone it is not declared in",
                {
                    let mut s = converged();
                    s.shards
                        .insert("shard-us".into(), vec!["us".into(), "eu".into()]);
                    s
                },
                vec![doc! {"removeShardFromZone": "shard-us", "zone": "eu"}],
            ),
            (
                "an undeclared zone on a shard is left alone",
                {
                    let mut s = converged();
                    s.shards
                        .insert("shard-us".into(), vec!["us".into(), "apac".into()]);
                    s
                },
                vec![],
            ),
            (
                "a range is missing",
                {
                    let mut s = converged();
                    s.ranges.pop();
                    s
                },
                vec![
                    doc! {"updateZoneKeyRange": NS, "min": us().min, "max": us().max, "zone": "us"},
                ],
            ),
            (
                "a range moved: the stale one goes before the declared one comes",
                {
                    let mut s = converged();
                    s.ranges[1] = live_range(NS, &moved);
                    s
                },
                vec![
                    doc! {"updateZoneKeyRange": NS, "min": moved.min.clone(), "max": moved.max.clone(), "zone": Bson::Null},
                    doc! {"updateZoneKeyRange": NS, "min": us().min, "max": us().max, "zone": "us"},
                ],
            ),
            (
                "a range in another zone is replaced",
                {
                    let mut s = converged();
                    s.ranges[0].zone = "us".into();
                    s
                },
                vec![
                    doc! {"updateZoneKeyRange": NS, "min": eu().min, "max": eu().max, "zone": Bson::Null},
                    doc! {"updateZoneKeyRange": NS, "min": eu().min, "max": eu().max, "zone": "eu"},
                ],
            ),
            (
                "ranges of a namespace the manifest does not shard are left alone",
                {
                    let mut s = converged();
                    s.ranges.push(live_range("other.coll", &eu()));
                    s
                },
                vec![],
            ),
            (
                "the collection is not sharded yet (ranges already there)",
                {
                    let mut s = converged();
                    s.collections.clear();
                    s
                },
                vec![doc! {"shardCollection": NS, "key": {"tenant_id": 1, "created_at": 1}}],
            ),
        ];
        for (name, state, expected) in cases {
            let d = diff(&declared(vec![eu(), us()]), &state);
            assert!(d.conflicts.is_empty(), "{name}: {:?}", d.conflicts);
            assert_eq!(commands(&d), expected, "{name}");
        }
    }

    #[test]
    fn undeclared_ranges_on_a_managed_namespace_are_removed() {
        let d = diff(&declared(vec![eu()]), &converged());
        assert_eq!(
            commands(&d),
            [doc! {"updateZoneKeyRange": NS, "min": us().min, "max": us().max, "zone": Bson::Null}]
        );
    }

    #[test]
    fn a_different_shard_key_is_a_conflict_not_a_command() {
        let mut s = converged();
        s.collections.get_mut(NS).unwrap().key = doc! {"_id": "hashed"};
        let d = diff(&declared(vec![eu(), us()]), &s);
        assert!(d.steps.is_empty());
        assert_eq!(d.conflicts.len(), 1);
        assert!(
            d.conflicts[0].starts_with("chat.messages is sharded on { \"_id\": \"hashed\" }, declared { \"tenant_id\": 1, \"created_at\": 1 }"),
            "{}",
            d.conflicts[0]
        );
        // unique differs
        let mut s = converged();
        s.collections.get_mut(NS).unwrap().unique = true;
        assert_eq!(diff(&declared(vec![eu(), us()]), &s).conflicts.len(), 1);
    }

    #[test]
    fn a_shard_missing_from_a_sharded_cluster_is_a_conflict() {
        let mut s = converged();
        s.shards.remove("shard-us");
        let d = diff(&declared(vec![eu(), us()]), &s);
        assert!(d.steps.is_empty(), "{:?}", d.steps);
        assert_eq!(
            d.conflicts,
            ["zone \"us\": shard \"shard-us\" is not in the cluster (config.shards has shard-eu)"]
        );
    }

    #[test]
    fn hashed_unique_and_options_reach_shard_collection() {
        let mut k = key(&[("_id", KeyKind::Hashed)]);
        k.options = doc! {"numInitialChunks": 8_i64};
        let d = DeclaredSharding {
            zones: BTreeMap::new(),
            collections: vec![DeclaredCollection {
                namespace: "a.b".into(),
                key: k,
                zone_ranges: vec![],
            }],
        };
        assert_eq!(
            commands(&diff(&d, &ClusterSharding::default())),
            [doc! {"shardCollection": "a.b", "key": {"_id": "hashed"}, "numInitialChunks": 8_i64}]
        );
        let mut u = key(&[("email", KeyKind::Ranged)]);
        u.unique = true;
        let d = DeclaredSharding {
            zones: BTreeMap::new(),
            collections: vec![DeclaredCollection {
                namespace: "a.c".into(),
                key: u,
                zone_ranges: vec![],
            }],
        };
        assert_eq!(
            commands(&diff(&d, &ClusterSharding::default())),
            [doc! {"shardCollection": "a.c", "key": {"email": 1}, "unique": true}]
        );
    }
}
