//! `verify`: the CI gate in one command. It runs `check` (exit 1 on an error), then compares
//! the cluster with the spec like `plan` (drift), then counts, for every validated collection,
//! the documents already stored that violate the declared `$jsonSchema` and explains a few of
//! them field by field with the offline validator. Exit 2 on drift or violations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bson::{Document, doc};
use clap::Args;
use futures::TryStreamExt;
use mongodb::Client;
use serde::Serialize;

use crate::context::Ctx;
use crate::diff::{self, Action, Change, Plan};
use crate::exit::{CHANGES_PENDING, ERROR, SUCCESS};
use crate::flags::{OutputFormat, ScopeArgs};
use crate::jsonpath::{JsonPath, Seg};
use crate::live;
use crate::model::{ClusterState, to_json};
use crate::render;
use crate::spec::source::SourceFile;
use crate::spec::{self, Diagnostic, MANIFEST_FILE, Workspace};

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Violating documents to explain per collection (the count is always exact)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub samples: usize,
    /// Skip the data step (it reads every validated collection once)
    #[arg(long)]
    pub no_data: bool,
}

/// Data conformance of one validated collection.
#[derive(Debug, Clone, Serialize)]
pub struct Conformance {
    pub domain: String,
    pub database: String,
    pub collection: String,
    /// The schema file, relative to the workspace.
    pub schema_file: String,
    /// Documents matching `{$nor: [{$jsonSchema: <declared schema>}]}`.
    pub violating: u64,
    /// Why the collection was not checked (it does not exist yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub samples: Vec<Sample>,
}

/// One violating document and every reason the offline validator gives for it.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    #[serde(rename = "_id")]
    pub id: serde_json::Value,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// Where in the document (`$` for the document itself).
    pub path: String,
    /// The schema keyword that fails (`required`, `bsonType`, `enum`, …).
    pub keyword: String,
    pub message: String,
    /// The line of the schema file that states the failing rule.
    pub schema_line: usize,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    check: CheckPart<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<&'a Plan>,
    conformance: &'a [Conformance],
    violating_documents: u64,
}

#[derive(Serialize)]
struct CheckPart<'a> {
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

pub async fn run(args: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    let result = verify(args, ctx).await;
    if ctx.global.output == OutputFormat::Github
        && let Err(e) = &result
        && e.downcast_ref::<crate::exit::Reported>().is_none()
    {
        let msg = crate::redact::scrub(&format!("{e:#}"));
        println!("::error title=mongoctl verify::{}", escape_data(&msg));
    }
    result
}

