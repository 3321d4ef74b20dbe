//! Every example the README and `--help` show, run as written (in README order, in a copy of
//! the repository's workspace, against a real replica set), so that none of them goes stale.
//!
//! What differs from a user's shell, and why: `MONGODB_URI` points at the test's server and
//! `--uri <host>` examples get its URI; `HOME` is a temporary directory holding the folders the
//! examples write into (`~/secrets`, bash-completion's); zsh's `${fpath[1]}` is that `HOME`
//! (the test runs `sh`); `--watch` examples are stopped with SIGINT (their documented Ctrl-C);
//! `import` examples read a PostgreSQL server the test starts, holding the CareChat example's
//! tables and sample rows (`examples/carechat/postgres/`), its password in `PGPASSWORD`.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use crate::common;
use crate::support::repo;

/// Examples that must fail as written, and the words their error must say.
const EXPECTED_ERRORS: &[(&str, &str)] = &[
    // `init` without --yes asks on a terminal; there is none here.
    ("mongoctl init my-spec", "terminal"),
];

/// Exit 2 is the documented answer of these (drift, findings, violations).
fn may_exit_2(line: &str) -> bool {
    [
        "--exit-code",
        "verify",
        "audit",
        "migrate status",
        "backup drill",
        "health --check",
    ]
    .iter()
    .any(|w| line.contains(w))
}

/// `mongoctl …` lines of the README's code blocks, in order, without their comments.
fn readme_examples() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let l = line.trim();
        if in_block && (l.starts_with("mongoctl ") || l.starts_with("eval \"$(mongoctl")) {
            out.push(strip_comment(l));
        }
    }
    out
}

/// The `Example:` lines of every subcommand's `--help`.
fn help_examples() -> Vec<String> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    let mut stack = vec![mongoctl::cli::Cli::command()];
    while let Some(mut cmd) = stack.pop() {
        let help = cmd.render_long_help().to_string();
        let mut in_examples = false;
        for line in help.lines() {
            if line.trim_start().starts_with("Example") {
                in_examples = true;
                continue;
            }
            let l = line.trim();
            if in_examples && (l.starts_with("mongoctl ") || l.starts_with("eval \"$(mongoctl")) {
                out.push(strip_comment(l));
            } else if in_examples && !l.is_empty() {
                in_examples = false;
            }
        }
        stack.extend(cmd.get_subcommands().cloned());
    }
    out
}

fn strip_comment(l: &str) -> String {
    match l.find("  #") {
        Some(i) => l[..i].trim_end().to_string(),
        None => l.to_string(),
    }
}

/// The PostgreSQL connection string the README's and `--help`'s import examples name.
const EXAMPLE_PG_URI: &str = "postgres://importer@localhost:5432/carechat";

fn as_run_here(example: &str, uri: &str, pg_uri: &str) -> String {
    let mut line = example
        .replace("\"${fpath[1]}", "\"$HOME")
        .replace(EXAMPLE_PG_URI, pg_uri);
    for host in ["mongodb://127.0.0.1:27017", "mongodb://host"] {
        line = line.replace(&format!("--uri {host}"), &format!("--uri '{uri}'"));
    }
    if line.contains("--watch") {
        line = format!("timeout --preserve-status -s INT 4 {line}");
    }
    line
}

#[tokio::test]
async fn every_readme_and_help_example_runs_as_written() {
    let server = common::replica_set(1).await;
    let pg = crate::pg_support::PgServer::start();
    let carechat_sql = repo().join("examples/carechat/postgres");
    for f in ["track1.sql", "track2.sql", "sample-data.sql"] {
        pg.exec(&std::fs::read_to_string(carechat_sql.join(f)).unwrap())
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let home = dir.path().join("home");
    for sub in ["secrets", ".local/share/bash-completion/completions"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    copy_tree(
        &repo(),
        &work,
        &[
            "mongoctl.json",
            "schemas",
            "indexes",
            "seeds",
            "migrations",
            "examples",
        ],
    );
    let bin_dir = crate::common::mongoctl_bin()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut seen = HashSet::new();
    let examples: Vec<String> = readme_examples()
        .into_iter()
        .chain(help_examples())
        .filter(|e| seen.insert(e.clone()))
        .collect();
    assert!(examples.len() > 40, "{examples:?}");
    let mut failures = Vec::new();
    for example in &examples {
        let line = as_run_here(example, &server.uri(), &pg.uri());
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&line)
            .current_dir(&work)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .env("CI", "true")
            .env("MONGODB_URI", server.uri())
            .env("PGPASSWORD", &pg.password)
            .env("MONGOCTL_SECRETS_FILE", home.join("secrets/dev.jsonl"))
            .stdin(std::process::Stdio::null());
        if let Ok(m) = std::env::var("MONGOD") {
            cmd.env("MONGOD", m);
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected_error = EXPECTED_ERRORS.iter().find(|(e, _)| e == example);
        let ok = match expected_error {
            Some((_, words)) => code == 1 && stderr.contains(words),
            None => code == 0 || (code == 2 && may_exit_2(example)),
        };
        if !ok {
            failures.push(format!("`{example}` exited {code}:\n{stderr}"));
        }
    }
    // Whatever the sandbox examples started is stopped.
    let _ = Command::new(crate::common::mongoctl_bin())
        .args(["sandbox", "down", "--purge"])
        .current_dir(&work)
        .env("PATH", &path)
        .output();
    assert!(
        failures.is_empty(),
        "{} of {} examples fail as written:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}

fn copy_tree(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for name in names {
        let status = Command::new("cp")
            .arg("-r")
            .arg(from.join(name))
            .arg(to.join(name))
            .status()
            .unwrap();
        assert!(status.success(), "copying {name}");
    }
}
