//! `completions <shell>` and `man`: generated from the clap definitions, so they never go
//! stale when a flag is added.

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

use crate::context::Ctx;
use crate::exit::SUCCESS;

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to generate a completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `cli` is the whole command line (`Cli::command()`), passed in so this module does not
/// depend on the list of commands that includes it.
pub async fn run(args: CompletionsArgs, mut cli: clap::Command, _ctx: &Ctx) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "mongoctl", &mut out);
    Ok(SUCCESS)
}

/// The roff man page of `mongoctl` (synopsis, global options, every subcommand).
pub fn man_page(cli: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cli).render(&mut buf)?;
    Ok(buf)
}

pub async fn man(cli: clap::Command, _ctx: &Ctx) -> Result<u8> {
    use std::io::Write;
    let page = man_page(cli)?;
    let _ = std::io::stdout().lock().write_all(&page);
    Ok(SUCCESS)
}
