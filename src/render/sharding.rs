//! The sharding section of `plan` and `apply`.

use crate::sharding::diff::ShardingPlan;

pub fn text(plan: &ShardingPlan) -> String {
    let mut out = String::new();
    if plan.steps.is_empty() && plan.conflicts.is_empty() {
        out.push_str("sharding: in sync\n");
        return out;
    }
    if let Some(note) = &plan.note {
        out.push_str(&format!(
            "note: {note}; these {} step(s) would be sent through a mongos (exact commands: -o json):\n",
            plan.steps.len()
        ));
    } else {
        out.push_str(&format!("sharding: {} step(s):\n", plan.steps.len()));
    }
    for s in &plan.steps {
        out.push_str(&format!("  ~ {}\n", s.summary));
    }
    for c in &plan.conflicts {
        out.push_str(&format!("  ! sharding conflict: {c}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::sharding::diff::{NOT_SHARDED, Step};

    #[test]
    fn without_a_mongos_the_note_comes_first() {
        let plan = ShardingPlan {
            mongos: false,
            note: Some(NOT_SHARDED.into()),
            steps: vec![Step {
                summary: "shard a.b on { \"_id\": \"hashed\" }".into(),
                command: doc! {"shardCollection": "a.b", "key": {"_id": "hashed"}},
            }],
            conflicts: vec![],
        };
        assert_eq!(
            text(&plan),
            "note: sharding is declared but the cluster is not sharded (no mongos); these 1 step(s) would be sent through a mongos (exact commands: -o json):\n  ~ shard a.b on { \"_id\": \"hashed\" }\n"
        );
        assert_eq!(
            text(&ShardingPlan {
                mongos: true,
                ..Default::default()
            }),
            "sharding: in sync\n"
        );
    }
}
