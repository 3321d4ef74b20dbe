//! `init [DIR]`: starts a workspace. Without `--from-cluster` it scaffolds a manifest and one
//! domain (asking on a terminal, or from flags with `--yes`); with it, it writes the workspace
//! of an existing cluster (see `export.rs`). It never overwrites a file without `--force`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use crate::context::Ctx;
use crate::exit::{ERROR, SUCCESS};
use crate::export::{self, ExportFile, ExportOptions};
use crate::live;
use crate::render;
use crate::spec::{self, MANIFEST_FILE};

#[derive(Args, Debug, Clone)]
pub struct InitArgs {
    /// Directory of the new workspace (created if missing; default: --spec, i.e. `.`)
    pub dir: Option<PathBuf>,
    /// Export the workspace of a live cluster (--uri / MONGODB_URI) instead of scaffolding
    #[arg(long)]
    pub from_cluster: bool,
    /// Project name written to the manifest (default: the directory's name)
    #[arg(long)]
    pub project: Option<String>,
    /// Scaffold: the first domain's name
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// Scaffold: the domain's database. --from-cluster: the databases to export (repeatable or comma-separated)
    #[arg(long = "database", value_delimiter = ',', value_name = "NAME")]
    pub databases: Vec<String>,
    /// --from-cluster: export every database whose name starts with PREFIX (domains are named without it)
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Scaffold: the domain's collections (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub collections: Vec<String>,
    /// --from-cluster: documents sampled ($sample) to draft a schema for collections without a validator (0: no drafts)
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub sample: usize,
    /// --from-cluster: also write these collections' documents as seed files (DATABASE.COLLECTION, repeatable)
    #[arg(long, value_delimiter = ',', value_name = "NS")]
    pub seeds: Vec<String>,
    /// Seed files in canonical Extended JSON (default: relaxed)
    #[arg(long)]
    pub canonical: bool,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: InitArgs, ctx: &Ctx) -> Result<u8> {
    let dir = args.dir.clone().unwrap_or_else(|| ctx.global.spec.clone());
    if args.from_cluster {
        from_cluster(args, &dir, ctx).await
    } else {
        scaffold(args, &dir, ctx).await
    }
}

fn default_project(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .or_else(|| Some(dir.to_path_buf()))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let s = export::domain_name(&name, None);
    if s == "db_" { "project".into() } else { s }
}

fn refuse_overwrite(dir: &Path, files: &[ExportFile], force: bool) -> Result<()> {
    let existing = export::existing(dir, files);
    if !existing.is_empty() && !force {
        let list: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{} file(s) already exist in {}: {} — nothing was written; pass --force to overwrite",
            existing.len(),
            dir.display(),
            list.join(", ")
        );
    }
    Ok(())
}

/// The answers that shape a scaffold.
struct Answers {
    project: String,
    domain: String,
    database: String,
    collections: Vec<String>,
}

