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

#[cfg(test)]
mod tests {
    //! The editor schemas against what mongoctl reads: every workspace file in this repository
    //! (the default workspace and the examples) must match its schema, as an editor would check
    //! it, with an independent JSON Schema 2020-12 validator.

    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;

    const BASE: &str = "https://mongoctl.dev/spec-schema/";

    fn schema(kind: SchemaKind) -> Value {
        let (_, _, text) = SCHEMAS
            .iter()
            .find(|(k, _, _)| std::mem::discriminant(k) == std::mem::discriminant(&kind))
            .unwrap();
        serde_json::from_str(text).unwrap()
    }

    /// Validates against `kind`'s schema, resolving the schemas' references to each other
    /// offline; the errors as `FILE: /json/pointer: message`.
    fn errors(kind: SchemaKind, file: &Path, doc: &Value) -> Vec<String> {
        let mut registry = jsonschema::Registry::new();
        for (_, name, text) in SCHEMAS {
            let s: Value = serde_json::from_str(text).unwrap();
            registry = registry.add(format!("{BASE}{name}"), s).unwrap();
        }
        let registry = registry.prepare().unwrap();
        let validator = jsonschema::options()
            .offline()
            .with_registry(&registry)
            .build(&schema(kind))
            .unwrap();
        validator
            .iter_errors(doc)
            .map(|e| format!("{}: {}: {e}", file.display(), e.instance_path().as_str()))
            .collect()
    }

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                json_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }

    /// Every workspace in the repository: the root and each example.
    fn workspaces() -> Vec<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut out = vec![root.clone()];
        for e in std::fs::read_dir(root.join("examples")).unwrap() {
            let p = e.unwrap().path();
            if p.join(crate::spec::MANIFEST_FILE).is_file() {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn the_schemas_are_valid_json_schema_2020_12() {
        for (_, name, text) in SCHEMAS {
            let s: Value = serde_json::from_str(text).unwrap();
            assert_eq!(s["$id"], format!("{BASE}{name}"), "{name}");
            if let Err(e) = jsonschema::meta::validate(&s) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn every_workspace_file_in_the_repository_matches_its_schema() {
        let kinds = [
            ("indexes", SchemaKind::Indexes),
            ("seeds", SchemaKind::Seeds),
            ("migrations", SchemaKind::Migration),
            ("queries", SchemaKind::Queries),
        ];
        let mut checked = 0;
        let mut failures = Vec::new();
        let mut with_access = 0;
        for ws in workspaces() {
            let manifest = ws.join(crate::spec::MANIFEST_FILE);
            let mut files = vec![(manifest, SchemaKind::Manifest)];
            for (dir, kind) in kinds {
                let mut found = Vec::new();
                json_files(&ws.join(dir), &mut found);
                files.extend(found.into_iter().map(|f| (f, kind)));
            }
            for (file, kind) in files {
                let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                if matches!(kind, SchemaKind::Manifest)
                    && (doc.get("roles").is_some() || doc.get("users").is_some())
                {
                    with_access += 1;
                }
                failures.extend(errors(kind, &file, &doc));
                checked += 1;
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // The walk found the workspaces' files, and manifests that declare roles and users.
        assert!(checked > 50, "only {checked} files");
        assert!(with_access >= 3, "{with_access} manifests with roles/users");
    }

    #[test]
    fn roles_and_users_are_judged_not_just_allowed() {
        let doc = serde_json::json!({
            "project": "p",
            "domains": {},
            "roles": {
                "read": {"privileges": [{"resource": {"db": "x"}, "actions": ["find"]}]},
                "empty": {},
                "typo": {"privileges": [{"resource": {"cluster": true}, "actions": ["serverStatsu"]}]}
            },
            "users": {
                "literal": {"roles": [{"role": "read", "db": "x"}], "password": "hunter2"},
                "both": {"roles": [{"role": "read", "db": "x", "domain": "d"}], "password": {"generate": true}},
                "ok": {"roles": [{"role": "readWrite", "domain": "d"}], "password": {"env": "PW_{TENANT}"}, "purpose": "service"}
            }
        });
        let errs = errors(SchemaKind::Manifest, Path::new("m.json"), &doc);
        let at = |ptr: &str| {
            errs.iter()
                .any(|e| e.starts_with(&format!("m.json: {ptr}: ")))
        };
        assert!(at("/roles"), "a built-in role's name: {errs:#?}");
        assert!(at("/roles/empty"), "{errs:#?}");
        assert!(at("/roles/typo/privileges/0/actions/0"), "{errs:#?}");
        assert!(at("/users/literal/password"), "{errs:#?}");
        assert!(at("/users/both/roles/0"), "{errs:#?}");
        assert!(!errs.iter().any(|e| e.contains("/users/ok")), "{errs:#?}");
    }

    #[test]
    fn the_schemas_lists_are_the_readers_lists() {
        let m = schema(SchemaKind::Manifest);
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        let defs = &m["$defs"];
        let access = crate::spec::access::ACTIONS;
        assert_eq!(
            list(&defs["privilege"]["properties"]["actions"]["items"]["enum"]),
            access
        );
        assert_eq!(
            list(&defs["user"]["properties"]["mechanisms"]["items"]["enum"]),
            crate::spec::access::MECHANISMS
        );
        assert_eq!(
            list(&defs["user"]["properties"]["purpose"]["enum"]),
            crate::spec::access::PURPOSES
        );
        let builtin: Vec<&str> = crate::spec::access::DATABASE_ROLES
            .iter()
            .chain(crate::spec::access::ADMIN_ONLY_ROLES)
            .copied()
            .collect();
        assert_eq!(
            list(&m["properties"]["roles"]["propertyNames"]["not"]["enum"]),
            builtin
        );
        // Every threshold kind `check` reads has its key.
        let alerts = m["properties"]["alerts"]["properties"].as_object().unwrap();
        for kind in crate::alerts::Kind::ALL {
            assert!(alerts.contains_key(kind.key()), "{}", kind.key());
        }
    }
}
