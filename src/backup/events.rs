//! What a backup or a restore tells its observer as it goes, so that the engine never draws:
//! the render side (`render::backup`) turns these into progress bars, or ignores them. Events
//! come per chunk or batch of documents (about a MiB), never per document, from several
//! collections' tasks at once.

use std::sync::Arc;

/// One step of a backup or restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The data copy begins: the documents every namespace is expected to hold, together.
    Started { expected_docs: u64 },
    /// A namespace's copy is queued; `index` names it in the events that follow.
    NamespaceStarted {
        index: usize,
        namespace: &'a str,
        expected_docs: u64,
    },
    /// `docs` more documents of `bytes` bytes of namespace `index` are done.
    Advanced { index: usize, docs: u64, bytes: u64 },
    /// Namespace `index` is done, or failed.
    NamespaceFinished { index: usize, ok: bool },
    /// The data copy is over (what follows is a [`Phase`]).
    Finished,
    /// A step that is not a namespace's data copy.
    Phase(Phase<'a>),
}

/// Steps around the data copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase<'a> {
    /// Restore: checking every file (and the server's acceptance) before the first write.
    Verifying,
    /// Restore: building the indexes of a namespace whose data is in.
    BuildingIndexes { namespace: &'a str },
    /// Restore `--drop`: swapping the restored copies in for their targets.
    SwappingIn,
    /// Backup: saving users and roles; restore: merging them in.
    UsersAndRoles,
    /// Backup: copying the oplog written during the backup.
    CopyingOplog,
    /// Restore: replaying the backup's oplog.
    ReplayingOplog,
    /// Relocate: applying the writes the source received during the copy.
    CatchingUp,
    /// Relocate: digesting source and target to prove the copy exact.
    Digesting,
}

/// Receives the events of a backup or restore; called from several tasks at once.
pub type Observer = Arc<dyn Fn(Event<'_>) + Send + Sync>;

/// An observer that ignores every event.
pub fn ignore() -> Observer {
    Arc::new(|_| {})
}
