//! The output of `verify`: a table report, one JSON document, or GitHub Actions annotations
//! (`::error file=…,line=…::…`) that point at the workspace file and line of each problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::conformance::{Conformance, Sample, slash_path};
use crate::flags::OutputFormat;
use crate::jsonpath::JsonPath;
use crate::plan::{Action, Change, Plan};
use crate::query_contract::verify::ContractCheck;
use crate::spec::source::SourceFile;
use crate::spec::{Diagnostic, Loaded, MANIFEST_FILE};
use crate::stats::TenantUsage;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    check: CheckPart<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<&'a Plan>,
    conformance: &'a [Conformance],
    violating_documents: u64,
    /// The tenants over quota (absent when the workspace declares no quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    over_quota: Option<&'a [TenantUsage]>,
    /// Every query contract with its winning plan and breaches.
    query_contracts: &'a [ContractCheck],
    breached_contracts: usize,
}

#[derive(Serialize)]
struct CheckPart<'a> {
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

impl<'a> CheckPart<'a> {
    fn of(loaded: &'a Loaded) -> Self {
        let errors = loaded.errors();
        CheckPart {
            errors,
            warnings: loaded.diagnostics.len() - errors,
            diagnostics: &loaded.diagnostics,
        }
    }
}

/// `check` found errors: the cluster was not inspected.
pub fn check_failed(format: OutputFormat, spec: &Path, loaded: &Loaded) {
    let errors = loaded.errors();
    match format {
        OutputFormat::Json => super::json(&Report {
            ok: false,
            check: CheckPart::of(loaded),
            drift: None,
            conformance: &[],
            violating_documents: 0,
            over_quota: None,
            query_contracts: &[],
            breached_contracts: 0,
        }),
        OutputFormat::Github => {
            for d in &loaded.diagnostics {
                println!("{}", annotate_diagnostic(spec, d));
            }
            println!("verify FAILED: check found {errors} error(s)");
        }
        OutputFormat::Table | OutputFormat::Prometheus => {
            for d in &loaded.diagnostics {
                println!("{d}");
            }
            println!("verify FAILED: check found {errors} error(s); the cluster was not inspected");
        }
    }
}

/// The whole verification as one JSON document.
pub fn json(
    loaded: &Loaded,
    plan: &Plan,
    conformance: &[Conformance],
    over_quota: Option<&[TenantUsage]>,
    contracts: &[ContractCheck],
) {
    let violating: u64 = conformance.iter().map(|c| c.violating).sum();
    let breached = contracts.iter().filter(|c| !c.ok()).count();
    super::json(&Report {
        ok: plan.is_empty()
            && violating == 0
            && over_quota.is_none_or(|o| o.is_empty())
            && breached == 0,
        check: CheckPart::of(loaded),
        drift: Some(plan),
        conformance,
        violating_documents: violating,
        over_quota,
        query_contracts: contracts,
        breached_contracts: breached,
    });
}

/// Where drift annotations point: the database → domain map of the spec and the manifest
/// (for the line of a collection's entry).
pub struct AnnotationSources<'a> {
    pub spec: &'a Path,
    pub domain_of: BTreeMap<&'a str, &'a str>,
    pub manifest: Option<SourceFile>,
}

/// One annotation per diagnostic, drift change and non-conforming collection, then the summary.
pub fn github(
    sources: &AnnotationSources,
    loaded: &Loaded,
    plan: &Plan,
    conformance: &[Conformance],
    over_quota: Option<&[TenantUsage]>,
    contracts: &[ContractCheck],
    data: bool,
) {
    for d in &loaded.diagnostics {
        println!("{}", annotate_diagnostic(sources.spec, d));
    }
    for c in &plan.changes {
        println!(
            "{}",
            annotate_change(
                sources.spec,
                sources.manifest.as_ref(),
                &sources.domain_of,
                c
            )
        );
    }
    for c in conformance.iter().filter(|c| c.violating > 0) {
        println!("{}", annotate_conformance(sources.spec, c));
    }
    for line in super::quotas::over_quota_lines(over_quota.unwrap_or(&[]).iter()) {
        println!(
            "::error title=mongoctl verify: over quota::{}",
            escape_data(&line)
        );
    }
    for c in contracts.iter().filter(|c| !c.ok()) {
        println!(
            "{}",
            annotation(
                "error",
                &repo_file(sources.spec, Path::new(&c.file)),
                c.line,
                None,
                "mongoctl verify: query contract breached",
                &super::query_contracts::breach_message(c),
            )
        );
    }
    println!(
        "{}",
        summary(plan, conformance, over_quota, contracts, data)
    );
}

