//! A contract held against the server's winning plan (`explain`, executionStats): each
//! expectation the plan does not meet becomes one breach, in words. Pure.

use super::{IndexExpect, QueryContract};
use crate::stats::Explain;

pub fn breaches(c: &QueryContract, e: &Explain) -> Vec<String> {
    let mut out = Vec::new();
    let has = |stage: &str| {
        e.stages
            .iter()
            .any(|s| s == stage || s.starts_with(&format!("{stage} ")))
    };
    let indexes = e.used_indexes();
    if e.collscan {
        out.push(
            "no index serves it: the winning plan is a COLLSCAN (reads every document)".to_string(),
        );
    } else if indexes.is_empty() {
        out.push(format!(
            "no index serves it: the winning plan is {}",
            e.stages.join(" ← ")
        ));
    }
    if let IndexExpect::Named(name) = &c.expect.index
        && !e.collscan
        && !indexes.iter().any(|i| i == name)
    {
        out.push(format!(
            "served by {} instead of the index \"{name}\" the contract names",
            if indexes.is_empty() {
                "no index".to_string()
            } else {
                indexes.join(", ")
            }
        ));
    }
    let sorted = c.query.shape().sort.is_some_and(|s| !s.is_empty());
    if c.expect.no_blocking_sort && sorted && has("SORT") {
        out.push("blocking sort: the winning plan sorts in memory (SORT stage)".to_string());
    }
    if c.expect.covered && (has("FETCH") || e.collscan || e.docs_examined > 0) {
        out.push(format!(
            "not covered: the plan reads {} document(s) (FETCH) instead of answering from the index",
            e.docs_examined
        ));
    }
    if let Some(max) = c.expect.max_keys_per_returned {
        let per = e.keys_examined as f64 / e.returned.max(1) as f64;
        if per > max {
            out.push(format!(
                "{} key(s) examined for {} document(s) returned ({per:.1} per document, at most {max} allowed)",
                e.keys_examined, e.returned
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query_contract::Expect;
    use crate::query_contract::fixture::find;
    use crate::stats::summarize_explain;
    use bson::doc;

    fn contract(expect: Expect) -> QueryContract {
        let mut c = find(
            ("d", "c", "q"),
            doc! {"a": 1},
            Some(doc! {"b": 1}),
            Some(doc! {"a": 1, "_id": 0}),
        );
        c.expect = expect;
        c
    }

    #[test]
    fn every_expectation_the_plan_misses_is_a_breach() {
        let all = Expect {
            index: IndexExpect::Named("a_1_b_1".into()),
            no_blocking_sort: true,
            covered: true,
            max_keys_per_returned: Some(2.0),
        };
        let collscan = doc! {
            "queryPlanner": {"winningPlan": {"stage": "SORT", "inputStage": {"stage": "COLLSCAN"}}},
            "executionStats": {"nReturned": 2, "totalKeysExamined": 0, "totalDocsExamined": 50},
        };
        let e = summarize_explain("db", "c", &doc! {"a": 1}, None, &collscan);
        let b = breaches(&contract(all.clone()), &e);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b[0].contains("COLLSCAN") && b[1].contains("SORT") && b[2].contains("50 document"));

        let good = doc! {
            "queryPlanner": {"winningPlan": {"stage": "PROJECTION_COVERED", "inputStage": {"stage": "IXSCAN", "indexName": "a_1_b_1", "keyPattern": {"a": 1, "b": 1}}}},
            "executionStats": {"nReturned": 2, "totalKeysExamined": 2, "totalDocsExamined": 0},
        };
        let e = summarize_explain("db", "c", &doc! {"a": 1}, None, &good);
        assert!(breaches(&contract(all.clone()), &e).is_empty());

        let other = doc! {
            "queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": "a_1", "keyPattern": {"a": 1}}}},
            "executionStats": {"nReturned": 1, "totalKeysExamined": 9, "totalDocsExamined": 9},
        };
        let e = summarize_explain("db", "c", &doc! {"a": 1}, None, &other);
        let b = breaches(&contract(all), &e);
        assert!(
            b[0].contains("a_1 instead of the index \"a_1_b_1\""),
            "{b:?}"
        );
        assert!(
            b.iter()
                .any(|x| x.contains("9 key(s) examined for 1 document(s)")),
            "{b:?}"
        );
    }
}
