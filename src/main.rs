use std::process::ExitCode;

use clap::Parser;
use mongoctl::cli::Cli;
use mongoctl::context::Ctx;
use mongoctl::exit::{ERROR, Reported};

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away (`| head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
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
                return ExitCode::from(*code);
            }
            // The cause chain, a driver error at its root described by its likely cause, with
            // every known secret removed.
            let message = match e
                .chain()
                .position(|c| c.downcast_ref::<mongodb::error::Error>().is_some())
            {
                Some(i) => {
                    let mut parts: Vec<String> =
                        e.chain().take(i).map(ToString::to_string).collect();
                    let driver = e
                        .chain()
                        .nth(i)
                        .and_then(|c| c.downcast_ref::<mongodb::error::Error>());
                    parts.extend(driver.map(mongoctl::context::describe_driver_error));
                    parts.join(": ")
                }
                None => format!("{e:#}"),
            };
            eprintln!("error: {}", mongoctl::redact::scrub(&message));
            ExitCode::from(ERROR)
        }
    }
}
