//! `spec-schema`: the JSON Schemas of the workspace file kinds, for editor completion.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

use crate::context::Ctx;
use crate::exit::SUCCESS;

const SCHEMAS: [(SchemaKind, &str, &str); 5] = [
    (
        SchemaKind::Manifest,
        "manifest.schema.json",
        include_str!("../../spec-schema/manifest.schema.json"),
    ),
    (
        SchemaKind::Indexes,
        "indexes.schema.json",
        include_str!("../../spec-schema/indexes.schema.json"),
    ),
    (
        SchemaKind::Seeds,
        "seeds.schema.json",
        include_str!("../../spec-schema/seeds.schema.json"),
    ),
    (
        SchemaKind::Migration,
        "migration.schema.json",
        include_str!("../../spec-schema/migration.schema.json"),
    ),
    (
        SchemaKind::Queries,
        "queries.schema.json",
        include_str!("../../spec-schema/queries.schema.json"),
    ),
];

#[derive(Args, Debug, Clone)]
pub struct SpecSchemaArgs {
    /// Which schema to print
    #[arg(value_enum, default_value_t = SchemaKind::Manifest)]
    pub kind: SchemaKind,
    /// Write all schemas into DIR instead of printing one
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SchemaKind {
    Manifest,
    Indexes,
    Seeds,
    Migration,
    Queries,
}

pub fn run(args: SpecSchemaArgs, ctx: &Ctx) -> Result<u8> {
    match &args.write {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (_, file, text) in SCHEMAS {
                let path = dir.join(file);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                if !ctx.global.quiet {
                    println!("wrote {}", path.display());
                }
            }
        }
        None => {
            let (_, _, text) = SCHEMAS
                .iter()
                .find(|(k, _, _)| std::mem::discriminant(k) == std::mem::discriminant(&args.kind))
                .expect("every kind has a schema");
            print!("{text}");
        }
    }
    Ok(SUCCESS)
}
