//! `check`: the offline lint. Prints every diagnostic; exit 1 when any is an error. Besides
//! what `spec::load` finds, every query contract must be servable by a declared index.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::context::Ctx;
use crate::exit::{ERROR, SUCCESS};
use crate::query_contract::serve;
use crate::render;
use crate::spec::{self, Loaded};

#[derive(Args, Debug, Clone, Default)]
pub struct CheckArgs {}

pub fn run(_args: CheckArgs, ctx: &Ctx) -> Result<u8> {
    let loaded = load_with_contracts(&ctx.global.spec);
    let errors = loaded.errors();
    let warnings = loaded.diagnostics.len() - errors;
    if ctx.json() {
        render::diagnostics(&loaded.diagnostics, true);
    } else {
        for d in &loaded.diagnostics {
            println!("{d}");
        }
        if !ctx.global.quiet {
            let status = if errors == 0 { "ok" } else { "FAILED" };
            println!(
                "check {status}: {} file(s), {errors} error(s), {warnings} warning(s)",
                loaded.files
            );
        }
    }
    Ok(if errors == 0 && loaded.workspace.is_some() {
        SUCCESS
    } else {
        ERROR
    })
}

/// The workspace as `spec::load` reads it, plus an error for every query contract no declared
/// index can serve (`check` and `verify`; `plan` shows those as warnings instead).
pub(crate) fn load_with_contracts(root: &Path) -> Loaded {
    let mut loaded = spec::load(root);
    if let Some(ws) = &loaded.workspace {
        loaded
            .diagnostics
            .extend(serve::diagnostics(&ws.queries, &ws.indexes));
    }
    loaded
}
