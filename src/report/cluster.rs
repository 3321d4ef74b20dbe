//! The cluster part: topology, members and their lag, the oplog window, versions
//! (`stats --server`'s numbers, plus `buildInfo`, which any authenticated user may run).

use bson::doc;
use mongodb::Client;
use serde::Serialize;

use super::Part;
use crate::stats::{self, ServerReport};

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// "standalone" or "replica set <name>".
    pub topology: String,
    /// The connected server's version (from buildInfo).
    pub version: Option<String>,
    #[serde(flatten)]
    pub report: ServerReport,
}

pub async fn cluster(client: &Client) -> Part<Cluster> {
    let report = match stats::server_report(client).await {
        Ok(r) => r,
        Err(e) => return Part::failed(&e, "hello", "the cluster"),
    };
    let version = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .ok()
        .and_then(|b| b.get_str("version").ok().map(str::to_string));
    let topology = match &report.replication {
        Some(r) => format!("replica set {}", r.set_name),
        None => "standalone".to_string(),
    };
    // Nothing but the topology readable: say why rather than show an empty table.
    if let stats::Section::Unavailable { unavailable } = &report.server
        && report
            .replication
            .as_ref()
            .is_none_or(|r| matches!(r.members, stats::Section::Unavailable { .. }))
    {
        // What any user may read still says which cluster this is.
        return Part::Unavailable {
            reason: format!(
                "{topology}, version {}: {}",
                version.as_deref().unwrap_or("unknown"),
                unavailable.short()
            ),
            missing_privilege: unavailable.missing_privilege.clone(),
        };
    }
    Part::Ok {
        data: Cluster {
            topology,
            version,
            report,
        },
    }
}
