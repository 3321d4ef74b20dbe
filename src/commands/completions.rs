//! `completions <shell>` and `man`: generated from the clap definitions, so they never go
//! stale when a flag is added.

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::context::Ctx;
use crate::exit::SUCCESS;

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to generate a completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub async fn run(args: CompletionsArgs, _ctx: &Ctx) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut Cli::command(), "mongoctl", &mut out);
    Ok(SUCCESS)
}

/// The roff man page of `mongoctl` (synopsis, global options, every subcommand).
pub fn man_page() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    Ok(buf)
}

pub async fn man(_ctx: &Ctx) -> Result<u8> {
    use std::io::Write;
    let page = man_page()?;
    let _ = std::io::stdout().lock().write_all(&page);
    Ok(SUCCESS)
}
