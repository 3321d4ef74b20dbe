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
            // Full cause chain, with every known secret removed.
            eprintln!("error: {}", mongoctl::redact::scrub(&format!("{e:#}")));
            ExitCode::from(ERROR)
        }
    }
}
