//! Shape checks for the MongoDB languages migration steps are written in (query filters,
//! update operators, update pipelines and aggregation expressions), so that `check` finds a
//! misspelt operator offline, with its JSON path, instead of the server halfway through a
//! migration. They check names and shapes, not semantics: the server has the last word.

use serde_json::{Map, Value};

use crate::hints::did_you_mean;
use crate::jsonpath::JsonPath;

/// A problem found, at a path relative to where the checked value sits.
pub type Problem = (JsonPath, String);

const QUERY_TOP: &[&str] = &[
    "$and",
    "$or",
    "$nor",
    "$expr",
    "$jsonSchema",
    "$text",
    "$comment",
];
const QUERY_FIELD: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$type",
    "$regex",
    "$options",
    "$not",
    "$elemMatch",
    "$size",
    "$all",
    "$mod",
    "$bitsAllSet",
    "$bitsAllClear",
    "$bitsAnySet",
    "$bitsAnyClear",
    "$geoWithin",
    "$geoIntersects",
    "$near",
    "$nearSphere",
    "$maxDistance",
    "$minDistance",
    "$geometry",
    "$box",
    "$center",
    "$centerSphere",
    "$polygon",
    "$comment",
];
/// Operators that run JavaScript on the server: a migration is declarative, and many
/// clusters disable server-side JavaScript.
const JAVASCRIPT: &[&str] = &["$where", "$function", "$accumulator"];
pub const UPDATE_OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$rename",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$currentDate",
    "$push",
    "$pull",
    "$addToSet",
    "$pop",
    "$pullAll",
    "$setOnInsert",
    "$bit",
];
/// The stages an update pipeline may hold (the server refuses others).
const UPDATE_STAGES: &[&str] = &[
    "$addFields",
    "$set",
    "$project",
    "$unset",
    "$replaceRoot",
    "$replaceWith",
];
const EXPRESSIONS: &[&str] = &[
    "$abs",
    "$acos",
    "$acosh",
    "$add",
    "$allElementsTrue",
    "$and",
    "$anyElementTrue",
    "$arrayElemAt",
    "$arrayToObject",
    "$asin",
    "$asinh",
    "$atan",
    "$atan2",
    "$atanh",
    "$avg",
    "$binarySize",
    "$bitAnd",
    "$bitNot",
    "$bitOr",
    "$bitXor",
    "$bsonSize",
    "$ceil",
    "$cmp",
    "$concat",
    "$concatArrays",
    "$cond",
    "$convert",
    "$cos",
    "$cosh",
    "$dateAdd",
    "$dateDiff",
    "$dateFromParts",
    "$dateFromString",
    "$dateSubtract",
    "$dateToParts",
    "$dateToString",
    "$dateTrunc",
    "$dayOfMonth",
    "$dayOfWeek",
    "$dayOfYear",
    "$degreesToRadians",
    "$divide",
    "$eq",
    "$exp",
    "$filter",
    "$first",
    "$firstN",
    "$floor",
    "$getField",
    "$gt",
    "$gte",
    "$hour",
    "$ifNull",
    "$in",
    "$indexOfArray",
    "$indexOfBytes",
    "$indexOfCP",
    "$isArray",
    "$isNumber",
    "$isoDayOfWeek",
    "$isoWeek",
    "$isoWeekYear",
    "$last",
    "$lastN",
    "$let",
    "$literal",
    "$ln",
    "$log",
    "$log10",
    "$lt",
    "$lte",
    "$ltrim",
    "$map",
    "$max",
    "$maxN",
    "$mergeObjects",
    "$meta",
    "$millisecond",
    "$min",
    "$minN",
    "$minute",
    "$mod",
    "$month",
    "$multiply",
    "$ne",
    "$not",
    "$objectToArray",
    "$or",
    "$pow",
    "$radiansToDegrees",
    "$rand",
    "$range",
    "$reduce",
    "$regexFind",
    "$regexFindAll",
    "$regexMatch",
    "$replaceAll",
    "$replaceOne",
    "$reverseArray",
    "$round",
    "$rtrim",
    "$second",
    "$setDifference",
    "$setEquals",
    "$setField",
    "$setIntersection",
    "$setIsSubset",
    "$setUnion",
    "$sin",
    "$sinh",
    "$size",
    "$slice",
    "$sortArray",
    "$split",
    "$sqrt",
    "$stdDevPop",
    "$stdDevSamp",
    "$strcasecmp",
    "$strLenBytes",
    "$strLenCP",
    "$substr",
    "$substrBytes",
    "$substrCP",
    "$subtract",
    "$sum",
    "$switch",
    "$tan",
    "$tanh",
    "$toBool",
    "$toDate",
    "$toDecimal",
    "$toDouble",
    "$toInt",
    "$toLong",
    "$toLower",
    "$toObjectId",
    "$toString",
    "$toUpper",
    "$trim",
    "$trunc",
    "$tsIncrement",
    "$tsSecond",
    "$type",
    "$unsetField",
    "$week",
    "$year",
    "$zip",
];
/// Extended JSON wrappers, which are values, not operators.
const EJSON: &[&str] = &[
    "$oid",
    "$date",
    "$numberInt",
    "$numberLong",
    "$numberDouble",
    "$numberDecimal",
    "$binary",
    "$timestamp",
    "$regularExpression",
    "$symbol",
    "$code",
    "$minKey",
    "$maxKey",
    "$undefined",
    "$dbPointer",
    "$uuid",
];