/// Diagnostics, the check line, the drift (as a plan table), the conformance table and the
/// summary; `quiet` keeps only what is wrong.
#[allow(clippy::too_many_arguments)]
pub fn table(
    loaded: &Loaded,
    plan: &Plan,
    conformance: &[Conformance],
    over_quota: Option<&[TenantUsage]>,
    contracts: &[ContractCheck],
    data: bool,
    quiet: bool,
    verbose: bool,
) {
    for d in &loaded.diagnostics {
        println!("{d}");
    }
    if !quiet {
        println!(
            "check ok: {} file(s), 0 error(s), {} warning(s)",
            loaded.files,
            loaded.diagnostics.len() - loaded.errors()
        );
    }
    if plan.is_empty() {
        if !quiet {
            println!("drift: none, the cluster matches the spec.");
        }
    } else {
        println!("drift:");
        super::plan(plan, false, verbose);
    }
    conformance_table(conformance, quiet);
    match over_quota {
        Some([]) if !quiet => println!("quotas: every tenant within its quota."),
        Some(over) if !over.is_empty() => {
            println!("tenants over quota:");
            for line in super::quotas::over_quota_lines(over.iter()) {
                println!("  {line}");
            }
        }
        _ => {}
    }
    super::query_contracts::table(contracts, quiet);
    println!(
        "{}",
        summary(plan, conformance, over_quota, contracts, data)
    );
}

/// A failure of the command itself, as one annotation (with `-o github`).
pub fn github_error(message: &str) {
    println!("::error title=mongoctl verify::{}", escape_data(message));
}

/// A workspace file as the repository sees it (`--spec` joined, without a leading `./`).
pub(super) fn repo_file(spec: &Path, rel: &Path) -> String {
    repo_file_under(
        spec,
        rel,
        std::env::var_os("GITHUB_WORKSPACE")
            .as_deref()
            .map(Path::new),
    )
}

