//! Checks that the test harness (and `mongoctl::mongod`) really start, secure
//! and clean up servers.

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use mongoctl::mongod::{self, ClusterOptions, MongodProcess, MongodSpec};
use mongodb::bson::{Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::{Acknowledgment, ReadPreference, SelectionCriteria, WriteConcern};

/// Processes holding a listening TCP socket on `port`, with their command
/// lines. Asking "does the port refuse connections?" instead is racy: tests
/// run in parallel and another test's server may take a port the moment it
/// is freed, so what matters is that *our* server no longer holds it.
fn listeners_on(port: u16) -> Vec<(u32, String)> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields[1].rsplit(':').next().unwrap();
            // State 0A is LISTEN; field 9 is the socket's inode.
            if u16::from_str_radix(local_port, 16) == Ok(port) && fields[3] == "0A" {
                inodes.push(format!("socket:[{}]", fields[9]));
            }
        }
    }
    let mut owners = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
        });
        if holds {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            owners.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    owners
}

/// Asserts that no process serving `dbpath` (or with `pid`) still listens on `port`.
fn assert_port_released(port: u16, pid: u32, dbpath: &Path) {
    let dbpath = dbpath.to_string_lossy();
    let ours: Vec<_> = listeners_on(port)
        .into_iter()
        .filter(|(owner, cmdline)| *owner == pid || cmdline.contains(dbpath.as_ref()))
        .collect();
    assert!(ours.is_empty(), "port {port} still held by {ours:?}");
}

#[tokio::test]
async fn standalone_accepts_writes_and_is_gone_after_drop() {
    let started = Instant::now();
    let server = common::standalone().await;
    eprintln!("standalone ready in {:?}", started.elapsed());

    let coll = server
        .client()
        .database("smoke")
        .collection::<Document>("c");
    coll.insert_one(doc! { "x": 1 }).await.unwrap();
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);

    let port = server.ports()[0];
    let pid = server.cluster().nodes()[0].pid();
    let dir = server.dir().to_path_buf();
    assert!(mongod::pid_is_running(pid));
    assert!(listeners_on(port).iter().any(|(owner, _)| *owner == pid));
    drop(server);

    assert!(!mongod::pid_is_running(pid), "mongod pid {pid} still alive");
    assert_port_released(port, pid, &dir);
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[tokio::test]
async fn replica_set_elects_primary_and_replicates_with_w3() {
    let started = Instant::now();
    let server = common::replica_set(3).await;
    eprintln!("3-node replica set ready in {:?}", started.elapsed());

    let hello = server
        .client()
        .database("admin")
        .run_command(doc! { "hello": 1 })
        .await
        .unwrap();
    assert_eq!(hello.get_str("setName").unwrap(), "rs0");
    let primary = format!("127.0.0.1:{}", server.ports()[0]);
    assert_eq!(hello.get_str("primary").unwrap(), primary);

    let w3 = WriteConcern::builder()
        .w(Acknowledgment::Nodes(3))
        .w_timeout(Duration::from_secs(20))
        .build();
    server
        .client()
        .database("smoke")
        .collection::<Document>("c")
        .insert_one(doc! { "_id": "replicated" })
        .write_concern(w3)
        .await
        .unwrap();

    // Every member, read directly, has the document.
    for port in server.ports() {
        let node = mongod::direct_client(port, None, Duration::from_secs(5)).unwrap();
        let found = node
            .database("smoke")
            .collection::<Document>("c")
            .find_one(doc! { "_id": "replicated" })
            .selection_criteria(SelectionCriteria::ReadPreference(
                ReadPreference::PrimaryPreferred {
                    options: Default::default(),
                },
            ))
            .await
            .unwrap();
        assert!(found.is_some(), "document missing on port {port}");
    }

    let pids: Vec<u32> = server.cluster().nodes().iter().map(|n| n.pid()).collect();
    let stopping = Instant::now();
    drop(server);
    eprintln!("3-node replica set stopped in {:?}", stopping.elapsed());
    for pid in pids {
        assert!(!mongod::pid_is_running(pid), "mongod pid {pid} still alive");
    }
}

#[tokio::test]
async fn auth_standalone_requires_credentials() {
    let server = common::auth_standalone().await;
    assert!(server.uri().contains(common::ROOT_USER));

    let anonymous = mongodb::Client::with_uri_str(server.uri_without_credentials())
        .await
        .unwrap();
    let err = anonymous
        .database("smoke")
        .collection::<Document>("c")
        .insert_one(doc! { "x": 1 })
        .await
        .expect_err("unauthenticated insert must fail");
    match err.kind.as_ref() {
        ErrorKind::Write(_) | ErrorKind::Command(_) => {
            assert!(err.to_string().contains("requires authentication"), "{err}")
        }
        other => panic!("unexpected error kind: {other:?}"),
    }

    server
        .client()
        .database("smoke")
        .collection::<Document>("c")
        .insert_one(doc! { "x": 1 })
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_replica_set_has_root_user() {
    let server = common::auth_replica_set(2).await;
    let status = server
        .client()
        .database("admin")
        .run_command(doc! { "replSetGetStatus": 1 })
        .await
        .unwrap();
    assert_eq!(status.get_array("members").unwrap().len(), 2);
    let anonymous = mongodb::Client::with_uri_str(server.uri_without_credentials())
        .await
        .unwrap();
    assert!(
        anonymous
            .database("admin")
            .run_command(doc! { "replSetGetStatus": 1 })
            .await
            .is_err()
    );
}

#[tokio::test]
async fn explicit_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = MongodSpec::new(mongod::find_mongod().unwrap(), dir.path().join("db"));
    spec.port = Some(port);
    let err = MongodProcess::start(&spec).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("port {port} is in use")),
        "unexpected error: {err:#}"
    );
}

#[tokio::test]
async fn detached_server_survives_handle_and_stops_by_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let options = ClusterOptions {
        binary: Some(mongod::find_mongod().unwrap()),
        detached: true,
        ..ClusterOptions::standalone()
    };
    let cluster = mongod::start_cluster(dir.path(), &options).await.unwrap();
    let port = cluster.ports()[0];
    let pid = cluster.nodes()[0].pid();
    drop(cluster);

    // Dropping the handle leaves a detached server running.
    assert!(mongod::pid_is_running(pid));
    mongod::hello(port).await.unwrap();
    assert!(listeners_on(port).iter().any(|(owner, _)| *owner == pid));

    mongod::shutdown_node(port, Some(pid), None).await.unwrap();
    assert!(!mongod::pid_is_running(pid));
    assert_port_released(port, pid, dir.path());
}
