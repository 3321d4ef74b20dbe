//! Collections: the `create` command, and the collMod (or blocked) changes that bring a live
//! collection's validator and options to the declared ones.

use bson::{Bson, Document, doc};

use super::indexes::{collation_matches, create_index_change, diff_indexes};
use super::json_diff::json_diff;
use super::seeds::{diff_seeds, insert_seeds_change};
use super::show;
use crate::model::{CollectionState, doc_eq, doc_to_json};
use crate::plan::{Action, Change};

/// The `create` command for a collection, validator included.
pub fn create_command(coll: &CollectionState) -> Document {
    let mut cmd = doc! {"create": &coll.name};
    let o = &coll.options;
    if let Some(c) = &o.capped {
        cmd.insert("capped", true);
        cmd.insert("size", c.size);
        if let Some(max) = c.max {
            cmd.insert("max", max);
        }
    }
    if let Some(t) = &o.timeseries {
        let mut ts = doc! {"timeField": &t.time_field};
        if let Some(m) = &t.meta_field {
            ts.insert("metaField", m);
        }
        if let Some(g) = &t.granularity {
            ts.insert("granularity", g);
        }
        cmd.insert("timeseries", ts);
        if let Some(e) = t.expire_after_seconds {
            cmd.insert("expireAfterSeconds", e);
        }
    }
    if let Some(c) = &o.collation {
        cmd.insert("collation", c.clone());
    }
    if o.clustered {
        cmd.insert("clusteredIndex", doc! {"key": {"_id": 1}, "unique": true});
    }
    if o.change_stream_pre_and_post_images {
        cmd.insert("changeStreamPreAndPostImages", doc! {"enabled": true});
    }
    if let Some(v) = &coll.validator {
        cmd.insert("validator", doc! {"$jsonSchema": v.clone()});
    }
    if let Some(l) = &o.validation_level {
        cmd.insert("validationLevel", l);
    }
    if let Some(a) = &o.validation_action {
        cmd.insert("validationAction", a);
    }
    cmd
}

pub(super) fn create_collection(db: &str, coll: &CollectionState, out: &mut Vec<Change>) {
    let mut c = Change::new(
        Action::CreateCollection,
        db,
        Some(&coll.name),
        create_summary(coll),
    );
    c.commands.push(create_command(coll));
    out.push(c);
    for idx in &coll.indexes {
        out.push(create_index_change(db, &coll.name, idx));
    }
    if let Some(seeds) = &coll.seeds
        && !seeds.documents.is_empty()
    {
        out.push(insert_seeds_change(
            db,
            &coll.name,
            seeds,
            &seeds.documents.iter().collect::<Vec<_>>(),
        ));
    }
}

fn create_summary(coll: &CollectionState) -> String {
    let mut parts = Vec::new();
    if coll.validator.is_some() {
        let (level, action) = coll.effective_validation();
        parts.push(format!("validator ({level}/{action})"));
    }
    if let Some(c) = &coll.options.capped {
        parts.push(format!("capped {} bytes", c.size));
    }
    if let Some(t) = &coll.options.timeseries {
        parts.push(format!("time series on {}", t.time_field));
    }
    if coll.options.collation.is_some() {
        parts.push("collation".into());
    }
    if coll.options.clustered {
        parts.push("clustered".into());
    }
    if parts.is_empty() {
        "no validator".into()
    } else {
        parts.join(", ")
    }
}

fn blocked(db: &str, coll: &str, what: &str, desired: String, live: String) -> Change {
    let mut c = Change::new(
        Action::Blocked,
        db,
        Some(coll),
        format!("{what} cannot be changed in place"),
    );
    c.details.push(format!("declared: {desired}"));
    c.details.push(format!("live:     {live}"));
    c.details
        .push("recreate the collection (backup, drop, apply, restore) to change this".into());
    c
}

