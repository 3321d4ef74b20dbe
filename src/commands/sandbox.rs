//! `sandbox`: a local replica set for development, in one command. Members run detached
//! (they outlive the CLI); their ports and pids are kept in `<dir>/sandbox.json`.
//! With `--auth` the root password is generated, written to `<dir>/credentials` and the full
//! URI to `<dir>/uri` (both 0600), and printed only as `$(cat <dir>/uri)`.

use clap::{Args, Subcommand};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::mongod::{self, ClusterOptions, RootUser};
use crate::render;

const STATE_FILE: &str = "sandbox.json";
const ROOT_USER: &str = "root";

#[derive(Serialize, Deserialize, Debug)]
struct SandboxState {
    repl_set: String,
    auth: bool,
    /// Connection string without credentials.
    uri: String,
    members: Vec<Member>,
}

#[derive(Serialize, Deserialize, Debug)]
struct Member {
    port: u16,
    pid: u32,
    dbpath: PathBuf,
    log: PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SandboxCommand {
    /// Start (or reuse) a local replica set and print its URI
    #[command(
        after_help = "Example:\n  mongoctl sandbox up --nodes 3 --auth\n  eval \"$(mongoctl sandbox up -q)\""
    )]
    Up(SandboxUpArgs),
    /// Show whether the sandbox runs, its members and URI
    #[command(after_help = "Example:\n  mongoctl sandbox status -o json")]
    Status(SandboxDirArgs),
    /// Stop the sandbox (and delete its data with --purge)
    #[command(after_help = "Example:\n  mongoctl sandbox down --purge")]
    Down(SandboxDownArgs),
    /// Print the tail of each member's log
    #[command(after_help = "Example:\n  mongoctl sandbox logs -n 100")]
    Logs(SandboxLogsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SandboxDirArgs {
    /// Sandbox directory (data, logs, keyfile, credentials)
    #[arg(
        long,
        env = "MONGOCTL_SANDBOX",
        default_value = ".mongoctl/sandbox",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxUpArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Replica set members (1 to 7)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=7))]
    pub nodes: u16,
    /// First port (members use consecutive ports); default: free ports
    #[arg(long)]
    pub port: Option<u16>,
    /// Enable authentication and create a root user (credentials in DIR/credentials, 0600)
    #[arg(long)]
    pub auth: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxDownArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Also delete the data directory
    #[arg(long)]
    pub purge: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxLogsArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Lines per member
    #[arg(long, short = 'n', default_value_t = 40)]
    pub lines: usize,
}

pub async fn run(cmd: SandboxCommand, ctx: &Ctx) -> Result<u8> {
    match cmd {
        SandboxCommand::Up(a) => up(a, ctx).await,
        SandboxCommand::Status(a) => status(a, ctx).await,
        SandboxCommand::Down(a) => down(a, ctx).await,
        SandboxCommand::Logs(a) => logs(a),
    }
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the current directory")?
        .join(dir))
}

