//! Versioned data migrations: `migrations/NNNN_name.json` files of declarative steps, a
//! changelog in `<metadataDatabase>.migrations`, and the engine that plans, runs (batched,
//! resumable, under the cluster lease) and rolls them back (from rollback points taken with
//! the backup engine before any step that rewrites or drops data).
//!
//! files ─► spec::migrations ─► model ─┐
//! changelog (live) ───────────────────┴► status (pure) ─► count / up / rollback ─► events ─► render

pub mod batch;
pub mod changelog;
pub mod copy_step;
pub mod count;
pub mod events;
pub mod model;
pub mod pending;
pub mod rollback;
pub mod rollback_point;
pub mod status;
pub mod target;
pub mod up;