pub(super) fn diff_collection(
    db: &str,
    d: &CollectionState,
    l: &CollectionState,
    out: &mut Vec<Change>,
) {
    let name = d.name.as_str();
    let (o, lo) = (&d.options, &l.options);

    // Options MongoDB cannot change in place.
    let capped_kind_differs = o.capped.is_some() != lo.capped.is_some();
    if capped_kind_differs {
        out.push(blocked(
            db,
            name,
            "capped",
            show(&o.capped),
            show(&lo.capped),
        ));
    }
    match (&o.timeseries, &lo.timeseries) {
        (Some(a), Some(b))
            if a.time_field != b.time_field
                || a.meta_field != b.meta_field
                || a.granularity.as_deref().unwrap_or("seconds")
                    != b.granularity.as_deref().unwrap_or("seconds") =>
        {
            out.push(blocked(
                db,
                name,
                "time-series fields/granularity",
                show(&o.timeseries),
                show(&lo.timeseries),
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            out.push(blocked(
                db,
                name,
                "time series",
                show(&o.timeseries),
                show(&lo.timeseries),
            ));
        }
        _ => {}
    }
    if !collation_matches(o.collation.as_ref(), lo.collation.as_ref()) {
        out.push(blocked(
            db,
            name,
            "collation",
            show(&o.collation.as_ref().map(doc_to_json)),
            show(&lo.collation.as_ref().map(doc_to_json)),
        ));
    }
    if o.clustered != lo.clustered {
        out.push(blocked(
            db,
            name,
            "clusteredIndex",
            o.clustered.to_string(),
            lo.clustered.to_string(),
        ));
    }

    // Validator and options collMod can change.
    let live_validator_differs = l.other_validator.is_some()
        || match (&d.validator, &l.validator) {
            (Some(a), Some(b)) => !doc_eq(a, b, false),
            (None, None) => false,
            _ => true,
        };
    let (level, action) = d.effective_validation();
    let (l_level, l_action) = l.effective_validation();
    if live_validator_differs {
        let summary = match &d.validator {
            Some(_) if l.validator.is_none() && l.other_validator.is_none() => {
                "add $jsonSchema validator".to_string()
            }
            Some(_) => "change $jsonSchema".to_string(),
            None => "remove validator (not declared)".to_string(),
        };
        let mut c = Change::new(Action::UpdateValidator, db, Some(name), summary);
        let old = l
            .validator
            .as_ref()
            .map(doc_to_json)
            .or_else(|| l.other_validator.as_ref().map(doc_to_json))
            .unwrap_or(serde_json::Value::Null);
        let new = d
            .validator
            .as_ref()
            .map(doc_to_json)
            .unwrap_or(serde_json::Value::Null);
        c.details = json_diff(&old, &new);
        let validator = d
            .validator
            .as_ref()
            .map(|v| doc! {"$jsonSchema": v.clone()})
            .unwrap_or_default();
        c.commands.push(doc! {"collMod": name, "validator": validator, "validationLevel": level, "validationAction": action});
        out.push(c);
    } else if (level, action) != (l_level, l_action) {
        let mut summary = format!("validation {l_level}/{l_action} → {level}/{action}");
        if (l_level, l_action, action) == (level, "warn", "error") {
            // The state `apply --warn-first` leaves behind.
            summary = format!("promote to error ({summary})");
        }
        let mut c = Change::new(Action::UpdateOptions, db, Some(name), summary);
        c.commands
            .push(doc! {"collMod": name, "validationLevel": level, "validationAction": action});
        out.push(c);
    }
    if o.change_stream_pre_and_post_images != lo.change_stream_pre_and_post_images {
        let v = o.change_stream_pre_and_post_images;
        let mut c = Change::new(
            Action::UpdateOptions,
            db,
            Some(name),
            format!("changeStreamPreAndPostImages {} → {v}", !v),
        );
        c.commands
            .push(doc! {"collMod": name, "changeStreamPreAndPostImages": {"enabled": v}});
        out.push(c);
    }
    if let (Some(a), Some(b)) = (&o.capped, &lo.capped) {
        // The server rounds capped sizes up to a multiple of 256 bytes.
        let want = (a.size + 255) / 256 * 256;
        if want != b.size || a.max != b.max {
            let mut c = Change::new(
                Action::UpdateOptions,
                db,
                Some(name),
                format!(
                    "capped size {} → {want}, max {} → {}",
                    b.size,
                    show(&b.max),
                    show(&a.max)
                ),
            );
            let mut cmd = doc! {"collMod": name, "cappedSize": a.size};
            // cappedMax 0 removes the document limit.
            cmd.insert("cappedMax", a.max.unwrap_or(0));
            c.commands.push(cmd);
            out.push(c);
        }
    }
    if let (Some(a), Some(b)) = (&o.timeseries, &lo.timeseries)
        && a.expire_after_seconds != b.expire_after_seconds
    {
        let mut c = Change::new(
            Action::UpdateOptions,
            db,
            Some(name),
            format!(
                "expireAfterSeconds {} → {}",
                show(&b.expire_after_seconds),
                show(&a.expire_after_seconds)
            ),
        );
        let v: Bson = a
            .expire_after_seconds
            .map(Bson::Int64)
            .unwrap_or_else(|| Bson::String("off".into()));
        c.commands
            .push(doc! {"collMod": name, "expireAfterSeconds": v});
        out.push(c);
    }

    diff_indexes(db, d, l, out);
    if let Some(seeds) = &d.seeds {
        diff_seeds(db, name, seeds, l.seeds.as_ref(), out);
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::diff::diff;
    use crate::diff::fixtures::*;
    use crate::model::Capped;

    #[test]
    fn validator_change_is_a_collmod_with_a_readable_diff() {
        let mut d = coll("users");
        d.validator =
            Some(doc! {"required": ["email", "role"], "properties": {"rating": {"maximum": 5}}});
        let mut l = coll("users");
        l.validator = Some(
            doc! {"required": ["email"], "properties": {"rating": {"maximum": 10}, "old": {"bsonType": "string"}}},
        );
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(plan.changes.len(), 1);
        let c = &plan.changes[0];
        assert_eq!(c.action, Action::UpdateValidator);
        assert_eq!(
            c.details,
            vec![
                "+ required: \"role\"",
                "- properties.old: {\"bsonType\":\"string\"}",
                "~ properties.rating.maximum: 10 → 5"
            ]
        );
        assert_eq!(c.commands[0].get_str("collMod").unwrap(), "users");
        assert_eq!(c.commands[0].get_str("validationLevel").unwrap(), "strict");
    }

    #[test]
    fn validation_action_change_alone_is_an_options_update() {
        let mut d = coll("c");
        d.validator = Some(doc! {"bsonType": "object"});
        d.options.validation_action = Some("warn".into());
        let mut l = d.clone();
        l.options.validation_action = None;
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(
            actions(&plan),
            vec![(
                Action::UpdateOptions,
                "validation strict/error → strict/warn".to_string()
            )]
        );
    }

    #[test]
    fn a_warn_validator_declared_at_error_is_a_promotion() {
        let mut d = coll("c");
        d.validator = Some(doc! {"bsonType": "object"});
        let mut l = d.clone();
        l.options.validation_action = Some("warn".into());
        let plan = diff(&cluster(vec![d]), &cluster(vec![l]), false);
        assert_eq!(
            actions(&plan),
            vec![(
                Action::UpdateOptions,
                "promote to error (validation strict/warn → strict/error)".to_string()
            )]
        );
        assert_eq!(
            plan.changes[0].commands[0].get_str("validationAction"),
            Ok("error")
        );
    }

    #[test]
    fn impossible_changes_are_blocked_and_capped_resize_is_collmod() {
        let mut d = coll("c");
        d.options.capped = Some(Capped {
            size: 4096,
            max: None,
        });
        let l = coll("c");
        let plan = diff(&cluster(vec![d.clone()]), &cluster(vec![l]), false);
        assert_eq!(plan.blocked().count(), 1);

        let mut l2 = coll("c");
        l2.options.capped = Some(Capped {
            size: 1024,
            max: None,
        });
        let plan = diff(&cluster(vec![d]), &cluster(vec![l2]), false);
        assert_eq!(plan.changes[0].action, Action::UpdateOptions);
        assert_eq!(
            plan.changes[0].commands[0],
            doc! {"collMod": "c", "cappedSize": 4096i64, "cappedMax": 0i64}
        );

        let mut d3 = coll("c");
        d3.options.collation = Some(doc! {"locale": "en"});
        let plan = diff(&cluster(vec![d3]), &cluster(vec![coll("c")]), false);
        assert_eq!(plan.changes[0].action, Action::Blocked);
    }
}
