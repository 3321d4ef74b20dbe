//! Integration-test harness: real mongod servers, each in its own temporary
//! directory, stopped and deleted when the [`TestServer`] is dropped.
//!
//! Use from a test file with `mod common;`. Servers are children of the test
//! process and are killed by the kernel if it dies, so nothing leaks.
//! A missing mongod is a hard failure, never a silent skip: run
//! `scripts/install-mongod`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mongoctl::mongod::{self, Cluster, ClusterOptions, RootUser};
use mongodb::Client;
use mongodb::options::ClientOptions;
use tempfile::TempDir;

/// Root user of the `auth_*` servers.
pub const ROOT_USER: &str = "root";
pub const ROOT_PASSWORD: &str = "mongoctl-test-password";

/// The CLI binary under test.
pub fn mongoctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mongoctl"))
}

pub fn root_user() -> RootUser {
    RootUser::new(ROOT_USER, ROOT_PASSWORD)
}

/// A running deployment plus the directory holding its data.
pub struct TestServer {
    // Field order matters: the cluster must stop before its directory is
    // deleted.
    cluster: Cluster,
    options: ClientOptions,
    dir: TempDir,
}

impl TestServer {
    /// Connection string; includes the root user's credentials for `auth_*`.
    pub fn uri(&self) -> String {
        self.cluster.uri()
    }

    pub fn uri_without_credentials(&self) -> String {
        self.cluster.uri_without_credentials()
    }

    /// A client for [`TestServer::uri`]. Must be called inside a tokio runtime.
    pub fn client(&self) -> Client {
        Client::with_options(self.options.clone()).expect("creating a mongodb client")
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn ports(&self) -> Vec<u16> {
        self.cluster.ports()
    }

    pub fn root_user(&self) -> Option<&RootUser> {
        self.cluster.root_user()
    }

    /// The temporary directory (node dbpaths live in `node<i>/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Standalone without access control.
pub async fn standalone() -> TestServer {
    start(ClusterOptions::standalone()).await
}

/// Replica set `rs0` of `nodes` members; member 0 is primary and all others
/// are SECONDARY when this returns.
pub async fn replica_set(nodes: usize) -> TestServer {
    start(ClusterOptions::replica_set(nodes)).await
}

/// Standalone with `--auth`; `uri()` carries the root credentials.
pub async fn auth_standalone() -> TestServer {
    start(ClusterOptions {
        auth: Some(root_user()),
        ..ClusterOptions::standalone()
    })
    .await
}

/// Replica set with keyfile auth; `uri()` carries the root credentials.
pub async fn auth_replica_set(nodes: usize) -> TestServer {
    start(ClusterOptions {
        auth: Some(root_user()),
        ..ClusterOptions::replica_set(nodes)
    })
    .await
}

async fn start(mut options: ClusterOptions) -> TestServer {
    let binary = mongod::find_mongod().unwrap_or_else(|e| {
        panic!(
            "integration tests need a mongod binary: {e:#}\n\
             run `scripts/install-mongod` from the repository root (or set $MONGOD)"
        )
    });
    options.binary = Some(binary);
    // Tests may hold the server at a chosen moment with `configureFailPoint`.
    options.test_commands = true;
    let dir = tempfile::Builder::new()
        .prefix("mongoctl-test-")
        .tempdir()
        .expect("creating a temporary directory for mongod");
    let cluster = mongod::start_cluster(dir.path(), &options)
        .await
        .unwrap_or_else(|e| panic!("starting test mongod: {e:#}"));
    let mut client_options = ClientOptions::parse(cluster.uri())
        .await
        .unwrap_or_else(|e| panic!("parsing {}: {e}", cluster.uri()));
    // The tests' own checks must not fail because a loaded 2-core machine (wine running the
    // real mongo-tools beside several mongods) answers a heartbeat slowly: the driver's
    // default 10 s monitor timeout then clears the pool under a test's running query.
    client_options.connect_timeout = Some(std::time::Duration::from_secs(60));
    client_options.server_selection_timeout = Some(std::time::Duration::from_secs(60));
    TestServer {
        cluster,
        options: client_options,
        dir,
    }
}