async fn scaffold(args: InitArgs, dir: &Path, ctx: &Ctx) -> Result<u8> {
    if args.databases.len() > 1 {
        bail!(
            "--database: a scaffold has one domain, hence one database (several are for --from-cluster)"
        );
    }
    if args.prefix.is_some() || !args.seeds.is_empty() {
        bail!("--prefix and --seeds need --from-cluster");
    }
    let project = args.project.clone().unwrap_or_else(|| default_project(dir));
    let domain = args.domain.clone().unwrap_or_else(|| "app".into());
    let defaults = Answers {
        database: args
            .databases
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{project}_{domain}")),
        collections: if args.collections.is_empty() {
            vec!["items".into()]
        } else {
            args.collections.clone()
        },
        project,
        domain,
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let answers = if ctx.global.yes {
        defaults
    } else if interactive {
        tokio::task::spawn_blocking(move || ask(defaults)).await??
    } else if args.project.is_some() || args.domain.is_some() || !args.collections.is_empty() {
        // Flags without a terminal: take them, defaults for the rest.
        defaults
    } else {
        bail!(
            "init asks its questions on a terminal and there is none: pass --yes to accept the defaults, or give --project, --domain, --database and --collections"
        );
    };
    check_answers(&answers)?;
    let files = scaffold_files(&answers);
    refuse_overwrite(dir, &files, args.force)?;
    export::write_files(dir, &files)?;
    if !ctx.global.quiet {
        render::init::scaffolded(
            dir,
            &render::init::Scaffolded {
                project: &answers.project,
                domain: &answers.domain,
                database: &answers.database,
                collections: answers.collections.len(),
            },
            &files,
        );
    }
    Ok(SUCCESS)
}

fn ask(d: Answers) -> Result<Answers> {
    use dialoguer::Input;
    // The database follows the answers below unless --database named one.
    let derived = format!("{}_{}", d.project, d.domain);
    let project: String = Input::new()
        .with_prompt("Project name")
        .default(d.project)
        .interact_text()?;
    let domain: String = Input::new()
        .with_prompt("First domain (lower_case)")
        .default(d.domain)
        .interact_text()?;
    let database: String = Input::new()
        .with_prompt("Its database")
        .default(if d.database == derived {
            format!("{project}_{domain}")
        } else {
            d.database
        })
        .interact_text()?;
    let collections: String = Input::new()
        .with_prompt("Its collections (comma-separated)")
        .default(d.collections.join(","))
        .interact_text()?;
    Ok(Answers {
        project,
        domain,
        database,
        collections: collections
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    })
}

fn check_answers(a: &Answers) -> Result<()> {
    if a.project.trim().is_empty() {
        bail!("the project name must not be empty");
    }
    if export::domain_name(&a.domain, None) != a.domain {
        bail!(
            "domain \"{}\" is not a valid domain name (lower-case letters, digits and _, starting with a letter)",
            a.domain
        );
    }
    if let Some(p) = spec::manifest::database_name_problem(&a.database) {
        bail!("{p}");
    }
    if a.collections.is_empty() {
        bail!("declare at least one collection");
    }
    for c in &a.collections {
        if c.contains('$') || c.starts_with("system.") {
            bail!("\"{c}\" is not a usable collection name");
        }
        if let Some(p) = export::spec_file_problem(c) {
            bail!("\"{c}\" is not a usable collection name: {p}");
        }
    }
    Ok(())
}

fn scaffold_files(a: &Answers) -> Vec<ExportFile> {
    let env_var = format!("DB_NAME_{}", a.domain.to_uppercase());
    let collections: Map<String, Value> = a
        .collections
        .iter()
        .map(|c| {
            (
                c.clone(),
                json!({"validationLevel": "strict", "validationAction": "error"}),
            )
        })
        .collect();
    let manifest = json!({
        "project": a.project,
        "defaultEnvironment": "dev",
        "environments": {
            "dev": {"uriEnv": "MONGODB_LOCAL_URI", "description": "Local MongoDB (mongoctl sandbox up)"}
        },
        "domains": {
            a.domain.clone(): {
                "database": a.database,
                "databaseEnv": env_var,
                "description": format!("The {} domain", a.domain),
                "collections": collections
            }
        }
    });
    let mut files = vec![ExportFile {
        path: PathBuf::from(MANIFEST_FILE),
        json: manifest,
        draft: false,
    }];
    for c in &a.collections {
        let base = |kind: &str| Path::new(kind).join(&a.domain).join(format!("{c}.json"));
        files.push(ExportFile {
            path: base("schemas"),
            json: json!({
                "bsonType": "object",
                "required": ["created_at"],
                "properties": {
                    "_id": {"bsonType": "objectId"},
                    "created_at": {"bsonType": "date", "description": "when the document was created"}
                }
            }),
            draft: false,
        });
        files.push(ExportFile {
            path: base("indexes"),
            json: json!({"indexes": [{"key": {"created_at": -1}}]}),
            draft: false,
        });
    }
    files
}

async fn from_cluster(args: InitArgs, dir: &Path, ctx: &Ctx) -> Result<u8> {
    if args.databases.is_empty() && args.prefix.is_none() {
        bail!(
            "--from-cluster needs the databases to export: --database NAME (repeatable) or --prefix PREFIX"
        );
    }
    if args.domain.is_some() || !args.collections.is_empty() {
        bail!(
            "--domain and --collections are for scaffolding; --from-cluster names domains after the databases"
        );
    }
    let (client, uri) = ctx.connect(None).await?;
    let existing = live::existing_databases(&client).await?;
    let mut names: Vec<String> = Vec::new();
    for d in &args.databases {
        if !existing.contains(d) {
            bail!("--database {d}: no such database on {}", uri.shown);
        }
        names.push(d.clone());
    }
    if let Some(p) = &args.prefix {
        let matched: Vec<&String> = existing
            .iter()
            .filter(|d| {
                d.starts_with(p.as_str()) && !["admin", "local", "config"].contains(&d.as_str())
            })
            .collect();
        if matched.is_empty() {
            bail!("--prefix {p}: no database on {} starts with it", uri.shown);
        }
        names.extend(matched.into_iter().cloned());
    }
    names.sort();
    names.dedup();
    let mut databases: Vec<(String, String)> = Vec::new();
    for name in names {
        let base = export::domain_name(&name, args.prefix.as_deref());
        let mut domain = base.clone();
        let mut n = 2;
        while databases.iter().any(|(d, _)| *d == domain) {
            domain = format!("{base}_{n}");
            n += 1;
        }
        databases.push((domain, name));
    }
    let opts = ExportOptions {
        project: args.project.clone().unwrap_or_else(|| default_project(dir)),
        sample: args.sample,
        seeds: args.seeds.clone(),
        canonical: args.canonical,
    };
    let exported = export::export(&client, &databases, &opts).await?;
    refuse_overwrite(dir, &exported.files, args.force)?;
    export::write_files(dir, &exported.files)?;

    // The exported workspace must pass `check`; say so loudly when it does not.
    let loaded = spec::load(dir);
    let problems = loaded.errors();
    if ctx.json() {
        render::init::exported_json(dir, &exported, problems);
    } else if !ctx.global.quiet {
        render::init::exported(dir, &exported, &uri.shown);
    }
    if problems > 0 {
        render::init::export_rejected(&loaded.diagnostics, problems);
        return Ok(ERROR);
    }
    Ok(SUCCESS)
}
