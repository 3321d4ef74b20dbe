//! The command-line contract a CI job relies on: exit codes (0 ok, 1 error including usage
//! errors, 2 drift or findings), a JSON error object under `-o json`, and connection strings
//! whose passwords never reach any output, however malformed.

use crate::common;
use crate::support::{mongoctl, refusing_port, repo};

/// A password with an unencoded `/`, `?`, `@`, `#`, `:` or space makes the URI invalid, and
/// that is exactly when a naive redaction printed it.
#[tokio::test]
async fn malformed_connection_strings_never_print_their_password() {
    let server = common::standalone().await;
    let port = server.ports()[0];
    let cases = [
        (format!("mongodb://ceo:pa/ss@127.0.0.1:{port}/"), "pa/ss"),
        (format!("mongodb://ceo:pa?ss@127.0.0.1:{port}/"), "pa?ss"),
        (
            format!("mongodb://ceo:p@ssw0rd@127.0.0.1:{port}/"),
            "p@ssw0rd",
        ),
        (format!("mongodb://ceo:pa#ssw@127.0.0.1:{port}"), "pa#ssw"),
        (format!("mongodb://ceo:pa:ssw@127.0.0.1:{port}"), "pa:ssw"),
        (format!("mongodb://ceo:pa ssw@127.0.0.1:{port}"), "pa ssw"),
        ("mongodb://ceo:hunter22@".to_string(), "hunter22"),
        (format!("ceo:hunter22@127.0.0.1:{port}"), "hunter22"),
        // Well-formed but wrong: authentication fails, and the password still never shows.
        (
            format!("mongodb://ceo:Wr0ng%2Fpass@127.0.0.1:{port}/?serverSelectionTimeoutMS=2000"),
            "Wr0ng",
        ),
    ];
    for (uri, secret) in &cases {
        for args in [
            &["plan"][..],
            &["health"],
            &["stats", "-o", "json"],
            &["list"],
        ] {
            let out = mongoctl(&repo(), args).uri(uri).run();
            assert_eq!(out.code, 1, "{args:?} with {uri}: {}", out.all());
            let all = out.all();
            assert!(!all.contains(secret), "{args:?} printed {secret:?}:\n{all}");
            assert!(
                !all.contains("ceo:pa"),
                "{args:?} printed part of the userinfo:\n{all}"
            );
            assert!(all.contains("error"), "{all}");
        }
    }
    // The same password in MONGODB_URI.
    let out = mongoctl(&repo(), &["plan"])
        .env("MONGODB_URI", &cases[0].0)
        .run();
    out.expect_code(1);
    assert!(!out.all().contains("pa/ss"), "{}", out.all());
    assert!(
        out.stderr.contains("must be percent-encoded"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    let usage = [
        &["--bogus"][..],
        &["plan", "--no-such-flag"],
        &["stats", "--sort", "nonsense"],
        &["verify", "--samples", "many"],
        &["users", "rotate"],
        &["no-such-command"],
    ];
    for args in usage {
        let out = mongoctl(&repo(), args).run();
        assert_eq!(out.code, 1, "{args:?}: {}", out.all());
        assert!(out.stderr.contains("error"), "{args:?}: {}", out.stderr);
        // With -o json a reader gets an object naming the kind.
        let mut json_args = args.to_vec();
        json_args.extend(["-o", "json"]);
        let out = mongoctl(&repo(), &json_args).run();
        assert_eq!(out.code, 1, "{json_args:?}");
        let v = out.json();
        assert_eq!(v["kind"], "usage", "{json_args:?}: {v}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    // A connection string typed where clap expects nothing is quoted without its password.
    let misplaced = mongoctl(&repo(), &["plan", "mongodb://ceo:Hunter2secret@h1:27017/"]).run();
    assert_eq!(misplaced.code, 1, "{}", misplaced.all());
    assert!(
        misplaced.stderr.contains("unexpected argument"),
        "{}",
        misplaced.stderr
    );
    assert!(
        !misplaced.all().contains("Hunter2secret"),
        "{}",
        misplaced.all()
    );
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["--version"],
        &["backup", "--help"],
    ] {
        let out = mongoctl(&repo(), args).run();
        assert_eq!(out.code, 0, "{args:?}: {}", out.all());
        assert!(!out.stdout.is_empty());
    }
    let help = mongoctl(&repo(), &["--help"]).run();
    assert!(
        help.stdout.contains("1 error (usage errors too)"),
        "{}",
        help.stdout
    );
}

/// Reports used to print a warning per database and exit 0 when nothing answered.
#[test]
fn an_unreachable_server_is_an_error_for_every_command_with_a_json_object() {
    let closed = refusing_port();
    let uri = format!(
        "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=1000",
        closed.port
    );
    let commands = [
        &["stats"][..],
        &["stats", "--indexes"],
        &["stats", "--server"],
        &["profile", "status"],
        &["plan"],
        &["list"],
        &["audit"],
        &["verify"],
        &["health"],
        &["explain", "-d", "auth", "-c", "users", "--filter", "{}"],
    ];
    for args in commands {
        let out = mongoctl(&repo(), args).uri(&uri).run();
        assert_eq!(out.code, 1, "{args:?}: {}", out.all());
        assert!(
            out.stderr.contains("connection refused"),
            "{args:?}: {}",
            out.stderr
        );
        let mut json_args = args.to_vec();
        json_args.extend(["-o", "json"]);
        let out = mongoctl(&repo(), &json_args).uri(&uri).run();
        assert_eq!(out.code, 1, "{json_args:?}: {}", out.all());
        let v = out.json();
        let error = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{json_args:?}: {v}"));
        assert!(error.contains("connection refused"), "{json_args:?}: {v}");
    }
}

/// A database name from the environment at run time is held to the namespace limit before
/// anything is sent (check can only judge the names the manifest declares).
#[test]
fn a_database_name_from_the_environment_too_long_for_a_namespace_is_refused_offline() {
    let dir = tempfile::tempdir().unwrap();
    let coll = "c".repeat(200);
    crate::support::write(
        dir.path(),
        "mongoctl.json",
        &format!(
            r#"{{"project": "n", "domains": {{"app": {{"database": "n_app", "collections": {{"{coll}": {{}}}}}}}}}}"#
        ),
    );
    mongoctl(dir.path(), &["check"]).run().expect_code(0);
    let closed = refusing_port();
    let db = "d".repeat(60);
    let out = mongoctl(dir.path(), &["plan"])
        .uri(&format!("mongodb://127.0.0.1:{}/", closed.port))
        .env("DB_NAME_APP", &db)
        .run();
    out.expect_code(1);
    assert!(out.stderr.contains("is 261 bytes"), "{}", out.stderr);
    assert!(!out.stderr.contains("connection refused"), "{}", out.stderr);
}
