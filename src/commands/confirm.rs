//! The one confirmation prompt before destructive steps (`apply`, `restore --drop`,
//! `backup prune`): `--yes` skips it; without a terminal it refuses instead of waiting; the
//! question is asked off the async runtime. Each command says the refusal in its own words.

use std::io::IsTerminal;

use anyhow::{Context, Result};

use crate::exit::{ERROR, Reported};

/// How a confirmation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `--yes`, or answered yes.
    Yes,
    /// Not asked: stdin or stderr is not a terminal (CI, a pipe).
    NoTerminal,
    /// Asked and answered no.
    No,
}

/// Asks `question` (default no) unless `yes`.
pub async fn confirm(question: &str, yes: bool) -> Result<Answer> {
    if yes {
        return Ok(Answer::Yes);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(Answer::NoTerminal);
    }
    let prompt = question.to_string();
    let answer = tokio::task::spawn_blocking(move || {
        dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact()
    })
    .await?
    .context("reading the answer to the confirmation")?;
    Ok(if answer { Answer::Yes } else { Answer::No })
}

/// [`confirm`] for `restore --drop` and `backup prune`: a refusal is said on stderr and
/// returned as an error already reported.
pub async fn require(question: &str, yes: bool) -> Result<()> {
    match confirm(question, yes).await? {
        Answer::Yes => Ok(()),
        Answer::NoTerminal => {
            eprintln!(
                "error: {question} needs confirmation: pass --yes (there is no terminal to ask on)"
            );
            Err(Reported(ERROR).into())
        }
        Answer::No => {
            eprintln!("error: not confirmed; nothing was changed");
            Err(Reported(ERROR).into())
        }
    }
}