fn unknown(p: &JsonPath, key: &str, what: &str, known: &[&str], out: &mut Vec<Problem>) {
    if JAVASCRIPT.contains(&key) {
        out.push((
            p.key(key),
            format!("{key} runs JavaScript on the server; migrations are declarative (use an aggregation expression)"),
        ));
        return;
    }
    let hint = did_you_mean(key, known.iter().copied())
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    out.push((p.key(key), format!("unknown {what} \"{key}\"{hint}")));
}

fn is_ejson(map: &Map<String, Value>) -> bool {
    map.keys()
        .next()
        .is_some_and(|k| EJSON.contains(&k.as_str()))
}

/// A query filter (`find`'s first argument).
pub fn check_filter(v: &Value, p: &JsonPath, out: &mut Vec<Problem>) {
    let Some(map) = v.as_object() else {
        out.push((p.clone(), "expected a query filter (an object)".into()));
        return;
    };
    for (k, val) in map {
        let kp = p.key(k);
        if let Some(op) = k.strip_prefix('$').map(|_| k.as_str()) {
            match op {
                "$and" | "$or" | "$nor" => match val.as_array() {
                    Some(items) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            check_filter(item, &kp.index(i), out);
                        }
                    }
                    _ => out.push((kp, format!("{op} takes a non-empty array of filters"))),
                },
                "$expr" => check_expression(val, &kp, out),
                "$jsonSchema" | "$text" => {
                    if !val.is_object() {
                        out.push((kp, format!("{op} takes an object")));
                    }
                }
                "$comment" => {}
                _ => unknown(p, k, "query operator", QUERY_TOP, out),
            }
        } else {
            check_field_condition(val, &kp, out);
        }
    }
}

/// The value a field is matched against: a literal, or an object of field operators.
fn check_field_condition(v: &Value, p: &JsonPath, out: &mut Vec<Problem>) {
    let Some(map) = v.as_object() else { return };
    if is_ejson(map) || !map.keys().any(|k| k.starts_with('$')) {
        return;
    }
    for (k, val) in map {
        if !k.starts_with('$') {
            out.push((
                p.key(k),
                format!("\"{k}\" mixed with operators: a condition is either all operators or a literal document"),
            ));
            continue;
        }
        let kp = p.key(k);
        match k.as_str() {
            "$not" => check_field_condition(val, &kp, out),
            "$elemMatch" => check_filter(val, &kp, out),
            "$in" | "$nin" | "$all" if !val.is_array() => {
                out.push((kp, format!("{k} takes an array")))
            }
            "$exists" if !val.is_boolean() && !val.is_number() => {
                out.push((kp, "$exists takes true or false".into()))
            }
            _ if QUERY_FIELD.contains(&k.as_str()) => {}
            _ => unknown(p, k, "query operator", QUERY_FIELD, out),
        }
    }
}

