//! The local development sandbox: a replica set of detached `mongod`s (they outlive the CLI)
//! whose ports and pids are kept in `<dir>/sandbox.json`. Starting, resuming, probing and
//! stopping it; `commands::sandbox` handles the arguments and `render::sandbox` the output.
//! With auth the root password is generated, written to `<dir>/credentials` and the full URI
//! to `<dir>/uri` (both 0600).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::mongod::{self, ClusterOptions, RootUser};

const STATE_FILE: &str = "sandbox.json";
const ROOT_USER: &str = "root";

#[derive(Serialize, Deserialize, Debug)]
/// What `<dir>/sandbox.json` holds: enough to find, restart and stop the members.
pub struct SandboxState {
    pub repl_set: String,
    pub auth: bool,
    /// Connection string without credentials.
    pub uri: String,
    pub members: Vec<Member>,
}

#[derive(Serialize, Deserialize, Debug)]
/// One detached `mongod` of the sandbox.
pub struct Member {
    pub port: u16,
    pub pid: u32,
    pub dbpath: PathBuf,
    pub log: PathBuf,
}

/// `dir` made absolute against the current directory (the state file records absolute paths).
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the current directory")?
        .join(dir))
}

/// The state file of `dir`, or `None` when there is no sandbox there.
pub fn read_state(dir: &Path) -> Result<Option<SandboxState>> {
    let path = dir.join(STATE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Whether each member's process is alive, in member order.
pub fn running(state: &SandboxState) -> Vec<bool> {
    state
        .members
        .iter()
        .map(|m| mongod::pid_is_running(m.pid))
        .collect()
}

/// The line a shell evaluates to point mongoctl at the sandbox.
pub fn export_line(dir: &Path, state: &SandboxState) -> String {
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
    crate::private::random_hex(18)
}

fn write_state(dir: &Path, state: &SandboxState) -> Result<()> {
    std::fs::write(dir.join(STATE_FILE), serde_json::to_string_pretty(state)?)
        .with_context(|| format!("writing {}", dir.join(STATE_FILE).display()))
}

fn members_of(cluster: &mongod::Cluster) -> Vec<Member> {
    cluster
        .nodes()
        .iter()
        .map(|n| Member {
            port: n.port(),
            pid: n.pid(),
            dbpath: n.dbpath().to_path_buf(),
            log: n.log_path().to_path_buf(),
        })
        .collect()
}

/// What `up` found or did.
pub enum Up {
    AlreadyRunning(SandboxState),
    Resumed(SandboxState),
    Started(SandboxState),
}

impl Up {
    pub fn state(&self) -> &SandboxState {
        match self {
            Up::AlreadyRunning(s) | Up::Resumed(s) | Up::Started(s) => s,
        }
    }

    /// How the announcement says it: "Sandbox started: …".
    pub fn verb(&self) -> &'static str {
        match self {
            Up::AlreadyRunning(_) => "already running",
            Up::Resumed(_) => "resumed",
            Up::Started(_) => "started",
        }
    }
}

/// Reuses the sandbox in `dir` when it runs, restarts it when its processes are all gone,
/// or starts a new one of `nodes` members (from `first_port`, else free consecutive ports).
pub async fn up(dir: &Path, nodes: u16, first_port: Option<u16>, auth: bool) -> Result<Up> {
    if let Some(state) = read_state(dir)? {
        let alive = running(&state);
        if alive.iter().all(|a| *a) {
            return Ok(Up::AlreadyRunning(state));
        }
        if let Some(resumed) = resume(dir, &state, &alive).await? {
            return Ok(Up::Resumed(resumed));
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
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = if auth {
        Some(RootUser::new(ROOT_USER, random_password()?))
    } else {
        None
    };
    if let Some(r) = &root {
        crate::redact::register(&r.password);
    }
    // Consecutive ports, so that a sandbox whose processes are gone (a reboot) can be
    // restarted on the same ports, which its replica-set configuration names.
    let port = match first_port {
        Some(p) => Some(p),
        None => consecutive_free_ports(nodes as usize),
    };
    let options = ClusterOptions {
        binary: Some(binary),
        port,
        auth: root.clone(),
        detached: true,
        ..ClusterOptions::replica_set(nodes as usize)
    };
    let started = match mongod::start_cluster(dir, &options).await {
        // Someone took one of the consecutive ports meanwhile: any free ports will do.
        Err(_) if first_port.is_none() && options.port.is_some() => {
            let retry = ClusterOptions {
                port: None,
                ..options
            };
            mongod::start_cluster(dir, &retry).await
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
        members: members_of(&cluster),
    };
    if let Some(r) = &root {
        crate::private::write_file(
            &dir.join("credentials"),
            format!(
                "user={}\npassword={}\nauthSource=admin\n",
                r.username, r.password
            )
            .as_bytes(),
        )?;
        crate::private::write_file(&dir.join("uri"), format!("{}\n", cluster.uri()).as_bytes())?;
    }
    write_state(dir, &state)?;
    Ok(Up::Started(state))
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
        members: members_of(&cluster),
    };
    write_state(dir, &resumed)?;
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

/// Each member's replica-set state as `hello` reports it: PRIMARY, SECONDARY, starting,
/// stopped (its process is gone) or why it does not answer.
pub async fn member_states(state: &SandboxState, alive: &[bool]) -> Vec<String> {
    let mut roles = Vec::new();
    for (m, a) in state.members.iter().zip(alive) {
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
    roles
}

/// Stops every member (secondaries first, so the primary does not wait for them) and removes
/// the state file; with `purge` also the directory. False when there was no sandbox (the
/// directory is still purged).
pub async fn down(dir: &Path, purge: bool) -> Result<bool> {
    let Some(state) = read_state(dir)? else {
        if purge && dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("deleting {}", dir.display()))?;
        }
        return Ok(false);
    };
    let root = root_of(dir, &state);
    for m in state.members.iter().rev() {
        if mongod::pid_is_running(m.pid) {
            mongod::shutdown_node(m.port, Some(m.pid), root.as_ref()).await?;
        }
    }
    std::fs::remove_file(dir.join(STATE_FILE))
        .with_context(|| format!("removing {}", dir.join(STATE_FILE).display()))?;
    if purge {
        std::fs::remove_dir_all(dir).with_context(|| format!("deleting {}", dir.display()))?;
    }
    Ok(true)
}

/// The last `lines` lines of a member's log.
pub fn log_tail(member: &Member, lines: usize) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(&member.log)
        .with_context(|| format!("reading {}", member.log.display()))?;
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(auth: bool) -> SandboxState {
        SandboxState {
            repl_set: "rs0".into(),
            auth,
            uri: "mongodb://127.0.0.1:27017/?replicaSet=rs0".into(),
            members: vec![],
        }
    }

    #[test]
    fn export_line_never_shows_credentials() {
        assert_eq!(
            export_line(Path::new("/tmp/sb"), &state(false)),
            "export MONGODB_URI='mongodb://127.0.0.1:27017/?replicaSet=rs0'"
        );
        assert_eq!(
            export_line(Path::new("/tmp/it's"), &state(true)),
            "export MONGODB_URI=\"$(cat '/tmp/it'\\''s/uri')\""
        );
    }

    #[test]
    fn state_file_round_trips_and_a_missing_one_is_none() {
        let dir = std::env::temp_dir().join(format!("mongoctl-sandbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_state(&dir).unwrap().is_none());
        let mut s = state(true);
        s.members.push(Member {
            port: 27017,
            pid: 42,
            dbpath: dir.join("n0"),
            log: dir.join("n0.log"),
        });
        write_state(&dir, &s).unwrap();
        let back = read_state(&dir).unwrap().unwrap();
        assert_eq!((back.repl_set.as_str(), back.auth), ("rs0", true));
        assert_eq!(back.members[0].port, 27017);
        assert_eq!(back.members[0].pid, 42);
        std::fs::write(dir.join(STATE_FILE), "{").unwrap();
        assert!(read_state(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
