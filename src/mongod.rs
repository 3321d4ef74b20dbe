//! Launching and supervising local `mongod` processes.
//!
//! Two users with different lifetimes share this module:
//! * `mongoctl sandbox` starts *detached* servers (`--fork`) that keep
//!   running after the CLI exits and are later stopped with
//!   [`shutdown_node`] / [`terminate_pid`];
//! * the integration-test harness starts *attached* servers that are killed
//!   when their [`MongodProcess`] / [`Cluster`] is dropped and, as a last
//!   resort, by the kernel when the test process dies (`PR_SET_PDEATHSIG`).
//!
//! Every server binds to 127.0.0.1 only and is tuned for fast start-up and
//! a small footprint rather than for production use.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, Credential, ServerAddress};

/// Replica-set name used when the caller does not pick one.
pub const DEFAULT_REPL_SET: &str = "rs0";

/// How long a single mongod may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a replica set may take to elect a primary and finish initial sync.
const REPL_SET_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGTERM → SIGKILL grace period. A clean shutdown normally takes well
/// under a second; this only matters for a wedged server.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often we poll logs, pids and servers while waiting.
const POLL: Duration = Duration::from_millis(20);
/// How many fresh ports to try when an automatically chosen one is stolen
/// between [`free_port`] and mongod's own `bind`.
const PORT_ATTEMPTS: usize = 5;
/// Voting-member limit of a replica set.
const MAX_NODES: usize = 7;

// ---------------------------------------------------------------------------
// Locating the binary and ports
// ---------------------------------------------------------------------------

/// Finds the mongod to run: `$MONGOD`, then `mongod` on `PATH`, then the copy
/// that `scripts/install-mongod` puts into `<repo>/.mongod/bin/mongod`.
///
/// An explicitly set but unusable `$MONGOD` is an error rather than silently
/// falling through, so a typo does not run a different server version.
pub fn find_mongod() -> Result<PathBuf> {
    if let Some(value) = std::env::var_os("MONGOD").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        if is_executable(&path) {
            return Ok(path);
        }
        bail!(
            "$MONGOD is set to {} but that is not an executable file",
            path.display()
        );
    }
    if let Some(path_var) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join("mongod");
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    let bundled = bundled_mongod_path();
    if is_executable(&bundled) {
        return Ok(bundled);
    }
    bail!(
        "no mongod binary found: $MONGOD is not set, there is no `mongod` on PATH, and {} does not \
         exist; run scripts/install-mongod (downloads MongoDB 6.0 into .mongod/) or set $MONGOD",
        bundled.display()
    )
}

