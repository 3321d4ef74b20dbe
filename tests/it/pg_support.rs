//! A real PostgreSQL server per test: `initdb` + `postgres` from `$PG_BIN` (scripts/test sets
//! it from scripts/install-postgres) in a temporary directory, on a free loopback port, with
//! password (SCRAM) authentication, stopped when dropped. PostgreSQL refuses to run as root, so
//! as root both run as the unprivileged `mongoctl-pg` user (created by the install script)
//! through `setpriv`, which also asks the kernel to kill the server if the test dies.
//! A missing server is a hard failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tokio_postgres::NoTls;

pub const PG_USER: &str = "mongoctl-pg";
pub const SUPERUSER: &str = "postgres";

pub struct PgServer {
    child: Child,
    pub port: u16,
    pub password: String,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> PathBuf {
    let dir = std::env::var("PG_BIN").map(PathBuf::from).ok().or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .collect();
        found.sort();
        found.pop()
    });
    match dir {
        Some(d) if d.join("initdb").is_file() && d.join("postgres").is_file() => d,
        _ => panic!(
            "no PostgreSQL server: set PG_BIN to the directory holding initdb and postgres, or run scripts/install-postgres"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program args…`, as the unprivileged user when we are root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            PG_USER,
            "--regid",
            PG_USER,
            "--init-groups",
            "--pdeathsig",
            "SIGKILL",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) {
    if !is_root() {
        return;
    }
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{PG_USER}:{PG_USER}"))
        .arg(path)
        .status()
        .expect("running chown");
    assert!(
        status.success(),
        "chown {PG_USER} {}: is the user there? run scripts/install-postgres",
        path.display()
    );
}

fn random_password() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("OS randomness");
    format!("pg-{}", hex::encode(b))
}

impl PgServer {
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("mongoctl-pg-")
            .tempdir()
            .expect("temp dir");
        let password = random_password();
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, &password).unwrap();
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).unwrap();
        chown_to_server_user(dir.path());
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&pwfile).unwrap();
        let port = crate::support::free_ports_below_ephemeral(1);
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        let child = as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&sock)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting postgres");
        let server = PgServer {
            child,
            port,
            password,
            _dir: dir,
        };
        server.wait_ready(&bin);
        server
    }

    fn wait_ready(&self, bin: &Path) {
        for _ in 0..300 {
            let ok = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let log =
            std::fs::read_to_string(self._dir.path().join("postgres.log")).unwrap_or_default();
        panic!(
            "postgres did not become ready on port {}:\n{log}",
            self.port
        );
    }

    /// The connection string without the password (mongoctl takes it from `PGPASSWORD`).
    pub fn uri(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The connection string with the password in it (mongoctl must never print it).
    pub fn uri_with_password(&self) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.uri_with_password(), NoTls)
            .await
            .expect("connecting to the test postgres");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// Runs SQL statements (DDL, inserts) as the superuser.
    pub async fn exec(&self, sql: &str) {
        self.client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {e:?}\n{sql}"));
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (backends end, no checkpoint wait).
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let _ = self.child.wait();
    }
}