fn read_state(dir: &Path) -> Result<Option<SandboxState>> {
    let path = dir.join(STATE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn running(state: &SandboxState) -> Vec<bool> {
    state
        .members
        .iter()
        .map(|m| mongod::pid_is_running(m.pid))
        .collect()
}

/// The line a shell evaluates to point mongoctl at the sandbox.
fn export_line(dir: &Path, state: &SandboxState) -> String {
    if state.auth {
        format!(
            "export MONGODB_URI=\"$(cat {})\"",
            shell_quote(&dir.join("uri"))
        )
    } else {
        format!("export MONGODB_URI='{}'", state.uri)
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

fn random_password() -> Result<String> {
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn announce(ctx: &Ctx, dir: &Path, state: &SandboxState, verb: &str) {
    if ctx.json() {
        render::json(
            &serde_json::json!({"dir": dir, "uri": state.uri, "auth": state.auth, "members": state.members, "export": export_line(dir, state)}),
        );
    } else if ctx.global.quiet {
        println!("{}", export_line(dir, state));
    } else {
        println!(
            "Sandbox {verb}: replica set {} with {} member(s) in {}",
            state.repl_set,
            state.members.len(),
            dir.display()
        );
        println!(
            "URI: {}{}",
            state.uri,
            if state.auth {
                "  (credentials in credentials / uri files, 0600)"
            } else {
                ""
            }
        );
        println!("{}", export_line(dir, state));
    }
}

async fn up(args: SandboxUpArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    if let Some(state) = read_state(&dir)? {
        let alive = running(&state);
        if alive.iter().all(|a| *a) {
            announce(ctx, &dir, &state, "already running");
            return Ok(SUCCESS);
        }
        if let Some(resumed) = resume(&dir, &state, &alive).await? {
            announce(ctx, &dir, &resumed, "resumed");
            return Ok(SUCCESS);
        }
        let pids: Vec<String> = state
            .members
            .iter()
            .zip(&alive)
            .filter(|(_, a)| !**a)
            .map(|(m, _)| format!("{} (port {})", m.pid, m.port))
            .collect();
        bail!(
            "stale sandbox in {}: member process(es) {} are gone and it cannot be restarted on the same ports. Run `mongoctl sandbox down --dir {}` to clean up (add --purge to delete the data), then `sandbox up` again",
            dir.display(),
            pids.join(", "),
            dir.display()
        );
    }
    let binary = mongod::find_mongod()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = if args.auth {
        Some(RootUser::new(ROOT_USER, random_password()?))
    } else {
        None
    };
    if let Some(r) = &root {
        crate::redact::register(&r.password);
    }
    // Consecutive ports, so that a sandbox whose processes are gone (a reboot) can be
    // restarted on the same ports, which its replica-set configuration names.
    let port = match args.port {
        Some(p) => Some(p),
        None => consecutive_free_ports(args.nodes as usize),
    };
    let options = ClusterOptions {
        binary: Some(binary),
        port,
        auth: root.clone(),
        detached: true,
        ..ClusterOptions::replica_set(args.nodes as usize)
    };
    let started = match mongod::start_cluster(&dir, &options).await {
        // Someone took one of the consecutive ports meanwhile: any free ports will do.
        Err(_) if args.port.is_none() && options.port.is_some() => {
            let retry = ClusterOptions {
                port: None,
                ..options
            };
            mongod::start_cluster(&dir, &retry).await
        }
        other => other,
    };
    let cluster = started.with_context(|| format!("starting the sandbox in {}", dir.display()))?;
    let state = SandboxState {
        repl_set: cluster
            .repl_set()
            .unwrap_or(mongod::DEFAULT_REPL_SET)
            .to_string(),
        auth: root.is_some(),
        uri: cluster.uri_without_credentials(),
        members: cluster
            .nodes()
            .iter()
            .map(|n| Member {
                port: n.port(),
                pid: n.pid(),
                dbpath: n.dbpath().to_path_buf(),
                log: n.log_path().to_path_buf(),
            })
            .collect(),
    };
    if let Some(r) = &root {
        write_private(
            &dir.join("credentials"),
            &format!(
                "user={}\npassword={}\nauthSource=admin\n",
                r.username, r.password
            ),
        )?;
        write_private(&dir.join("uri"), &format!("{}\n", cluster.uri()))?;
    }
    std::fs::write(dir.join(STATE_FILE), serde_json::to_string_pretty(&state)?)
        .with_context(|| format!("writing {}", dir.join(STATE_FILE).display()))?;
    announce(ctx, &dir, &state, "started");
    Ok(SUCCESS)
}

/// The first of `n` consecutive ports that are free now (`None`: let each member pick one).
fn consecutive_free_ports(n: usize) -> Option<u16> {
    for _ in 0..32 {
        let base = mongod::free_port().ok()?;
        if usize::from(base) + n > usize::from(u16::MAX) {
            continue;
        }
        let free =
            (1..n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return Some(base);
        }
    }
    None
}

/// Restarts a sandbox whose member processes are all gone (after a reboot, or killed), on the
/// same data directories and ports. `None` when that is not possible: some members still run,
/// or the ports were not consecutive (older sandboxes).
async fn resume(dir: &Path, state: &SandboxState, alive: &[bool]) -> Result<Option<SandboxState>> {
    let first = state.members.first().map(|m| m.port);
    let consecutive = state
        .members
        .iter()
        .enumerate()
        .all(|(i, m)| first.is_some_and(|f| usize::from(m.port) == usize::from(f) + i));
    if alive.iter().any(|a| *a) || !consecutive || state.members.is_empty() {
        return Ok(None);
    }
    let root = root_of(dir, state);
    if state.auth && root.is_none() {
        return Ok(None);
    }
    if let Some(r) = &root {
        crate::redact::register(&r.password);
    }
    let options = ClusterOptions {
        binary: Some(mongod::find_mongod()?),
        port: first,
        auth: root,
        detached: true,
        repl_set: Some(state.repl_set.clone()),
        ..ClusterOptions::replica_set(state.members.len())
    };
    let cluster = mongod::start_cluster(dir, &options)
        .await
        .with_context(|| format!("restarting the sandbox in {}", dir.display()))?;
    let resumed = SandboxState {
        repl_set: state.repl_set.clone(),
        auth: state.auth,
        uri: cluster.uri_without_credentials(),
        members: cluster
            .nodes()
            .iter()
            .map(|n| Member {
                port: n.port(),
                pid: n.pid(),
                dbpath: n.dbpath().to_path_buf(),
                log: n.log_path().to_path_buf(),
            })
            .collect(),
    };
    std::fs::write(
        dir.join(STATE_FILE),
        serde_json::to_string_pretty(&resumed)?,
    )
    .with_context(|| format!("writing {}", dir.join(STATE_FILE).display()))?;
    Ok(Some(resumed))
}

fn root_of(dir: &Path, state: &SandboxState) -> Option<RootUser> {
    if !state.auth {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("credentials")).ok()?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    Some(RootUser::new(get("user")?, get("password")?))
}

async fn status(args: SandboxDirArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir)?;
    let Some(state) = read_state(&dir)? else {
        bail!(
            "no sandbox in {} (start one with `mongoctl sandbox up`)",
            dir.display()
        );
    };
    let alive = running(&state);
    let mut roles = Vec::new();
    for (m, a) in state.members.iter().zip(&alive) {
        let role = if !a {
            "stopped".to_string()
        } else {
            match mongod::hello(m.port).await {
                Ok(h) if h.get_bool("isWritablePrimary") == Ok(true) => "PRIMARY".to_string(),
                Ok(h) if h.get_bool("secondary") == Ok(true) => "SECONDARY".to_string(),
                Ok(_) => "starting".to_string(),
                Err(e) => format!("not answering: {e:#}"),
            }
        };
        roles.push(role);
    }
    if ctx.json() {
        let members: Vec<_> = state
            .members
            .iter()
            .zip(&roles)
            .map(|(m, r)| serde_json::json!({"port": m.port, "pid": m.pid, "state": r}))
            .collect();
        render::json(
            &serde_json::json!({"dir": dir, "uri": state.uri, "auth": state.auth, "running": alive.iter().all(|a| *a), "members": members}),
        );
    } else {
        let mut t = render::table(&["member", "pid", "state"]);
        for (m, r) in state.members.iter().zip(&roles) {
            t.add_row(vec![
                format!("127.0.0.1:{}", m.port),
                m.pid.to_string(),
                r.clone(),
            ]);
        }
        println!("{t}");
        println!("URI: {}", state.uri);
    }
    Ok(SUCCESS)
}

async fn down(args: SandboxDownArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    let Some(state) = read_state(&dir)? else {
        if args.purge && dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("deleting {}", dir.display()))?;
        }
        if !ctx.global.quiet {
            println!("No sandbox running in {}.", dir.display());
        }
        return Ok(SUCCESS);
    };
    let root = root_of(&dir, &state);
    // Secondaries first, so the primary does not wait for them to catch up.
    for m in state.members.iter().rev() {
        if mongod::pid_is_running(m.pid) {
            mongod::shutdown_node(m.port, Some(m.pid), root.as_ref()).await?;
        }
    }
    std::fs::remove_file(dir.join(STATE_FILE))
        .with_context(|| format!("removing {}", dir.join(STATE_FILE).display()))?;
    if args.purge {
        std::fs::remove_dir_all(&dir).with_context(|| format!("deleting {}", dir.display()))?;
    }
    if !ctx.global.quiet {
        println!(
            "Sandbox stopped{}.",
            if args.purge {
                " and its data deleted"
            } else {
                ""
            }
        );
    }
    Ok(SUCCESS)
}

fn logs(args: SandboxLogsArgs) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    let Some(state) = read_state(&dir)? else {
        bail!("no sandbox in {}", dir.display());
    };
    for m in &state.members {
        println!("==> 127.0.0.1:{} ({}) <==", m.port, m.log.display());
        let text = std::fs::read_to_string(&m.log)
            .with_context(|| format!("reading {}", m.log.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(args.lines)..] {
            println!("{l}");
        }
    }
    Ok(SUCCESS)
}
