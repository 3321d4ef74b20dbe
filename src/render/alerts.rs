//! The output of `health --check`: one line per finding in the Nagios/Icinga plugin
//! convention (`WARNING - replication lag 12s >= 10s (member h:27018)`, or one `OK - …` line),
//! one JSON document, or GitHub Actions annotations on the manifest line of each threshold.

use std::path::Path;

use serde::Serialize;

use crate::alerts::{Evaluation, Finding, Severity};
use crate::jsonpath::JsonPath;
use crate::spec::MANIFEST_FILE;
use crate::spec::source::SourceFile;

/// The plugin status word of the whole evaluation.
pub fn status(ev: &Evaluation) -> &'static str {
    ev.worst().map(Severity::word).unwrap_or("OK")
}

/// The lines `health --check` prints.
pub fn lines_text(ev: &Evaluation) -> String {
    let mut out = String::new();
    if ev.findings.is_empty() {
        out.push_str(&format!(
            "OK - {} threshold(s) checked, none crossed",
            ev.checked.len()
        ));
        if !ev.not_applicable.is_empty() {
            let na: Vec<String> = ev
                .not_applicable
                .iter()
                .map(|(k, why)| format!("{} ({why})", k.label()))
                .collect();
            out.push_str(&format!("; not applicable: {}", na.join(", ")));
        }
        out.push('\n');
    }
    for f in &ev.findings {
        out.push_str(&line(f));
        out.push('\n');
    }
    out
}

fn line(f: &Finding) -> String {
    format!("{} - {}", f.severity.word(), f.message)
}

pub fn lines(ev: &Evaluation) {
    print!("{}", lines_text(ev));
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    status: &'static str,
    #[serde(flatten)]
    evaluation: &'a Evaluation,
}

pub fn json(ev: &Evaluation) {
    super::json(&Report {
        ok: ev.findings.is_empty(),
        status: status(ev),
        evaluation: ev,
    });
}

/// One annotation per finding on the line that declares its level, then the status line.
pub fn github(spec: &Path, manifest: Option<&SourceFile>, ev: &Evaluation) {
    print!("{}", github_text(spec, manifest, ev));
}

/// A failure of the check itself, as one annotation (with `-o github`).
pub fn github_error(message: &str) {
    println!(
        "::error title=mongoctl health::{}",
        super::verify::escape_data(message)
    );
}

fn github_text(spec: &Path, manifest: Option<&SourceFile>, ev: &Evaluation) -> String {
    let file = super::verify::repo_file(spec, Path::new(MANIFEST_FILE));
    let mut out = String::new();
    for f in &ev.findings {
        let mut p = JsonPath::root().key("alerts").key(f.kind.key());
        match f.severity {
            Severity::Critical => p = p.key("critical"),
            Severity::Warning => p = p.key("warn"),
            Severity::Unknown => {}
        }
        let (at, col) = manifest.map(|m| m.locate(&p)).unwrap_or((1, 0));
        let level = if f.severity == Severity::Warning {
            "warning"
        } else {
            "error"
        };
        out.push_str(&super::verify::annotation(
            level,
            &file,
            at,
            (col > 0).then_some(col),
            "mongoctl health",
            &line(f),
        ));
        out.push('\n');
    }
    if ev.findings.is_empty() {
        out.push_str(&lines_text(ev));
    } else {
        out.push_str(&format!(
            "{} - {} finding(s)\n",
            status(ev),
            ev.findings.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Kind;
    use crate::alerts::evaluate::Finding;

    fn finding(severity: Severity, kind: Kind, message: &str) -> Finding {
        Finding {
            severity,
            kind,
            subject: None,
            value: Some(1.0),
            threshold: Some(1.0),
            message: message.into(),
        }
    }

    #[test]
    fn clean_is_one_ok_line_naming_what_did_not_apply() {
        let ev = Evaluation {
            checked: vec![Kind::ReplicationLag, Kind::CacheDirty],
            not_applicable: vec![(Kind::ReplicationLag, "not a replica set".into())],
            findings: vec![],
        };
        assert_eq!(
            lines_text(&ev),
            "OK - 2 threshold(s) checked, none crossed; not applicable: replication lag (not a replica set)\n"
        );
        assert_eq!(status(&ev), "OK");
    }

    #[test]
    fn annotations_point_at_the_level_that_was_crossed() {
        let text = "{\n  \"alerts\": {\n    \"cacheDirtyPercent\": {\n      \"warn\": 5,\n      \"critical\": 20\n    }\n  }\n}";
        let (src, _) = SourceFile::parse(Path::new(MANIFEST_FILE), text.to_string()).unwrap();
        let ev = Evaluation {
            checked: vec![Kind::CacheDirty],
            not_applicable: vec![],
            findings: vec![
                finding(
                    Severity::Critical,
                    Kind::CacheDirty,
                    "cache dirty 30% >= 20%",
                ),
                finding(Severity::Warning, Kind::CacheDirty, "cache dirty 6% >= 5%"),
            ],
        };
        let out = github_text(Path::new("ws"), Some(&src), &ev);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[0].starts_with("::error file=ws/mongoctl.json,line=5,col=")
                && lines[0].ends_with("::CRITICAL - cache dirty 30%25 >= 20%25"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("::warning file=ws/mongoctl.json,line=4,"),
            "{out}"
        );
        assert_eq!(lines[2], "CRITICAL - 2 finding(s)");
    }
}
