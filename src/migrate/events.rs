//! What a migration run tells its observer, so the engine never draws: `render::migrate`
//! turns these into progress bars, or ignores them.

use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    StepStarted {
        migration: &'a str,
        index: usize,
        summary: &'a str,
        /// Documents the step is expected to touch (counted by the server), when known.
        expected: Option<u64>,
    },
    /// `docs` more documents of the current step are done (per batch, never per document).
    Advanced {
        docs: u64,
    },
    /// Work around a step's data: taking its rollback point, verifying a copy, restoring.
    Phase(&'a str),
    StepFinished {
        migration: &'a str,
        index: usize,
    },
}

pub type Observer = Arc<dyn Fn(Event<'_>) + Send + Sync>;

pub fn ignore() -> Observer {
    Arc::new(|_| {})
}
