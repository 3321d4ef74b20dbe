use std::process::ExitCode;

use clap::Parser;
use mongoctl::cli::Cli;
use mongoctl::context::Ctx;
use mongoctl::error::{ErrorKind, SpecRejected, describe, kind_of};
use mongoctl::exit::{ERROR, Reported, SUCCESS};
use mongoctl::render;

/// Exit codes: 0 success, 1 error (usage errors too), 2 drift or findings (see `exit.rs`).
fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away (`| head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let ctx = Ctx::new(cli.global);
    let result = runtime.block_on(async {
        let result = mongoctl::commands::run(cli.command, &ctx).await;
        ctx.close().await;
        result
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(Reported(code)) = e.downcast_ref::<Reported>() {
                // The message is on stderr already; a JSON reader still gets an object.
                if ctx.json() && !render::stdout_has_json() {
                    render::error_object("failed; see stderr for details", ErrorKind::Error);
                }
                return ExitCode::from(*code);
            }
            if let Some(rejected) = e.downcast_ref::<SpecRejected>() {
                render::diagnostics(&rejected.diagnostics, ctx.json());
                eprintln!("error: {rejected}");
                return ExitCode::from(ERROR);
            }
            let message = describe(&e);
            if ctx.json() && !render::stdout_has_json() {
                render::error_object(&message, kind_of(&e));
            }
            eprintln!("error: {message}");
            ExitCode::from(ERROR)
        }
    }
}

/// `--help` and `--version` succeed; every other parse failure is a usage error, exit 1 (2 is
/// "drift", which a typo in a CI job must never read as).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return ExitCode::from(SUCCESS);
    }
    // clap quotes the argument it could not place, which may be a connection string typed
    // in the wrong spot: its password is registered, and the message scrubbed.
    for arg in std::env::args().filter(|a| a.contains('@')) {
        mongoctl::redact::redact_uri(arg.split_once('=').map_or(arg.as_str(), |(_, v)| v));
    }
    let text = mongoctl::redact::scrub(&e.render().to_string());
    if wants_json(std::env::args()) {
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        render::error_object(first, ErrorKind::Usage);
    }
    eprint!("{text}");
    ExitCode::from(ERROR)
}

/// Whether the raw arguments ask for `-o json` (they did not parse, so clap cannot say).
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.iter().enumerate().any(|(i, a)| {
        let next_is_json = args.get(i + 1).is_some_and(|n| n == "json");
        ((a == "-o" || a == "--output") && next_is_json) || a == "--output=json" || a == "-ojson"
    })
}