/// Where `scripts/install-mongod` installs mongod (fixed at compile time).
pub fn bundled_mongod_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".mongod/bin/mongod")
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A TCP port on 127.0.0.1 that was free a moment ago. Someone else may grab
/// it before mongod binds it; [`MongodProcess::start`] retries in that case.
pub fn free_port() -> Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports: all listeners are held until every port has been
/// chosen, so the kernel cannot hand out the same one twice.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<io::Result<Vec<_>>>()
        .context("binding 127.0.0.1:0 to find a free port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

// ---------------------------------------------------------------------------
// One mongod process
// ---------------------------------------------------------------------------

/// How to launch one mongod.
#[derive(Debug, Clone)]
pub struct MongodSpec {
    pub binary: PathBuf,
    pub dbpath: PathBuf,
    /// `None`: pick a free port and retry on another one if it gets taken.
    /// `Some(p)`: use exactly `p` and fail with "port p is in use" if taken.
    pub port: Option<u16>,
    pub repl_set: Option<String>,
    /// Internal authentication between members (implies access control).
    pub auth_keyfile: Option<PathBuf>,
    /// Access control (`--auth`) for a server without a keyfile.
    pub auth: bool,
    /// `--fork`: the server is re-parented to init and survives us. Without
    /// it the server is our child and dies with us.
    pub detached: bool,
    /// `enableTestCommands=1`: failpoints (`configureFailPoint`) for tests
    /// that must hold the server at a chosen moment. Never for the sandbox.
    pub test_commands: bool,
    /// Appended to (`--logappend`) so restarts keep earlier history.
    pub log_path: PathBuf,
}

impl MongodSpec {
    /// A standalone on a free port, logging to `<dbpath>/mongod.log`.
    pub fn new(binary: impl Into<PathBuf>, dbpath: impl Into<PathBuf>) -> Self {
        let dbpath = dbpath.into();
        MongodSpec {
            binary: binary.into(),
            log_path: dbpath.join("mongod.log"),
            dbpath,
            port: None,
            repl_set: None,
            auth_keyfile: None,
            auth: false,
            detached: false,
            test_commands: false,
        }
    }

    fn pidfile(&self) -> PathBuf {
        self.dbpath.join("mongod.pid")
    }

    /// mongod's own stdout/stderr: only used before logging is set up (bad
    /// options, fork messages), but that is exactly when we need it.
    fn stdout_path(&self) -> PathBuf {
        self.dbpath.join("mongod.stdout")
    }
}

/// A running mongod that we started.
///
/// Attached processes are stopped (SIGTERM, then SIGKILL after a grace
/// period) when dropped; detached ones are left running.
#[derive(Debug)]
pub struct MongodProcess {
    port: u16,
    pid: u32,
    dbpath: PathBuf,
    log_path: PathBuf,
    /// `Some` while attached and not yet reaped.
    child: Option<Child>,
    detached: bool,
}

/// Why a single launch attempt failed.
enum LaunchError {
    PortInUse,
    Other(anyhow::Error),
}

impl From<anyhow::Error> for LaunchError {
    fn from(e: anyhow::Error) -> Self {
        LaunchError::Other(e)
    }
}

impl MongodProcess {
    /// Launches mongod and waits until it answers `hello`.
    pub async fn start(spec: &MongodSpec) -> Result<MongodProcess> {
        fs::create_dir_all(&spec.dbpath)
            .with_context(|| format!("creating dbpath {}", spec.dbpath.display()))?;
        for _ in 0..PORT_ATTEMPTS {
            let port = match spec.port {
                Some(p) => p,
                None => free_port()?,
            };
            match launch_once(spec, port).await {
                Ok(process) => return Ok(process),
                Err(LaunchError::PortInUse) if spec.port.is_none() => continue,
                Err(LaunchError::PortInUse) => bail!(
                    "port {port} is in use: another process is listening on 127.0.0.1:{port}; \
                     choose a different port or stop that process"
                ),
                Err(LaunchError::Other(e)) => return Err(e),
            }
        }
        bail!(
            "could not start mongod for {}: {PORT_ATTEMPTS} automatically chosen ports were all \
             taken before mongod could bind them",
            spec.dbpath.display()
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn dbpath(&self) -> &Path {
        &self.dbpath
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// `127.0.0.1:<port>`, the form used in URIs and replica-set configs.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (attached or detached) and waits until it is gone.
    pub fn stop(&mut self) -> Result<()> {
        self.begin_stop();
        self.finish_stop(Instant::now() + STOP_GRACE)
    }

    /// Sends SIGTERM without waiting, so a whole cluster shuts down in
    /// parallel.
    fn begin_stop(&mut self) {
        match &mut self.child {
            Some(child) => {
                if matches!(child.try_wait(), Ok(None)) {
                    send_signal(self.pid, libc::SIGTERM);
                }
            }
            None if self.detached && pid_is_running(self.pid) => {
                send_signal(self.pid, libc::SIGTERM);
            }
            None => {}
        }
    }

    /// Waits for the process to exit, SIGKILLing it at `deadline`.
    fn finish_stop(&mut self, deadline: Instant) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            loop {
                if child.try_wait()?.is_some() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    child.wait().with_context(|| {
                        format!("waiting for mongod pid {} (port {})", self.pid, self.port)
                    })?;
                    return Ok(());
                }
                std::thread::sleep(POLL);
            }
        } else if self.detached {
            wait_pid_gone(self.pid, deadline);
        }
        Ok(())
    }

    /// The attached child exited (or the detached pid vanished): returns its
    /// status if we know it.
    fn exited(&mut self) -> Option<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => child.try_wait().ok().flatten().map(Some),
            None if self.detached => (!pid_is_running(self.pid)).then_some(None),
            None => Some(None),
        }
    }
}

impl Drop for MongodProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

