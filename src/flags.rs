//! The flag groups every command shares (connection and output, scope, the cluster lease),
//! flattened into each command's `Args`. Raw values only: `context.rs` resolves them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

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
    /// GitHub Actions annotations (`::error file=…::…`; `verify` and `health --check`, others
    /// print tables)
    Github,
    /// Prometheus text exposition format (`stats` only, others print tables)
    Prometheus,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Limit to these domains (repeatable or comma-separated; --service is the same)
    #[arg(
        long,
        short = 'd',
        visible_alias = "service",
        value_delimiter = ',',
        value_name = "DOMAIN"
    )]
    pub domain: Vec<String>,
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

/// Template workspaces (database per tenant): which tenants, how many at a time.
#[derive(Args, Debug, Clone)]
pub struct TenantArgs {
    /// Limit to these tenants (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub tenant: Vec<String>,
    /// Tenants read and applied at a time
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
}

impl Default for TenantArgs {
    fn default() -> Self {
        TenantArgs {
            tenant: Vec::new(),
            jobs: 8,
        }
    }
}

impl TenantArgs {
    pub fn selection(&self) -> crate::tenancy::plan::Selection {
        crate::tenancy::plan::Selection {
            only: self.tenant.clone(),
            jobs: self.jobs,
        }
    }
}
