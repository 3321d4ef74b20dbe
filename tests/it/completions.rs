//! `completions <shell>`, `man`, and an example in every subcommand's help.

use std::path::Path;

use crate::support::mongoctl;

const SUBCOMMANDS: &[&str] = &["check", "plan", "apply", "verify", "init", "sandbox"];

#[test]
fn every_shell_gets_a_completion_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = mongoctl(Path::new("."), &["completions", shell]).run();
        out.expect_code(0);
        assert!(out.stdout.len() > 500, "{shell}: {}", out.stdout);
        for sub in SUBCOMMANDS {
            assert!(out.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    // A usage error: 1, never 2 (which means drift).
    let bad = mongoctl(Path::new("."), &["completions", "tcsh"]).run();
    bad.expect_code(1);
}

#[test]
fn the_man_page_is_roff_and_names_the_commands() {
    let out = mongoctl(Path::new("."), &["man"]).run();
    out.expect_code(0);
    assert!(
        out.stdout.starts_with(".ie \\n(.g .ds Aq") || out.stdout.contains(".TH mongoctl"),
        "{}",
        &out.stdout[..200.min(out.stdout.len())]
    );
    assert!(out.stdout.contains(".TH mongoctl"));
    for sub in SUBCOMMANDS {
        assert!(out.stdout.contains(sub), "man page lacks {sub}");
    }
}

#[test]
fn every_subcommand_in_the_clap_tree_has_an_example() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Example:") {
                missing.push(path.join(" "));
            }
            walk(sub, path, missing);
            path.pop();
        }
    }
    let mut missing = Vec::new();
    walk(
        &mongoctl::cli::Cli::command(),
        &mut Vec::new(),
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "subcommands without an example: {missing:?}"
    );
    // And the binary shows it.
    let out = mongoctl(Path::new("."), &["verify", "--help"]).run();
    out.expect_code(0);
    assert!(
        out.stdout.contains("Example:\n  mongoctl verify"),
        "{}",
        out.stdout
    );
}