/// An update document of operators (`{$set: {...}, $unset: {...}}`).
pub fn check_update_operators(v: &Value, p: &JsonPath, out: &mut Vec<Problem>) {
    let Some(map) = v.as_object() else {
        out.push((p.clone(), "expected update operators (an object)".into()));
        return;
    };
    if map.is_empty() {
        out.push((p.clone(), "an update needs at least one operator".into()));
    }
    for (k, val) in map {
        let kp = p.key(k);
        if !k.starts_with('$') {
            out.push((
                kp,
                format!("\"{k}\" is not an update operator: a migration changes fields with operators ($set, $unset, …) or a pipeline, it never replaces whole documents"),
            ));
            continue;
        }
        if !UPDATE_OPERATORS.contains(&k.as_str()) {
            unknown(p, k, "update operator", UPDATE_OPERATORS, out);
            continue;
        }
        match val.as_object() {
            Some(fields) if !fields.is_empty() => {
                for (f, fv) in fields {
                    if f.starts_with('$') {
                        out.push((kp.key(f), format!("\"{f}\" is not a field name")));
                    }
                    if k == "$rename" && !fv.is_string() {
                        out.push((
                            kp.key(f),
                            "$rename maps a field to its new name (a string)".into(),
                        ));
                    }
                    if k == "$pull" {
                        check_field_condition(fv, &kp.key(f), out);
                    }
                }
            }
            _ => out.push((kp, format!("{k} takes a non-empty object of fields"))),
        }
    }
}

/// An update pipeline (an array of `$set`/`$unset`/… stages).
pub fn check_update_pipeline(items: &[Value], p: &JsonPath, out: &mut Vec<Problem>) {
    if items.is_empty() {
        out.push((
            p.clone(),
            "an update pipeline needs at least one stage".into(),
        ));
    }
    for (i, stage) in items.iter().enumerate() {
        let sp = p.index(i);
        let Some(map) = stage.as_object().filter(|m| m.len() == 1) else {
            out.push((
                sp,
                "a pipeline stage is an object with exactly one $stage field".into(),
            ));
            continue;
        };
        let (name, body) = map.iter().next().expect("one key");
        if !UPDATE_STAGES.contains(&name.as_str()) {
            unknown(&sp, name, "update pipeline stage", UPDATE_STAGES, out);
            continue;
        }
        let bp = sp.key(name);
        match name.as_str() {
            "$unset" => {
                let ok = body.is_string()
                    || body
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
                if !ok {
                    out.push((
                        bp,
                        "$unset takes a field name or an array of field names".into(),
                    ));
                }
            }
            "$replaceRoot" => match body.as_object().and_then(|m| m.get("newRoot")) {
                Some(e) => check_expression(e, &bp.key("newRoot"), out),
                None => out.push((bp, "$replaceRoot takes {\"newRoot\": <expression>}".into())),
            },
            "$replaceWith" => check_expression(body, &bp, out),
            _ => match body.as_object() {
                Some(fields) if !fields.is_empty() => {
                    for (f, e) in fields {
                        check_expression(e, &bp.key(f), out);
                    }
                }
                _ => out.push((bp, format!("{name} takes a non-empty object of fields"))),
            },
        }
    }
}