async fn launch_once(spec: &MongodSpec, port: u16) -> Result<MongodProcess, LaunchError> {
    // Only what this launch writes to the (appended) log is relevant.
    let log_offset = fs::metadata(&spec.log_path).map(|m| m.len()).unwrap_or(0);
    let stdout = fs::File::create(spec.stdout_path())
        .with_context(|| format!("creating {}", spec.stdout_path().display()))?;
    let mut cmd = Command::new(&spec.binary);
    cmd.arg("--dbpath")
        .arg(&spec.dbpath)
        .args(["--port", &port.to_string(), "--bind_ip", "127.0.0.1"])
        .arg("--logpath")
        .arg(&spec.log_path)
        .arg("--logappend")
        .args(["--wiredTigerCacheSizeGB", "0.25"])
        // The default preallocates 3 x 100 MB of journal per node; small,
        // lazily created journal files keep a 3-node set at ~60 MB on disk.
        .args([
            "--wiredTigerEngineConfigString",
            "log=(file_max=20MB,prealloc=false)",
        ])
        .args(["--setParameter", "diagnosticDataCollectionEnabled=false"])
        // Replica-set members otherwise spend 15 s in "quiesce mode" after
        // SIGTERM, waiting for clients that local servers do not have.
        .args([
            "--setParameter",
            "shutdownTimeoutMillisForSignaledShutdown=0",
        ])
        .arg("--quiet")
        // No /tmp/mongodb-<port>.sock: stale sockets from killed servers
        // would pile up, and nothing here connects through them.
        .arg("--nounixsocket")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            stdout.try_clone().context("duplicating stdout file")?,
        ))
        .stderr(Stdio::from(stdout));
    if let Some(rs) = &spec.repl_set {
        cmd.args(["--replSet", rs]);
    }
    if let Some(keyfile) = &spec.auth_keyfile {
        cmd.arg("--keyFile").arg(keyfile);
    }
    if spec.auth {
        cmd.arg("--auth");
    }
    if spec.test_commands {
        cmd.args(["--setParameter", "enableTestCommands=1"]);
    }

    let mut process = if spec.detached {
        let pidfile = spec.pidfile();
        let _ = fs::remove_file(&pidfile);
        cmd.arg("--fork").arg("--pidfilepath").arg(&pidfile);
        // Own process group: a Ctrl-C in the terminal must not reach it.
        cmd.process_group(0);
        // The forking parent exits once the daemon accepts connections.
        let status = tokio::task::spawn_blocking(move || cmd.status())
            .await
            .context("joining mongod launcher")?
            .with_context(|| format!("running {}", spec.binary.display()))?;
        if !status.success() {
            return Err(launch_failure(spec, port, log_offset, Some(status)));
        }
        let pid = read_pidfile(&pidfile)?;
        MongodProcess {
            port,
            pid,
            dbpath: spec.dbpath.clone(),
            log_path: spec.log_path.clone(),
            child: None,
            detached: true,
        }
    } else {
        set_parent_death_signal(&mut cmd);
        let child =
            spawn_attached(cmd).with_context(|| format!("starting {}", spec.binary.display()))?;
        MongodProcess {
            port,
            pid: child.id(),
            dbpath: spec.dbpath.clone(),
            log_path: spec.log_path.clone(),
            child: Some(child),
            detached: false,
        }
    };

    match wait_ready(&mut process, spec, log_offset).await {
        Ok(()) => Ok(process),
        Err(e) => {
            // Don't leave a half-started server behind (Drop only cleans up
            // attached ones).
            let _ = process.stop();
            Err(e)
        }
    }
}

