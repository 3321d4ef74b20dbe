//! Sharding and zones: what the manifest declares ([`model`]), what a sharded cluster has
//! ([`live`], read from `config.*` through a mongos) and the commands between them ([`diff`]).

pub mod diff;
pub mod live;
pub mod model;
