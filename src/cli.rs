//! Command-line types only (clap). Resolution of these values into settings happens in
//! `context.rs`; each subcommand's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Spec workspace directory (holds mongoctl.json)
    #[arg(
        long,
        global = true,
        env = "MONGOCTL_SPEC",
        default_value = ".",
        value_name = "DIR"
    )]
    pub spec: PathBuf,
    /// Connection string; overrides MONGODB_URI and the environment's uriEnv
    #[arg(long, global = true, value_name = "URI")]
    pub uri: Option<String>,
    /// User to authenticate as (password from MONGOCTL_PASSWORD, else a hidden prompt)
    #[arg(
        long,
        short = 'u',
        global = true,
        env = "MONGOCTL_USERNAME",
        value_name = "USER"
    )]
    pub username: Option<String>,
    /// Environment from the manifest (its URI variable, database names)
    #[arg(long = "env", global = true, env = "MONGOCTL_ENV", value_name = "NAME")]
    pub environment: Option<String>,
    /// Output format
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// More detail (repeat for more)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Answer yes to confirmations of destructive steps (required when there is no terminal)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Never show progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    /// GitHub Actions annotations (`::error file=…::…`; `verify` only, others print tables)
    Github,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Lint the workspace offline: every problem, with file, JSON path and line:column
    #[command(
        after_help = "Example:\n  mongoctl check\n  mongoctl --spec examples/carechat check -o json"
    )]
    Check(CheckArgs),
    /// Show what `apply` would change on the live cluster
    #[command(
        after_help = "Example:\n  mongoctl plan --domain auth\n  mongoctl plan --exit-code   # exit 2 when changes are pending (CI drift gate)"
    )]
    Plan(PlanArgs),
    /// Converge the cluster to the spec (alias: setup)
    #[command(
        visible_alias = "setup",
        after_help = "Example:\n  mongoctl apply\n  mongoctl setup --domain auth --dry-run\n  mongoctl apply --prune --yes"
    )]
    Apply(ApplyArgs),
    /// Domains, their databases, and collections declared / present / unmanaged
    #[command(after_help = "Example:\n  mongoctl list\n  mongoctl list -o json")]
    List(ListArgs),
    /// Ping, server version, topology, latency, authenticated user
    #[command(after_help = "Example:\n  mongoctl health --uri mongodb://127.0.0.1:27017")]
    Health,
    /// Print (or write) the JSON Schemas of the workspace file kinds, for editors
    #[command(
        after_help = "Example:\n  mongoctl spec-schema manifest\n  mongoctl spec-schema --write .mongoctl/schema"
    )]
    SpecSchema(SpecSchemaArgs),
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
    Sandbox(SandboxCommand),
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
        after_help = "Example:\n  mongoctl explain --domain auth --collection users --filter '{\"email\": \"a@b.c\"}'\n  mongoctl explain -d reminder -c reminders --filter '{\"status\": \"due\"}' --sort '{\"due_at\": 1}'"
    )]
    Explain(crate::commands::explain::ExplainArgs),
    /// CI gate: check, then drift (exit 2), then documents that violate their declared schema
    #[command(
        after_help = "Example:\n  mongoctl verify\n  mongoctl verify --samples 10 -o json\n  mongoctl verify --output github   # annotations in a GitHub Actions job"
    )]
    Verify(crate::commands::verify::VerifyArgs),
    /// Scaffold a new workspace, or write one from a live cluster (--from-cluster)
    #[command(
        after_help = "Example:\n  mongoctl init my-spec --project shop --domain orders --collections orders,carts --yes\n  mongoctl init exported --from-cluster --uri mongodb://127.0.0.1:27017 --prefix reminderdb_"
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
    /// Print the man page (roff), generated from the command-line definitions
    #[command(after_help = "Example:\n  mongoctl man > mongoctl.1 && man ./mongoctl.1")]
    Man,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CheckArgs {}

#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Limit to these domains (repeatable or comma-separated)
    #[arg(long, short = 'd', value_delimiter = ',', value_name = "DOMAIN")]
    pub domain: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlanArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Also plan dropping unmanaged collections and indexes
    #[arg(long)]
    pub prune: bool,
    /// Exit 2 when changes are pending
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Drop unmanaged collections and indexes (destructive: needs confirmation or --yes)
    #[arg(long)]
    pub prune: bool,
    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Where generated passwords of new users are appended (created 0600, never overwritten)
    #[arg(long, env = "MONGOCTL_SECRETS_FILE", value_name = "PATH")]
    pub secrets_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// The cluster lease taken by commands that change a cluster (see `lease.rs`).
#[derive(Args, Debug, Clone, Default)]
pub struct LockArgs {
    /// Seconds to wait for another mongoctl run that is changing the cluster (default: fail at once)
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_wait: u64,
}

impl LockArgs {
    pub fn wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lock_wait)
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SpecSchemaArgs {
    /// Which schema to print
    #[arg(value_enum, default_value_t = SchemaKind::Manifest)]
    pub kind: SchemaKind,
    /// Write all schemas into DIR instead of printing one
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SchemaKind {
    Manifest,
    Indexes,
    Seeds,
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
