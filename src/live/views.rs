//! A view's `listCollections` entry (`type: "view"`) in the model: the server keeps a view's
//! definition (`options.viewOn`, `options.pipeline`, `options.collation`) as it was created,
//! so it is read as it is; only the collation's server-filled fields differ from a declaration
//! (the diff compares collations by the fields declared).

use bson::{Bson, Document};

use crate::model::ViewState;

pub fn view_from_spec(spec: &Document) -> ViewState {
    let options = spec.get_document("options").cloned().unwrap_or_default();
    ViewState {
        name: spec.get_str("name").unwrap_or_default().to_string(),
        view_on: options.get_str("viewOn").unwrap_or_default().to_string(),
        pipeline: options
            .get_array("pipeline")
            .map(|stages| {
                stages
                    .iter()
                    .filter_map(Bson::as_document)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        collation: options.get_document("collation").ok().cloned(),
        absent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn a_listed_view_becomes_its_definition() {
        let spec = doc! {
            "name": "active_users", "type": "view",
            "options": {"viewOn": "users", "pipeline": [{"$match": {"active": true}}, {"$project": {"_id": 0}}],
                        "collation": {"locale": "fr", "strength": 2, "version": "57.1"}},
            "info": {"readOnly": true},
        };
        let v = view_from_spec(&spec);
        assert_eq!(v.name, "active_users");
        assert_eq!(v.view_on, "users");
        assert_eq!(
            v.pipeline,
            vec![
                doc! {"$match": {"active": true}},
                doc! {"$project": {"_id": 0}}
            ]
        );
        assert_eq!(v.collation.unwrap().get_str("locale"), Ok("fr"));
        assert!(!v.absent);

        let bare = view_from_spec(&doc! {"name": "v", "type": "view", "options": {"viewOn": "c"}});
        assert!(bare.pipeline.is_empty() && bare.collation.is_none());
    }
}