/// An aggregation expression: every `$operator` key must be one the server knows.
pub fn check_expression(v: &Value, p: &JsonPath, out: &mut Vec<Problem>) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_expression(item, &p.index(i), out);
            }
        }
        Value::Object(map) if is_ejson(map) => {}
        Value::Object(map) => {
            let ops: Vec<&String> = map.keys().filter(|k| k.starts_with('$')).collect();
            if ops.is_empty() {
                // A document of expressions.
                for (k, e) in map {
                    check_expression(e, &p.key(k), out);
                }
                return;
            }
            if map.len() > 1 {
                out.push((
                    p.clone(),
                    "an expression object holds exactly one $operator".into(),
                ));
                return;
            }
            let op = ops[0].as_str();
            if op == "$literal" {
                return;
            }
            if !EXPRESSIONS.contains(&op) {
                unknown(p, op, "aggregation operator", EXPRESSIONS, out);
                return;
            }
            check_expression(&map[op], &p.key(op), out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(f: fn(&Value, &JsonPath, &mut Vec<Problem>), v: Value) -> Vec<String> {
        let mut out = Vec::new();
        f(&v, &JsonPath::root(), &mut out);
        out.into_iter().map(|(p, m)| format!("{p}: {m}")).collect()
    }

    #[test]
    fn filters_accept_real_queries() {
        let v = json!({"a": {"$exists": true, "$not": {"$type": "string"}},
                       "$or": [{"b": 1}, {"c": {"$in": [1, 2]}}],
                       "d": {"x": 1}, "e": {"$date": "2020-01-01T00:00:00Z"},
                       "$expr": {"$gt": ["$a", {"$toInt": "$b"}]}});
        assert_eq!(problems(check_filter, v), Vec::<String>::new());
    }

    #[test]
    fn filters_name_the_misspelt_operator() {
        let p = problems(check_filter, json!({"a": {"$exist": true}}));
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains("a.$exist") && p[0].contains("did you mean \"$exists\""),
            "{p:?}"
        );
        let p = problems(check_filter, json!({"$where": "this.a > 1"}));
        assert!(p[0].contains("JavaScript"), "{p:?}");
        let p = problems(check_filter, json!({"$or": []}));
        assert!(p[0].contains("non-empty array"), "{p:?}");
    }

    #[test]
    fn updates_need_operators() {
        assert!(
            problems(
                check_update_operators,
                json!({"$set": {"a": 1}, "$unset": {"b": ""}})
            )
            .is_empty()
        );
        let p = problems(check_update_operators, json!({"name": "x"}));
        assert!(p[0].contains("never replaces whole documents"), "{p:?}");
        let p = problems(check_update_operators, json!({"$sett": {"a": 1}}));
        assert!(p[0].contains("did you mean \"$set\""), "{p:?}");
        let p = problems(check_update_operators, json!({"$rename": {"a": 1}}));
        assert!(p[0].contains("new name"), "{p:?}");
    }

    #[test]
    fn pipelines_allow_only_update_stages_and_known_expressions() {
        let mut out = Vec::new();
        let ok = json!([{"$set": {"n": {"$convert": {"input": "$n", "to": "int", "onError": null}}}},
                        {"$unset": ["old"]}, {"$replaceWith": {"$mergeObjects": ["$$ROOT", {"a": 1}]}}]);
        check_update_pipeline(ok.as_array().unwrap(), &JsonPath::root(), &mut out);
        assert!(out.is_empty(), "{out:?}");
        let bad = json!([{"$match": {"a": 1}}, {"$set": {"n": {"$toInteger": "$n"}}}, {"$set": {"f": {"$function": {}}}}]);
        check_update_pipeline(bad.as_array().unwrap(), &JsonPath::root(), &mut out);
        let msgs: Vec<String> = out.iter().map(|(p, m)| format!("{p}: {m}")).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("$match") && msgs[0].contains("update pipeline stage"));
        assert!(msgs[1].contains("$toInteger") && msgs[1].contains("did you mean"));
        assert!(msgs[2].contains("JavaScript"));
    }
}