/// Waits until *our* mongod logged that it is listening and answers `hello`.
///
/// The log check matters: if the port was stolen, a TCP connect or even a
/// `hello` could be answered by somebody else's server.
async fn wait_ready(
    process: &mut MongodProcess,
    spec: &MongodSpec,
    log_offset: u64,
) -> Result<(), LaunchError> {
    let port = process.port;
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut listening = false;
    let mut last_error = None;
    loop {
        if let Some(status) = process.exited() {
            return Err(launch_failure(spec, port, log_offset, status));
        }
        if !listening {
            listening = read_log_from(&spec.log_path, log_offset)
                .to_ascii_lowercase()
                .contains("waiting for connections");
        }
        if listening {
            match hello(port).await {
                Ok(_) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        if Instant::now() >= deadline {
            let why = match last_error {
                Some(e) => format!("last hello error: {e:#}"),
                None => "it never logged \"Waiting for connections\"".to_string(),
            };
            return Err(LaunchError::Other(anyhow!(
                "mongod on port {port} (dbpath {}) was not ready after {}s ({why}){}",
                spec.dbpath.display(),
                READY_TIMEOUT.as_secs(),
                diagnostics(spec, log_offset)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Turns an early exit into `PortInUse` or a descriptive error.
fn launch_failure(
    spec: &MongodSpec,
    port: u16,
    log_offset: u64,
    status: Option<ExitStatus>,
) -> LaunchError {
    let log = read_log_from(&spec.log_path, log_offset);
    let stdout = fs::read_to_string(spec.stdout_path()).unwrap_or_default();
    // A port taken between free_port() and the bind shows as exit 48, or, when the listener
    // starts late, as a fatal assertion (SIGABRT); this launch's log (or, with --fork, the
    // launcher's output) says "Address already in use" either way.
    if log.contains("Address already in use") || stdout.contains("Address already in use") {
        return LaunchError::PortInUse;
    }
    let status = match status {
        Some(s) => s.to_string(),
        None => "an unknown status".to_string(),
    };
    LaunchError::Other(anyhow!(
        "mongod on port {port} (dbpath {}) exited with {status} before accepting connections{}",
        spec.dbpath.display(),
        diagnostics(spec, log_offset)
    ))
}

/// The tail of this launch's log plus anything mongod printed itself.
fn diagnostics(spec: &MongodSpec, log_offset: u64) -> String {
    const TAIL_LINES: usize = 25;
    const MAX_LINE: usize = 500;
    let mut out = String::new();
    let log = read_log_from(&spec.log_path, log_offset);
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    if tail.is_empty() {
        let _ = write!(out, "\n(log {} is empty)", spec.log_path.display());
    } else {
        let _ = write!(out, "\n--- last lines of {} ---", spec.log_path.display());
        for line in tail {
            let cut: String = line.chars().take(MAX_LINE).collect();
            let _ = write!(out, "\n{cut}");
        }
    }
    let stdout = fs::read_to_string(spec.stdout_path()).unwrap_or_default();
    if !stdout.trim().is_empty() {
        let _ = write!(out, "\n--- mongod output ---\n{}", stdout.trim_end());
    }
    out
}

fn read_log_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = fs::File::open(path)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn read_pidfile(path: &Path) -> Result<u32> {
    let text =
        fs::read_to_string(path).with_context(|| format!("reading pid file {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("pid file {} contains {text:?}", path.display()))
}

/// Makes the kernel SIGKILL the child when its parent goes away, so a
/// crashed or killed test run leaves no servers behind.
fn set_parent_death_signal(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid), no allocation.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) == -1
                {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Spawns on one long-lived thread. PR_SET_PDEATHSIG fires when the *thread*
/// that forked the child exits, not the process; tokio worker threads and
/// per-test threads come and go, which would kill servers that are still in
/// use (e.g. one shared by several tests).
fn spawn_attached(cmd: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("mongod-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the mongod-spawner thread");
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("mongod-spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("mongod-spawner thread is gone"))?
}

// ---------------------------------------------------------------------------
// Processes we only know by pid (detached servers)
// ---------------------------------------------------------------------------

/// Whether `pid` exists and is not a zombie.
pub fn pid_is_running(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence/permission.
    let exists = unsafe { libc::kill(pid_t, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    // A zombie is dead for our purposes (it may be waiting for init).
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => true,
    }
}

/// SIGTERMs a (detached) mongod by pid and waits up to `grace` before
/// SIGKILL. Refuses pids whose command line has no `--dbpath`, so a stale
/// pid file that now names an unrelated process is harmless. Returns
/// `false` if the process was not running.
pub fn terminate_pid(pid: u32, grace: Duration) -> Result<bool> {
    if !pid_is_running(pid) {
        return Ok(false);
    }
    if let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline"))
        && !cmdline.split(|b| *b == 0).any(|arg| arg == b"--dbpath")
    {
        bail!("pid {pid} is not a mongod started by mongoctl (no --dbpath argument)");
    }
    send_signal(pid, libc::SIGTERM);
    if !wait_pid_gone(pid, Instant::now() + grace) {
        send_signal(pid, libc::SIGKILL);
        if !wait_pid_gone(pid, Instant::now() + Duration::from_secs(5)) {
            bail!("mongod pid {pid} is still running after SIGKILL");
        }
    }
    Ok(true)
}

fn send_signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain kill(2); errors (already gone) are irrelevant here.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn wait_pid_gone(pid: u32, deadline: Instant) -> bool {
    loop {
        if !pid_is_running(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Cleanly stops the mongod on `port` with the `shutdown` command
/// (`force: true`, so a primary does not wait for secondaries) and waits
/// until it is gone. With `pid`, falls back to SIGTERM/SIGKILL if the command
/// cannot be delivered or the server lingers. `root` is needed when the
/// server has access control.
pub async fn shutdown_node(port: u16, pid: Option<u32>, root: Option<&RootUser>) -> Result<()> {
    let sent = send_shutdown(port, root).await;
    if let Some(pid) = pid {
        return tokio::task::spawn_blocking(move || {
            if sent.is_ok() && wait_pid_gone(pid, Instant::now() + STOP_GRACE) {
                return Ok(());
            }
            terminate_pid(pid, STOP_GRACE).map(|_| ())
        })
        .await
        .context("joining shutdown waiter")?
        .with_context(|| format!("stopping mongod on port {port} (pid {pid})"));
    }
    sent?;
    let deadline = Instant::now() + STOP_GRACE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        if Instant::now() >= deadline {
            bail!("mongod on port {port} still accepts connections after shutdown");
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Sends `shutdown`. The server closing the connection under us is the
/// expected outcome, and "nothing listening" means it is already down.
async fn send_shutdown(port: u16, root: Option<&RootUser>) -> Result<()> {
    let client = direct_client(port, root, Duration::from_secs(2))?;
    let result = client
        .database("admin")
        .run_command(doc! { "shutdown": 1, "force": true, "timeoutSecs": 0 })
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind.as_ref(),
                ErrorKind::Io(_)
                    | ErrorKind::ConnectionPoolCleared { .. }
                    | ErrorKind::ServerSelection { .. }
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow!(e)).with_context(|| format!("shutdown command on port {port}")),
    }
}

// ---------------------------------------------------------------------------
// Driver helpers
// ---------------------------------------------------------------------------

/// A client talking to exactly one server (no replica-set discovery).
/// Only builds options; it does not connect until first used.
pub fn direct_client(port: u16, root: Option<&RootUser>, timeout: Duration) -> Result<Client> {
    let mut options = ClientOptions::builder()
        .hosts(vec![ServerAddress::Tcp {
            host: "127.0.0.1".to_string(),
            port: Some(port),
        }])
        .direct_connection(true)
        .server_selection_timeout(timeout)
        .connect_timeout(timeout)
        .app_name("mongoctl".to_string())
        .build();
    options.credential = root.map(RootUser::credential);
    Client::with_options(options).with_context(|| format!("creating a client for port {port}"))
}

/// Runs `hello` against one server; works without credentials even when
/// access control is on.
pub async fn hello(port: u16) -> Result<Document> {
    let client = direct_client(port, None, Duration::from_secs(2))?;
    client
        .database("admin")
        .run_command(doc! { "hello": 1 })
        .await
        .with_context(|| format!("hello to 127.0.0.1:{port}"))
}

fn command_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

fn is_auth_failure(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), ErrorKind::Authentication { .. }) || command_code(e) == Some(18)
}

// ---------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------

/// Credentials of the `root` user created through the localhost exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootUser {
    pub username: String,
    pub password: String,
}

impl RootUser {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        RootUser {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn credential(&self) -> Credential {
        Credential::builder()
            .username(self.username.clone())
            .password(self.password.clone())
            .source("admin".to_string())
            .build()
    }
}

/// What kind of deployment [`start_cluster`] creates.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `None` → find_mongod().
    pub binary: Option<PathBuf>,
    /// `None` → standalone (then `nodes` must be 1).
    pub repl_set: Option<String>,
    pub nodes: usize,
    /// Enables access control and creates this root user.
    pub auth: Option<RootUser>,
    /// First node's port; node `i` uses `port + i`. `None` → free ports.
    pub port: Option<u16>,
    /// Servers outlive this process (sandbox) instead of dying with it.
    pub detached: bool,
    /// See [`MongodSpec::test_commands`].
    pub test_commands: bool,
}

impl ClusterOptions {
    pub fn standalone() -> Self {
        ClusterOptions {
            binary: None,
            repl_set: None,
            nodes: 1,
            auth: None,
            port: None,
            detached: false,
            test_commands: false,
        }
    }

    pub fn replica_set(nodes: usize) -> Self {
        ClusterOptions {
            repl_set: Some(DEFAULT_REPL_SET.to_string()),
            nodes,
            ..Self::standalone()
        }
    }
}

/// A standalone or replica set started by [`start_cluster`]. Dropping it
/// stops the attached nodes; detached nodes only stop via [`Cluster::stop`]
/// or [`shutdown_node`].
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<MongodProcess>,
    repl_set: Option<String>,
    root: Option<RootUser>,
    dir: PathBuf,
}

impl Cluster {
    /// Connection string with the root user's credentials (if any).
    pub fn uri(&self) -> String {
        self.build_uri(self.root.as_ref())
    }

    pub fn uri_without_credentials(&self) -> String {
        self.build_uri(None)
    }

    fn build_uri(&self, root: Option<&RootUser>) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(MongodProcess::host).collect();
        let mut query = vec![];
        match &self.repl_set {
            Some(rs) => query.push(format!(
                "replicaSet={}",
                crate::percent::encode_component(rs)
            )),
            None => query.push("directConnection=true".to_string()),
        }
        let userinfo = match root {
            Some(r) => {
                query.push("authSource=admin".to_string());
                format!(
                    "{}:{}@",
                    crate::percent::encode_component(&r.username),
                    crate::percent::encode_component(&r.password)
                )
            }
            None => String::new(),
        };
        format!(
            "mongodb://{userinfo}{}/?{}",
            hosts.join(","),
            query.join("&")
        )
    }

    pub fn nodes(&self) -> &[MongodProcess] {
        &self.nodes
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(MongodProcess::port).collect()
    }

    pub fn repl_set(&self) -> Option<&str> {
        self.repl_set.as_deref()
    }

    pub fn root_user(&self) -> Option<&RootUser> {
        self.root.as_ref()
    }

    /// The directory holding one `node<i>` dbpath per member (and the keyfile).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops every node (attached or detached) in parallel and waits.
    pub fn stop(&mut self) -> Result<()> {
        stop_all(&mut self.nodes)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut attached: Vec<&mut MongodProcess> = self
            .nodes
            .iter_mut()
            .filter(|n| n.child.is_some())
            .collect();
        for node in &mut attached {
            node.begin_stop();
        }
        let deadline = Instant::now() + STOP_GRACE;
        for node in attached {
            let _ = node.finish_stop(deadline);
        }
    }
}

fn stop_all(nodes: &mut [MongodProcess]) -> Result<()> {
    for node in nodes.iter_mut() {
        node.begin_stop();
    }
    let deadline = Instant::now() + STOP_GRACE;
    let mut first_error = None;
    for node in nodes.iter_mut() {
        if let Err(e) = node.finish_stop(deadline) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Starts (or restarts, if `dir` already holds its data) a deployment in
/// `dir/node<i>` and returns once it accepts writes: the root user exists,
/// member 0 is primary and all other members are secondaries.
pub async fn start_cluster(dir: &Path, options: &ClusterOptions) -> Result<Cluster> {
    let n = options.nodes;
    if n == 0 || n > MAX_NODES {
        bail!("a deployment needs between 1 and {MAX_NODES} nodes, not {n}");
    }
    if options.repl_set.is_none() && n != 1 {
        bail!("a standalone has exactly one node ({n} requested); use a replica set");
    }
    if let Some(base) = options.port
        && usize::from(base) + n - 1 > usize::from(u16::MAX)
    {
        bail!(
            "ports {base}..{} do not fit below 65536",
            usize::from(base) + n - 1
        );
    }
    let binary = match &options.binary {
        Some(b) => b.clone(),
        None => find_mongod()?,
    };
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let keyfile = match (&options.auth, &options.repl_set) {
        (Some(_), Some(_)) => Some(write_keyfile(&dir.join("keyfile"))?),
        _ => None,
    };
    let specs: Vec<MongodSpec> = (0..n)
        .map(|i| {
            let mut spec = MongodSpec::new(&binary, dir.join(format!("node{i}")));
            spec.port = options.port.map(|p| p + i as u16);
            spec.repl_set = options.repl_set.clone();
            spec.auth_keyfile = keyfile.clone();
            spec.auth = options.auth.is_some() && keyfile.is_none();
            spec.detached = options.detached;
            spec.test_commands = options.test_commands;
            spec
        })
        .collect();

    // Start members concurrently; on failure stop the ones that did start
    // (detached ones would otherwise linger).
    let results = futures::future::join_all(specs.iter().map(MongodProcess::start)).await;
    let mut nodes = Vec::with_capacity(n);
    let mut first_error = None;
    for result in results {
        match result {
            Ok(node) => nodes.push(node),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        let _ = stop_all(&mut nodes);
        return Err(e).with_context(|| format!("starting mongod nodes in {}", dir.display()));
    }

    let mut cluster = Cluster {
        nodes,
        repl_set: options.repl_set.clone(),
        root: options.auth.clone(),
        dir: dir.to_path_buf(),
    };
    let setup = async {
        match &cluster.repl_set {
            Some(rs) => initiate_replica_set(&cluster, rs).await,
            None => match &cluster.root {
                Some(root) => ensure_root_user(cluster.nodes[0].port, root).await,
                None => Ok(()),
            },
        }
    }
    .await;
    if let Err(e) = setup {
        let _ = cluster.stop();
        return Err(e).with_context(|| format!("setting up the deployment in {}", dir.display()));
    }
    Ok(cluster)
}

/// Random 96-hex-character keyfile readable only by us (mongod refuses
/// group/world-readable keyfiles).
fn write_keyfile(path: &Path) -> Result<PathBuf> {
    let key = crate::private::random_hex(48).context("generating the replica-set keyfile")?;
    let _ = fs::remove_file(path); // it may be 0400 from a previous run
    crate::private::write_file(path, key.as_bytes())
        .with_context(|| format!("creating keyfile {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// replSetInitiate with member 0 preferred as primary, then waits for it to
/// become writable, creates the root user (localhost exception, which is
/// only open on the primary and only until the first user exists) and waits
/// for every other member to finish initial sync.
async fn initiate_replica_set(cluster: &Cluster, rs: &str) -> Result<()> {
    let first = cluster.nodes[0].port;
    let root = cluster.root.as_ref();
    // On a restart the users already exist and the localhost exception is
    // closed, so prefer the real credentials when they work.
    let resumed_with_auth = match root {
        Some(r) => credentials_work(first, r).await,
        None => false,
    };
    let initial = direct_client(
        first,
        if resumed_with_auth { root } else { None },
        Duration::from_secs(5),
    )?;
    let members: Vec<Document> = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            doc! {
                "_id": i as i32,
                "host": node.host(),
                // Member 0 always wins elections, so the primary is predictable.
                "priority": if i == 0 { 2 } else { 1 },
            }
        })
        .collect();
    let config = doc! {
        "_id": rs,
        "members": members,
        "settings": {
            // Defaults (10 s / 2 s) make a fresh set wait ~10 s for its first
            // election; local servers can afford aggressive failure detection.
            "electionTimeoutMillis": 2000,
            "heartbeatIntervalMillis": 500,
        },
    };
    match initial
        .database("admin")
        .run_command(doc! { "replSetInitiate": config })
        .await
    {
        Ok(_) => {}
        // AlreadyInitialized: a restart of an existing set.
        Err(e) if command_code(&e) == Some(23) => {
            check_existing_config(&initial, cluster, rs).await?
        }
        Err(e) if command_code(&e) == Some(13) && root.is_some() => bail!(
            "the replica set in {} already has users and rejects the credentials of {:?}",
            cluster.dir.display(),
            root.map(|r| r.username.as_str()).unwrap_or_default()
        ),
        Err(e) => {
            return Err(anyhow!(e))
                .with_context(|| format!("replSetInitiate on 127.0.0.1:{first}"));
        }
    }

    let deadline = Instant::now() + REPL_SET_TIMEOUT;
    wait_writable_primary(&initial, first, deadline).await?;
    if let (Some(r), false) = (root, resumed_with_auth) {
        ensure_root_user(first, r).await?;
    }
    let admin = direct_client(first, root, Duration::from_secs(5))?;
    wait_members_healthy(&admin, first, cluster.nodes.len(), deadline).await
}

/// On restart the stored config must name the hosts we just started,
/// otherwise no member finds itself and the set never elects a primary.
async fn check_existing_config(client: &Client, cluster: &Cluster, rs: &str) -> Result<()> {
    let reply = client
        .database("admin")
        .run_command(doc! { "replSetGetConfig": 1 })
        .await
        .context("reading the existing replica-set config")?;
    let config = reply
        .get_document("config")
        .context("replSetGetConfig reply has no config")?;
    let mut configured: Vec<String> = config
        .get_array("members")
        .map(|members| {
            members
                .iter()
                .filter_map(Bson::as_document)
                .filter_map(|m| m.get_str("host").ok().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut running: Vec<String> = cluster.nodes.iter().map(MongodProcess::host).collect();
    configured.sort();
    running.sort();
    let name = config.get_str("_id").unwrap_or_default();
    if name != rs || configured != running {
        bail!(
            "{} holds replica set {name:?} with members {configured:?}, but this start uses \
             {rs:?} with {running:?}; restart it with the original ports",
            cluster.dir.display()
        );
    }
    Ok(())
}

async fn credentials_work(port: u16, root: &RootUser) -> bool {
    let Ok(client) = direct_client(port, Some(root), Duration::from_secs(5)) else {
        return false;
    };
    client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .is_ok()
}

/// Polls `hello` until the node is a writable primary. While it is an
/// electable secondary it is asked to `replSetStepUp`, which wins the first
/// election immediately instead of after `electionTimeoutMillis`.
async fn wait_writable_primary(client: &Client, port: u16, deadline: Instant) -> Result<()> {
    const STEP_UP_EVERY: Duration = Duration::from_millis(500);
    let admin = client.database("admin");
    let mut last_step_up: Option<Instant> = None;
    loop {
        let last = match admin.run_command(doc! { "hello": 1 }).await {
            Ok(reply) if reply.get_bool("isWritablePrimary").unwrap_or(false) => return Ok(()),
            Ok(reply) => {
                let secondary = reply.get_bool("secondary").unwrap_or(false);
                if secondary && last_step_up.is_none_or(|t| t.elapsed() >= STEP_UP_EVERY) {
                    last_step_up = Some(Instant::now());
                    // Failure is harmless: a regular election follows anyway.
                    let _ = admin.run_command(doc! { "replSetStepUp": 1 }).await;
                }
                format!(
                    "hello says secondary={secondary}, primary={}",
                    reply.get_str("primary").unwrap_or("none")
                )
            }
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("127.0.0.1:{port} did not become a writable primary in time ({last})");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn wait_members_healthy(
    admin: &Client,
    port: u16,
    expected: usize,
    deadline: Instant,
) -> Result<()> {
    loop {
        let last = match admin
            .database("admin")
            .run_command(doc! { "replSetGetStatus": 1 })
            .await
        {
            Ok(status) => {
                let states: Vec<String> = status
                    .get_array("members")
                    .map(|members| {
                        members
                            .iter()
                            .filter_map(Bson::as_document)
                            .map(|m| m.get_str("stateStr").unwrap_or("?").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                let healthy = states
                    .iter()
                    .filter(|s| *s == "PRIMARY" || *s == "SECONDARY")
                    .count();
                if healthy == expected {
                    return Ok(());
                }
                format!("member states {states:?}")
            }
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!(
                "replica set members did not all become PRIMARY/SECONDARY in time (via port {port}: {last})"
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Creates the root user through the localhost exception. If users already
/// exist (restart), checks that the given credentials are accepted instead.
async fn ensure_root_user(port: u16, root: &RootUser) -> Result<()> {
    let client = direct_client(port, None, Duration::from_secs(5))?;
    let created = client
        .database("admin")
        .run_command(doc! {
            "createUser": &root.username,
            "pwd": &root.password,
            "roles": [{ "role": "root", "db": "admin" }],
        })
        .await;
    match created {
        Ok(_) => Ok(()),
        // Unauthorized (13) or "user already exists" (51003): not a fresh
        // deployment; the given credentials must work.
        Err(e) if matches!(command_code(&e), Some(13) | Some(51003)) || is_auth_failure(&e) => {
            if credentials_work(port, root).await {
                Ok(())
            } else {
                bail!(
                    "the server on port {port} already has users and rejects the credentials of \
                     {:?}",
                    root.username
                )
            }
        }
        Err(e) => Err(anyhow!(e))
            .with_context(|| format!("creating root user {:?} on port {port}", root.username)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_cluster(ports: &[u16], rs: Option<&str>, root: Option<RootUser>) -> Cluster {
        Cluster {
            nodes: ports
                .iter()
                .map(|&port| MongodProcess {
                    port,
                    pid: 0,
                    dbpath: PathBuf::new(),
                    log_path: PathBuf::new(),
                    child: None,
                    detached: false,
                })
                .collect(),
            repl_set: rs.map(str::to_string),
            root,
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn standalone_uri_uses_direct_connection() {
        let c = fake_cluster(&[27017], None, None);
        assert_eq!(c.uri(), "mongodb://127.0.0.1:27017/?directConnection=true");
    }

    #[test]
    fn replica_set_uri_lists_all_hosts_and_encodes_credentials() {
        let c = fake_cluster(
            &[1, 2],
            Some("rs0"),
            Some(RootUser::new("ro:ot", "p@ss/w%rd")),
        );
        assert_eq!(
            c.uri(),
            "mongodb://ro%3Aot:p%40ss%2Fw%25rd@127.0.0.1:1,127.0.0.1:2/?replicaSet=rs0&authSource=admin"
        );
        assert_eq!(
            c.uri_without_credentials(),
            "mongodb://127.0.0.1:1,127.0.0.1:2/?replicaSet=rs0"
        );
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(20).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len());
    }
}