async fn verify(args: VerifyArgs, ctx: &Ctx) -> Result<u8> {
    let format = ctx.global.output;
    // 1. check
    let loaded = spec::load(&ctx.global.spec);
    let errors = loaded.errors();
    let warnings = loaded.diagnostics.len() - errors;
    let check = CheckPart {
        errors,
        warnings,
        diagnostics: &loaded.diagnostics,
    };
    let ws = match loaded.workspace {
        Some(ws) if errors == 0 => ws,
        _ => {
            match format {
                OutputFormat::Json => render::json(&Report {
                    ok: false,
                    check,
                    drift: None,
                    conformance: &[],
                    violating_documents: 0,
                }),
                OutputFormat::Github => {
                    for d in &loaded.diagnostics {
                        println!("{}", annotate_diagnostic(&ctx.global.spec, d));
                    }
                    println!("verify FAILED: check found {errors} error(s)");
                }
                OutputFormat::Table => {
                    for d in &loaded.diagnostics {
                        println!("{d}");
                    }
                    println!(
                        "verify FAILED: check found {errors} error(s); the cluster was not inspected"
                    );
                }
            }
            return Ok(ERROR);
        }
    };

    // 2. drift
    let domains = ctx.domains(&ws, &args.scope.domain)?;
    let desired = ctx.desired(&ws, &domains)?;
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let live = live::inspect(&client, &desired).await?;
    let plan = diff::diff(&desired, &live, false);

    // 3. data conformance
    let conformance = if args.no_data {
        Vec::new()
    } else {
        conformance(&client, &ws, &desired, &live, args.samples).await?
    };
    let violating: u64 = conformance.iter().map(|c| c.violating).sum();
    let ok = plan.is_empty() && violating == 0;

    match format {
        OutputFormat::Json => render::json(&Report {
            ok,
            check,
            drift: Some(&plan),
            conformance: &conformance,
            violating_documents: violating,
        }),
        OutputFormat::Github => {
            for d in &loaded.diagnostics {
                println!("{}", annotate_diagnostic(&ctx.global.spec, d));
            }
            let domain_of: BTreeMap<&str, &str> = desired
                .databases
                .iter()
                .map(|d| (d.name.as_str(), d.domain.as_str()))
                .collect();
            let manifest = SourceFile::read(&ws.root, Path::new(MANIFEST_FILE))
                .ok()
                .map(|(s, _)| s);
            for c in &plan.changes {
                println!(
                    "{}",
                    annotate_change(&ctx.global.spec, manifest.as_ref(), &domain_of, c)
                );
            }
            for c in conformance.iter().filter(|c| c.violating > 0) {
                println!("{}", annotate_conformance(&ctx.global.spec, c));
            }
            println!("{}", summary(&plan, &conformance, !args.no_data));
        }
        OutputFormat::Table => {
            for d in &loaded.diagnostics {
                println!("{d}");
            }
            if !ctx.global.quiet {
                println!(
                    "check ok: {} file(s), 0 error(s), {warnings} warning(s)",
                    loaded.files
                );
            }
            if plan.is_empty() {
                if !ctx.global.quiet {
                    println!("drift: none, the cluster matches the spec.");
                }
            } else {
                println!("drift:");
                render::plan(&plan, false, ctx.global.verbose > 0);
            }
            conformance_table(&conformance, ctx.global.quiet);
            println!("{}", summary(&plan, &conformance, !args.no_data));
        }
    }
    Ok(if ok { SUCCESS } else { CHANGES_PENDING })
}

/// Counts and explains the documents of every declared, validated, existing collection that
/// do not satisfy the declared schema.
pub async fn conformance(
    client: &Client,
    ws: &Workspace,
    desired: &ClusterState,
    live: &ClusterState,
    samples: usize,
) -> Result<Vec<Conformance>> {
    let mut out = Vec::new();
    for db in &desired.databases {
        for coll in &db.collections {
            let key = (db.domain.clone(), coll.name.clone());
            let (Some(schema), Some(validator)) = (ws.schemas.get(&key), &coll.validator) else {
                continue;
            };
            let mut c = Conformance {
                domain: db.domain.clone(),
                database: db.name.clone(),
                collection: coll.name.clone(),
                schema_file: slash_path(&schema.rel),
                violating: 0,
                skipped: None,
                samples: Vec::new(),
            };
            let exists = live
                .database(&db.name)
                .and_then(|d| d.collection(&coll.name))
                .is_some_and(|l| !l.is_view);
            if !exists {
                c.skipped = Some("the collection does not exist yet".into());
                out.push(c);
                continue;
            }
            let ns = format!("{}.{}", db.name, coll.name);
            let handle = client.database(&db.name).collection::<Document>(&coll.name);
            let filter = doc! {"$nor": [{"$jsonSchema": validator.clone()}]};
            c.violating = handle
                .count_documents(filter.clone())
                .await
                .with_context(|| format!("counting documents of {ns} that violate its schema"))?;
            if c.violating > 0 && samples > 0 {
                let docs: Vec<Document> = handle
                    .find(filter)
                    .sort(doc! {"_id": 1})
                    .limit(samples as i64)
                    .await
                    .with_context(|| format!("reading violating documents of {ns}"))?
                    .try_collect()
                    .await
                    .with_context(|| format!("reading violating documents of {ns}"))?;
                let source = SourceFile::read(&ws.root, &schema.rel).ok().map(|(s, _)| s);
                for d in &docs {
                    c.samples
                        .push(explain(&schema.compiled, source.as_ref(), d));
                }
            }
            out.push(c);
        }
    }
    Ok(out)
}

