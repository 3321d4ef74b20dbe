//! Database-per-tenant: a domain marked `"tenancy": "database"` is a template (its database
//! name, and the names of template roles and users, hold `{tenant}`) instantiated for every
//! tenant of the manifest's `"tenants"` source.
//!
//! The flow stays spec → model → pure diff → plan: `expand` splits the desired state into the
//! shared part and the [`expand::Templates`] and instantiates them per tenant (a pure function
//! of the spec and the tenant list); `plan` reads the live state of the fleet (one
//! `listDatabases`, then each tenant's databases with bounded concurrency) and diffs each
//! tenant into a [`fleet::FleetPlan`], which keeps only the tenants that have something to
//! do; `run` applies the tenant plans with a bounded pool; `fleet` groups them for display.
//!
//! Model for later features (isolation audit, quotas, `stats --tenants`): a tenant is a
//! [`crate::spec::tenants::Tenant`] (id and optional class); its databases are
//! `expand::databases(templates, id)`, its roles and users `expand::access(templates, id)`.

pub mod expand;
pub mod fleet;
pub mod plan;
pub mod run;
pub mod source;
