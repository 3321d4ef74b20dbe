//! `check`: the offline lint. Prints every diagnostic; exit 1 when any is an error.

use anyhow::Result;
use clap::Args;

use crate::context::Ctx;
use crate::exit::{ERROR, SUCCESS};
use crate::render;
use crate::spec;

#[derive(Args, Debug, Clone, Default)]
pub struct CheckArgs {}

pub fn run(_args: CheckArgs, ctx: &Ctx) -> Result<u8> {
    let loaded = spec::load(&ctx.global.spec);
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
