//! Running the real `mongoctl` binary the way a user does, with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::mongoctl_bin;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Both streams, for "never printed" assertions.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// [`Output`] with stdout kept as bytes.
pub struct RawOutput {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

pub struct Run {
    cmd: Command,
}

/// `mongoctl <args>` with no inherited MongoDB settings, no terminal, and the given spec.
pub fn mongoctl(spec: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(mongoctl_bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CI", "true")
        .arg("--spec")
        .arg(spec)
        .args(args);
    // A fresh secrets file per run, under target/ (git-ignored): specs with generated
    // passwords apply without every test naming one.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secrets = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("secrets-{}-{n}.jsonl", std::process::id()));
    cmd.env("MONGOCTL_SECRETS_FILE", secrets);
    // Keep the mongod the test harness uses (scripts/test exports it).
    if let Ok(m) = std::env::var("MONGOD") {
        cmd.env("MONGOD", m);
    }
    cmd.stdin(std::process::Stdio::null());
    Run { cmd }
}

impl Run {
    pub fn uri(mut self, uri: &str) -> Self {
        self.cmd.arg("--uri").arg(uri);
        self
    }

    /// `--secrets-file` in `dir` (the default spec generates service users' passwords).
    pub fn secrets_in(self, dir: &Path) -> Self {
        let file = dir.join("secrets.jsonl");
        self.env("MONGOCTL_SECRETS_FILE", file.to_str().expect("utf-8 path"))
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Starts it with stdout and stderr piped, for tests that act while it runs.
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting mongoctl")
    }

    /// Runs it with `stdin` (when given) fed through a pipe, keeping stdout as bytes:
    /// archives through pipes.
    pub fn run_piped(mut self, stdin: Option<Vec<u8>>) -> RawOutput {
        use std::io::Write;
        if stdin.is_some() {
            self.cmd.stdin(std::process::Stdio::piped());
        }
        let mut child = self.spawn();
        let feeder = stdin.map(|bytes| {
            let mut w = child.stdin.take().expect("piped stdin");
            std::thread::spawn(move || {
                // mongoctl may stop reading early (a damaged archive): not the test's error.
                let _ = w.write_all(&bytes);
            })
        });
        let out = child.wait_with_output().expect("waiting for mongoctl");
        if let Some(f) = feeder {
            let _ = f.join();
        }
        RawOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("running mongoctl");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A private, writable copy of a workspace (the repo root's or an example's).
pub fn copy_workspace(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mongoctl-spec-")
        .tempdir()
        .expect("tempdir");
    std::fs::copy(src.join("mongoctl.json"), dir.path().join("mongoctl.json"))
        .expect("copy manifest");
    for kind in [
        "schemas",
        "indexes",
        "seeds",
        "migrations",
        "queries",
        "imports",
    ] {
        copy_dir(&src.join(kind), &dir.path().join(kind));
    }
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    let Ok(entries) = std::fs::read_dir(src) else {
        return;
    };
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in entries.flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).expect("copy");
        }
    }
}

/// Writes `text` to `rel` inside a workspace, creating folders.
pub fn write(ws: &Path, rel: &str, text: &str) {
    let p = ws.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// A loopback port that is bound but never listened on: connecting to it is
/// refused for as long as the value lives, and no other test's server can take
/// it (a port merely found free can be taken by a parallel test at any time).
pub struct RefusingPort {
    _socket: std::os::fd::OwnedFd,
    pub port: u16,
}

pub fn refusing_port() -> RefusingPort {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor we own; the structs are
    // zero-initialised C structs of the sizes passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let socket = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, (&raw const addr).cast(), len);
        assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
        let mut len = len;
        let named = libc::getsockname(fd, (&raw mut addr).cast(), &mut len);
        assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
        RefusingPort {
            _socket: socket,
            port: u16::from_be(addr.sin_port),
        }
    }
}

/// The first of `n` consecutive loopback ports that are free now and lie below the kernel's
/// ephemeral range, which is where every "any free port" (bind to port 0) comes from: a
/// server stopped and restarted on these ports cannot lose them to another test's server
/// in between.
pub fn free_ports_below_ephemeral(n: u16) -> u16 {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let floor = 20_000.min(low / 2);
    let span = low - n - floor;
    // Spread the starting points so that parallel callers rarely probe the same ports.
    let seed = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for k in 0..span as u64 {
        let base = floor + ((seed + k * 97) % span as u64) as u16;
        let all_free =
            (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free ports below {low}");
}

/// Every document of `db.coll`, in the server's natural order.
pub async fn all_documents(client: &mongodb::Client, db: &str, coll: &str) -> Vec<bson::Document> {
    use futures::TryStreamExt;
    client
        .database(db)
        .collection::<bson::Document>(coll)
        .find(bson::doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}