fn explain(
    schema: &crate::jsonschema::CompiledSchema,
    source: Option<&SourceFile>,
    d: &Document,
) -> Sample {
    let mut reasons: Vec<Reason> = schema
        .validate(d)
        .into_iter()
        .map(|v| Reason {
            schema_line: source.map_or(1, |s| s.locate(&schema_path(&v.path, v.keyword)).0),
            path: v.path.to_string(),
            keyword: v.keyword.to_string(),
            message: v.message,
        })
        .collect();
    if reasons.is_empty() {
        reasons.push(Reason {
            path: "$".into(),
            keyword: "?".into(),
            message: "the server rejects this document but the offline validator finds no reason"
                .into(),
            schema_line: 1,
        });
    }
    Sample {
        id: d.get("_id").map(to_json).unwrap_or(serde_json::Value::Null),
        reasons,
    }
}

/// Where the rule for a document path lives in the schema: `a.b[0]` → `properties.a.properties.b.items`,
/// then the keyword. `locate` falls back to the nearest existing parent.
pub fn schema_path(doc_path: &JsonPath, keyword: &str) -> JsonPath {
    let mut p = JsonPath::root();
    for seg in &doc_path.0 {
        p = match seg {
            Seg::Key(k) => p.key("properties").key(k.as_str()),
            Seg::Index(_) => p.key("items"),
        };
    }
    p.key(keyword)
}

fn slash_path(p: &Path) -> String {
    // The root component is the empty segment before the first `/`, so an absolute path
    // reads `/a/b`, not `//a/b`.
    p.components()
        .map(|c| match c {
            std::path::Component::RootDir => String::new(),
            c => c.as_os_str().to_string_lossy().into_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A workspace file as the repository sees it (`--spec` joined, without a leading `./`).
fn repo_file(spec: &Path, rel: &Path) -> String {
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
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(
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
        Action::InsertSeeds | Action::UpdateSeed => "seeds",
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
            let p = match &c.collection {
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

fn conformance_table(conformance: &[Conformance], quiet: bool) {
    let rows: Vec<&Conformance> = conformance
        .iter()
        .filter(|c| !quiet || c.violating > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let mut t = render::table(&["collection", "schema", "violating", "reasons (samples)"]);
    for c in rows {
        let count = match &c.skipped {
            Some(_) => "not checked".to_string(),
            None => c.violating.to_string(),
        };
        let mut text = c.skipped.clone().unwrap_or_default();
        for s in &c.samples {
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
        if (c.samples.len() as u64) < c.violating {
            text.push_str(&format!(
                "\n… {} more",
                c.violating - c.samples.len() as u64
            ));
        }
        t.add_row(vec![
            format!("{}.{}", c.database, c.collection),
            c.schema_file.clone(),
            count,
            text,
        ]);
    }
    println!("{t}");
}

fn summary(plan: &Plan, conformance: &[Conformance], data: bool) -> String {
    let violating: u64 = conformance.iter().map(|c| c.violating).sum();
    let bad = conformance.iter().filter(|c| c.violating > 0).count();
    let checked = conformance.iter().filter(|c| c.skipped.is_none()).count();
    if plan.is_empty() && violating == 0 {
        return if data {
            format!("verify ok: spec clean, no drift, {checked} validated collection(s) conform.")
        } else {
            "verify ok: spec clean, no drift (data not checked: --no-data).".to_string()
        };
    }
    let mut parts = Vec::new();
    if !plan.is_empty() {
        parts.push(format!("{} change(s) pending (drift)", plan.changes.len()));
    }
    if violating > 0 {
        parts.push(format!(
            "{violating} document(s) in {bad} collection(s) violate their schema"
        ));
    }
    format!("verify FAILED: {}.", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_paths_follow_properties_and_items() {
        let p = JsonPath::root().key("a").index(2).key("b");
        assert_eq!(
            schema_path(&p, "bsonType").to_string(),
            "properties.a.items.properties.b.bsonType"
        );
        assert_eq!(
            schema_path(&JsonPath::root(), "required").to_string(),
            "required"
        );
    }

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