fn repo_file_under(spec: &Path, rel: &Path, checkout: Option<&Path>) -> String {
    let joined: PathBuf = if spec == Path::new(".") {
        rel.to_path_buf()
    } else {
        spec.join(rel)
    };
    // Annotations name files relative to the checkout; an absolute `--spec` inside it is
    // made relative to `GITHUB_WORKSPACE`.
    let joined = match checkout {
        Some(root) if joined.is_absolute() => joined
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or(joined),
        _ => joined,
    };
    let s = slash_path(&joined);
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Escapes an annotation message (`%`, CR, LF) as the GitHub Actions runner expects.
pub(super) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::level file=…,line=…::message` line (`health --check` uses it too).
pub(super) fn annotation(
    level: &str,
    file: &str,
    line: usize,
    col: Option<usize>,
    title: &str,
    msg: &str,
) -> String {
    let col = col.map(|c| format!(",col={c}")).unwrap_or_default();
    format!(
        "::{level} file={},line={}{col},title={}::{}",
        escape_property(file),
        line.max(1),
        escape_property(title),
        escape_data(msg)
    )
}

fn annotate_diagnostic(spec: &Path, d: &Diagnostic) -> String {
    let level = if d.is_error() { "error" } else { "warning" };
    let msg = if d.path.is_root() {
        d.message.clone()
    } else {
        format!("{}: {}", d.path, d.message)
    };
    annotation(
        level,
        &repo_file(spec, &d.file),
        d.line,
        (d.column > 0).then_some(d.column),
        "mongoctl check",
        &msg,
    )
}

/// The workspace file a drift change is about.
fn change_file(domain_of: &BTreeMap<&str, &str>, c: &Change) -> PathBuf {
    let (Some(domain), Some(coll)) = (domain_of.get(c.database.as_str()), &c.collection) else {
        return PathBuf::from(MANIFEST_FILE);
    };
    let kind = match c.action {
        Action::UpdateValidator => "schemas",
        Action::CreateIndex | Action::ModifyIndex | Action::ReplaceIndex | Action::DropIndex => {
            "indexes"
        }
        Action::InsertSeeds | Action::UpdateSeed | Action::DeleteSeed => "seeds",
        _ => return PathBuf::from(MANIFEST_FILE),
    };
    Path::new(kind).join(domain).join(format!("{coll}.json"))
}

fn target(c: &Change) -> String {
    match &c.collection {
        Some(coll) => format!("{}.{coll}", c.database),
        None => c.database.clone(),
    }
}

fn annotate_change(
    spec: &Path,
    manifest: Option<&SourceFile>,
    domain_of: &BTreeMap<&str, &str>,
    c: &Change,
) -> String {
    let mut msg = format!("drift: {} {}: {}", c.action.label(), target(c), c.summary);
    for d in c.details.iter().take(20) {
        msg.push_str("\n  ");
        msg.push_str(d);
    }
    let file = change_file(domain_of, c);
    // A manifest-level change points at the collection's (or domain's) entry.
    let line = match (manifest, domain_of.get(c.database.as_str())) {
        (Some(m), Some(domain)) if file == Path::new(MANIFEST_FILE) => {
            let p = JsonPath::root().key("domains").key(*domain);
            let is_view = matches!(
                c.action,
                Action::CreateView | Action::ModifyView | Action::ReplaceView | Action::DropView
            );
            let p = match &c.collection {
                Some(coll) if is_view => p.key("views").key(coll.as_str()),
                Some(coll) => p.key("collections").key(coll.as_str()),
                None => p,
            };
            m.locate(&p).0
        }
        _ => 1,
    };
    annotation(
        "error",
        &repo_file(spec, &file),
        line,
        None,
        "mongoctl verify: drift",
        &msg,
    )
}

fn annotate_conformance(spec: &Path, c: &Conformance) -> String {
    let mut msg = format!(
        "{} document(s) in {}.{} violate the declared $jsonSchema",
        c.violating, c.database, c.collection
    );
    for s in &c.samples {
        for r in &s.reasons {
            msg.push_str(&format!("\n  _id {}: {}", show_id(&s.id), r.message));
        }
    }
    let line = c
        .samples
        .first()
        .and_then(|s| s.reasons.first())
        .map_or(1, |r| r.schema_line);
    annotation(
        "error",
        &repo_file(spec, Path::new(&c.schema_file)),
        line,
        None,
        "mongoctl verify: documents violate the schema",
        &msg,
    )
}

/// A compact `_id` for people: the hex of an ObjectId, a string as is, anything else as JSON.
fn show_id(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::Object(m) if m.len() == 1 && m.contains_key("$oid") => {
            m["$oid"].as_str().unwrap_or_default().to_string()
        }
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Violating documents as `verify` shows them: each sample's `_id`, then its reasons one an
/// indented line, then how many of `total` are not shown. Also used by `plan` and `apply`.
pub fn samples_text(samples: &[Sample], total: u64) -> String {
    let mut text = String::new();
    for s in samples {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("_id {}", show_id(&s.id)));
        for r in &s.reasons {
            text.push_str(&format!(
                "\n  {} ({}, schema line {})",
                r.message, r.keyword, r.schema_line
            ));
        }
    }
    if (samples.len() as u64) < total {
        text.push_str(&format!("\n… {} more", total - samples.len() as u64));
    }
    text
}

fn conformance_table(conformance: &[Conformance], quiet: bool) {
    let rows: Vec<&Conformance> = conformance
        .iter()
        .filter(|c| !quiet || c.violating > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let mut t = super::table(&["collection", "schema", "violating", "reasons (samples)"]);
    for c in rows {
        let count = match &c.skipped {
            Some(_) => "not checked".to_string(),
            None => c.violating.to_string(),
        };
        let mut text = c.skipped.clone().unwrap_or_default();
        let samples = samples_text(&c.samples, c.violating);
        if !text.is_empty() && !samples.is_empty() {
            text.push('\n');
        }
        text.push_str(&samples);
        t.add_row(vec![
            format!("{}.{}", c.database, c.collection),
            c.schema_file.clone(),
            count,
            text,
        ]);
    }
    println!("{t}");
}

fn summary(
    plan: &Plan,
    conformance: &[Conformance],
    over_quota: Option<&[TenantUsage]>,
    contracts: &[ContractCheck],
    data: bool,
) -> String {
    let violating: u64 = conformance.iter().map(|c| c.violating).sum();
    let bad = conformance.iter().filter(|c| c.violating > 0).count();
    let checked = conformance.iter().filter(|c| c.skipped.is_none()).count();
    let over = over_quota.map_or(0, <[_]>::len);
    let breached = contracts.iter().filter(|c| !c.ok()).count();
    if plan.is_empty() && violating == 0 && over == 0 && breached == 0 {
        let met = if contracts.is_empty() {
            String::new()
        } else {
            format!(", {} query contract(s) met", contracts.len())
        };
        return if data {
            format!(
                "verify ok: spec clean, no drift, {checked} validated collection(s) conform{met}."
            )
        } else {
            format!("verify ok: spec clean, no drift{met} (data not checked: --no-data).")
        };
    }
    let mut parts = Vec::new();
    if !plan.changes.is_empty() {
        parts.push(format!("{} change(s) pending (drift)", plan.changes.len()));
    }
    if let Some(f) = plan.tenants.as_ref().filter(|f| f.has_changes()) {
        let drifting = f
            .changed
            .iter()
            .filter(|t| !t.plan.changes.is_empty())
            .count();
        parts.push(format!(
            "{} change(s) pending on {drifting} tenant(s)",
            f.change_count()
        ));
    }
    if !plan.migrations.is_empty() {
        parts.push(format!(
            "{} migration(s) not applied",
            plan.migrations.len()
        ));
    }
    if violating > 0 {
        parts.push(format!(
            "{violating} document(s) in {bad} collection(s) violate their schema"
        ));
    }
    if over > 0 {
        parts.push(format!("{over} tenant(s) over quota"));
    }
    if breached > 0 {
        parts.push(format!("{breached} query contract(s) breached"));
    }
    format!("verify FAILED: {}.", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_messages_and_properties() {
        let a = annotation(
            "error",
            "schemas/a,b.json",
            0,
            Some(3),
            "t: x",
            "50% bad\nnext",
        );
        assert_eq!(
            a,
            "::error file=schemas/a%2Cb.json,line=1,col=3,title=t%3A x::50%25 bad%0Anext"
        );
        assert_eq!(
            repo_file(Path::new("./ex"), Path::new("schemas/x.json")),
            "ex/schemas/x.json"
        );
        assert_eq!(
            repo_file(Path::new("."), Path::new("mongoctl.json")),
            "mongoctl.json"
        );
        // An absolute --spec: one leading slash, and relative to the checkout when inside it.
        assert_eq!(
            repo_file_under(Path::new("/w/ex"), Path::new("schemas/x.json"), None),
            "/w/ex/schemas/x.json"
        );
        assert_eq!(
            repo_file_under(
                Path::new("/w/ex"),
                Path::new("schemas/x.json"),
                Some(Path::new("/w"))
            ),
            "ex/schemas/x.json"
        );
        assert_eq!(
            repo_file_under(
                Path::new("/elsewhere/ex"),
                Path::new("a.json"),
                Some(Path::new("/w"))
            ),
            "/elsewhere/ex/a.json"
        );
    }
}
