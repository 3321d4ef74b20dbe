//! The command line's shape: the top-level parser and the list of subcommands. Each
//! subcommand's `Args` lives beside its `run` in `commands/`; the shared flag groups are in
//! `flags.rs`; `context.rs` resolves them into settings.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mongoctl",
    version,
    about = "Declarative MongoDB administration: lint, plan and apply a cluster spec kept in git",
    after_help = "Exit codes: 0 success; 1 error (usage errors too); 2 changes pending, drift or findings (plan --exit-code, verify, audit)\n\
                  Environment: MONGODB_URI, MONGOCTL_SPEC, MONGOCTL_ENV, MONGOCTL_USERNAME, MONGOCTL_PASSWORD, MONGOCTL_SECRETS_FILE, DB_NAME_<DOMAIN>, MONGOD"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: crate::flags::GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Lint the workspace offline: every problem, with file, JSON path and line:column
    #[command(
        after_help = "Example:\n  mongoctl check\n  mongoctl --spec examples/carechat check -o json"
    )]
    Check(crate::commands::check::CheckArgs),
    /// Show what `apply` would change on the live cluster
    #[command(
        after_help = "Example:\n  mongoctl plan --domain auth\n  mongoctl plan --exit-code   # exit 2 when changes are pending (CI drift gate)"
    )]
    Plan(crate::commands::plan::PlanArgs),
    /// Converge the cluster to the spec
    #[command(
        visible_alias = "setup",
        after_help = "Example:\n  mongoctl apply\n  mongoctl setup --domain auth --dry-run\n  mongoctl apply --prune --yes\n  mongoctl apply --warn-first   # a new $jsonSchema stored documents violate: set it at warn, promote later"
    )]
    Apply(crate::commands::apply::ApplyArgs),
    /// Domains, their databases, and collections declared / present / unmanaged
    #[command(after_help = "Example:\n  mongoctl list\n  mongoctl list -o json")]
    List(crate::commands::list::ListArgs),
    /// Ping, server version, topology, latency, authenticated user
    #[command(
        after_help = "Example:\n  mongoctl health --uri mongodb://127.0.0.1:27017\n  mongoctl health --check   # the manifest's alert thresholds: exit 2 when one is crossed"
    )]
    Health(crate::commands::health::HealthArgs),
    /// Print (or write) the JSON Schemas of the workspace file kinds, for editors
    #[command(
        after_help = "Example:\n  mongoctl spec-schema manifest\n  mongoctl spec-schema --write .mongoctl/schema"
    )]
    SpecSchema(crate::commands::spec_schema::SpecSchemaArgs),
    /// Report users and roles against the spec: undeclared, over-privileged, weak, drifted
    #[command(
        after_help = "Example:\n  mongoctl audit\n  mongoctl audit -o json   # exit 2 when there are findings"
    )]
    Audit(crate::commands::audit::AuditArgs),
    /// Manage declared users' passwords
    #[command(
        subcommand,
        after_help = "Example:\n  mongoctl users rotate svc_auth --secrets-file ~/secrets/dev.jsonl"
    )]
    Users(crate::commands::users::UsersCommand),
    /// A local MongoDB replica set for development
    #[command(
        subcommand,
        after_help = "Example:\n  mongoctl sandbox up --nodes 3\n  eval \"$(mongoctl sandbox up -q)\""
    )]
    Sandbox(crate::commands::sandbox::SandboxCommand),
    /// Database and collection sizes, index usage, server and replication health, growth
    #[command(
        after_help = "Example:\n  mongoctl stats --collections --sort docs\n  mongoctl stats --indexes --flagged\n  mongoctl stats --server\n  mongoctl stats --watch 2\n  mongoctl stats --record   # daily from cron, then: mongoctl stats --growth"
    )]
    Stats(crate::commands::stats::StatsArgs),
    /// The query profiler: status, set the level, the slowest operations
    #[command(
        subcommand,
        after_help = "Example:\n  mongoctl profile set --level 1 --slowms 50 --domain auth\n  mongoctl profile slow --limit 20 --since 1h"
    )]
    Profile(crate::commands::profile::ProfileCommand),
    /// The winning query plan of a find: index used or COLLSCAN, keys/docs examined, time
    #[command(
        after_help = "Example:\n  mongoctl explain --domain auth --collection users --filter '{\"email\": \"a@b.c\"}'\n  mongoctl explain -d reminder -c reminders --filter '{\"status\": \"scheduled\"}' --sort '{\"remind_at\": 1}'"
    )]
    Explain(crate::commands::explain::ExplainArgs),
    /// CI gate: check, then drift (exit 2), then documents that violate their declared schema
    #[command(
        after_help = "Example:\n  mongoctl verify\n  mongoctl verify --samples 10 -o json\n  mongoctl verify --output github   # annotations in a GitHub Actions job"
    )]
    Verify(crate::commands::verify::VerifyArgs),
    /// One self-contained HTML page: cluster, sizes and growth charts, indexes, drift,
    /// conformance, audit, backups, slow operations, tenants
    #[command(
        after_help = "Example:\n  mongoctl report --out report.html\n  mongoctl report --domain auth -o json"
    )]
    Report(crate::commands::report::ReportArgs),
    /// Scaffold a new workspace, or write one from a live cluster (--from-cluster)
    #[command(
        after_help = "Example:\n  mongoctl init my-spec --project shop --domain orders --collections orders,carts --yes\n  mongoctl init from-cluster --from-cluster --uri mongodb://127.0.0.1:27017 --prefix reminderdb_"
    )]
    Init(crate::commands::init::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(
        after_help = "Example:\n  mongoctl completions bash > ~/.local/share/bash-completion/completions/mongoctl\n  mongoctl completions zsh > \"${fpath[1]}/_mongoctl\""
    )]
    Completions(crate::commands::completions::CompletionsArgs),
    /// Back up databases to a mongodump-compatible directory or archive, with a manifest
    #[command(
        after_help = "Example:\n  mongoctl backup --domain auth --out backups/auth-$(date +%F)\n  mongoctl backup --db reminderdb_auth --archive auth.archive --gzip\n  mongoctl backup --oplog --out backups/full   # point in time (replica set)\n  mongoctl backup verify backups/full\n  mongoctl backup prune backups --keep-last 3 --keep-daily 7 --yes"
    )]
    Backup(crate::commands::backup::BackupArgs),
    /// Restore a backup (directory, archive or stdin), optionally into other namespaces
    #[command(
        after_help = "Example:\n  mongoctl restore backups/full --dry-run\n  mongoctl restore backups/full --ns-from 'reminderdb_*' --ns-to 'staging_reminderdb_*'\n  mongoctl restore --archive auth.archive --drop --yes\n  mongoctl restore backups/full --oplog-replay --oplog-limit 1763780000:1"
    )]
    Restore(crate::commands::restore::RestoreArgs),
    /// Versioned data migrations: status, plan (counted by the server), up, rollback
    #[command(
        subcommand,
        after_help = "Example:\n  mongoctl migrate status\n  mongoctl migrate plan\n  mongoctl migrate up\n  mongoctl migrate rollback --yes"
    )]
    Migrate(crate::commands::migrate::MigrateCommand),
    /// Import PostgreSQL tables into validated collections, as imports/NAME.json declares (resumable, verified)
    #[command(
        after_help = "The password comes from PGPASSWORD (or a hidden prompt on a terminal) and is never printed.\n\nExample:\n  mongoctl --spec examples/carechat import carechat --from postgres://importer@localhost:5432/carechat --dry-run\n  mongoctl --spec examples/carechat import carechat --from postgres://importer@localhost:5432/carechat\n  mongoctl --spec examples/carechat import carechat --from postgres://importer@localhost:5432/carechat --verify -o json"
    )]
    Import(crate::commands::import::ImportArgs),
    /// Print the man page (roff), generated from the command-line definitions
    #[command(after_help = "Example:\n  mongoctl man > mongoctl.1 && man ./mongoctl.1")]
    Man,
}
