//! Writing backup files: a thread per data file hashes, optionally gzips and writes the chunks
//! it receives; small files (metadata) are written whole. Shared by the directory layout, the
//! directory oplog and the saved users and roles.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mongodb::raw_batch_cursor::RawBatchCursor;
use tokio::sync::mpsc;

use crate::backup::checksum::Checksums;
use crate::backup::direct::{Access, OutputFile};
use crate::backup::gz::{HashWriter, ParGzWriter};

use super::BackupOptions;
use super::drain::{Chunk, ChunkPool, drain_cursor};

/// A thread writing the chunks it receives to `path` through a [`Sink`]: (bytes, checksums).
pub(super) fn spawn_file_writer(
    path: PathBuf,
    gzip: bool,
    level: u32,
    sync: bool,
    access: Access,
    recycle: ChunkPool,
) -> (
    mpsc::Sender<Chunk>,
    std::thread::JoinHandle<Result<(u64, Checksums)>>,
) {
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let writer = std::thread::spawn(move || -> Result<(u64, Checksums)> {
        let f = OutputFile::create(&path, sync, access)
            .with_context(|| format!("creating {}", path.display()))?;
        let mut s = Sink::new(f, gzip, level);
        while let Some(c) = rx.blocking_recv() {
            s.write_all(&c.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            recycle.give(c.bytes);
        }
        let (f, n, checksums) = s
            .finish()
            .with_context(|| format!("writing {}", path.display()))?;
        f.finish()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok((n, checksums))
    });
    (tx, writer)
}

/// Streams a cursor into a new file at `path`: (documents, bytes, checksums).
pub(super) async fn cursor_to_file(
    cursor: RawBatchCursor,
    ns: &str,
    path: &Path,
    opts: &BackupOptions,
    access: Access,
    each: impl FnMut(&bson::RawDocument),
) -> Result<(u64, u64, Checksums)> {
    let pool = ChunkPool::default();
    let (tx, writer) = spawn_file_writer(
        path.to_path_buf(),
        opts.gzip,
        opts.gzip_level,
        opts.sync,
        access,
        pool.clone(),
    );
    let drained = drain_cursor(cursor, ns, tx, pool, |_, _| {}, each).await;
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
    let docs = drained?;
    let (bytes, checksums) = written?;
    Ok((docs, bytes, checksums))
}

/// A file being written: hashed, optionally gzip-compressed.
pub enum Sink<W: Write> {
    Plain(HashWriter<W>),
    Gzip(ParGzWriter<HashWriter<W>>),
}

impl<W: Write> Sink<W> {
    pub fn new(w: W, gzip: bool, level: u32) -> Self {
        if gzip {
            Sink::Gzip(ParGzWriter::new(HashWriter::new(w), level))
        } else {
            Sink::Plain(HashWriter::new(w))
        }
    }

    /// (writer, bytes, checksums)
    pub fn finish(self) -> std::io::Result<(W, u64, Checksums)> {
        match self {
            Sink::Plain(h) => h.finish(),
            Sink::Gzip(g) => g.finish()?.finish(),
        }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(h) => h.write(buf),
            Sink::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(h) => h.flush(),
            Sink::Gzip(g) => g.flush(),
        }
    }
}

/// Writes a whole small file through a [`Sink`] (fsynced when `sync`): (bytes, checksums).
pub(super) fn write_file(
    path: &Path,
    data: &[u8],
    opts: &BackupOptions,
) -> Result<(u64, Checksums)> {
    let f = OutputFile::create(path, opts.sync, Access::Shared)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut s = Sink::new(f, opts.gzip, opts.gzip_level);
    s.write_all(data)?;
    let (f, n, checksums) = s.finish()?;
    f.finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((n, checksums))
}

pub(super) fn gz_suffix(gzip: bool) -> &'static str {
    if gzip { ".gz" } else { "" }
}
