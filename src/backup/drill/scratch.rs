//! Where a drill restores to: a scratch standalone mongod it starts itself (temporary dbpath,
//! a free loopback port; stopped and removed afterwards), or, with `--uri`, scratch databases
//! with a prefix in that cluster (dropped afterwards).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use mongodb::Client;
use serde::Serialize;

use crate::mongod::{MongodProcess, MongodSpec, direct_client, find_mongod};

/// Where a drill was restored, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct ScratchInfo {
    /// "server" (a scratch mongod) or "prefix" (prefixed databases of `--uri`).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbpath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Whether it was stopped and removed (server) or its databases dropped (prefix).
    pub cleaned_up: bool,
}

pub enum Scratch {
    Server {
        // Field order is drop order: the server stops before its dbpath is removed.
        process: MongodProcess,
        dir: ScratchDir,
        client: Client,
    },
    Prefixed {
        client: Client,
        prefix: String,
    },
}

impl Scratch {
    /// Starts a scratch standalone mongod (`MONGOD` or the bundled/`PATH` one).
    pub async fn start_server() -> Result<Scratch> {
        let binary = find_mongod()?;
        let dir = ScratchDir::create()?;
        let spec = MongodSpec::new(binary, dir.0.join("db"));
        let process = MongodProcess::start(&spec)
            .await
            .context("starting the drill's scratch mongod")?;
        let client = direct_client(process.port(), None, Duration::from_secs(10))?;
        Ok(Scratch::Server {
            process,
            dir,
            client,
        })
    }

    pub fn prefixed(client: Client, prefix: String) -> Scratch {
        Scratch::Prefixed { client, prefix }
    }

    pub fn client(&self) -> &Client {
        match self {
            Scratch::Server { client, .. } | Scratch::Prefixed { client, .. } => client,
        }
    }

    /// The `--ns-from`/`--ns-to` pair that moves every database under the prefix.
    pub fn rename(&self) -> Option<(String, String)> {
        match self {
            Scratch::Server { .. } => None,
            Scratch::Prefixed { prefix, .. } => Some(("*".into(), format!("{prefix}*"))),
        }
    }

    pub fn info(&self) -> ScratchInfo {
        match self {
            Scratch::Server { process, dir, .. } => ScratchInfo {
                kind: "server".into(),
                port: Some(process.port()),
                pid: Some(process.pid()),
                dbpath: Some(dir.0.display().to_string()),
                prefix: None,
                cleaned_up: false,
            },
            Scratch::Prefixed { prefix, .. } => ScratchInfo {
                kind: "prefix".into(),
                port: None,
                pid: None,
                dbpath: None,
                prefix: Some(prefix.clone()),
                cleaned_up: false,
            },
        }
    }

    /// Stops and removes the scratch server, or drops the prefixed databases (every database
    /// whose name starts with the prefix, so that a restore stopped midway leaves none).
    pub async fn clean_up(self) -> Result<()> {
        match self {
            Scratch::Server {
                mut process, dir, ..
            } => {
                process
                    .stop()
                    .context("stopping the drill's scratch mongod")?;
                dir.remove()
            }
            Scratch::Prefixed { client, prefix } => {
                let names = client
                    .list_database_names()
                    .await
                    .context("listing databases to drop the drill's")?;
                for db in names.iter().filter(|d| d.starts_with(&prefix)) {
                    client
                        .database(db)
                        .drop()
                        .await
                        .with_context(|| format!("dropping the drill's database {db}"))?;
                }
                Ok(())
            }
        }
    }
}

/// The scratch server's directory under the system's temporary directory, removed when
/// dropped (a drill that fails or panics leaves none behind).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> Result<ScratchDir> {
        let id = bson::oid::ObjectId::new().to_hex();
        let path = std::env::temp_dir().join(format!("mongoctl-drill-{}-{id}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating the drill's dbpath {}", path.display()))?;
        Ok(ScratchDir(path))
    }

    fn remove(self) -> Result<()> {
        let r = std::fs::remove_dir_all(&self.0)
            .with_context(|| format!("removing the drill's dbpath {}", self.0.display()));
        std::mem::forget(self);
        r
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
