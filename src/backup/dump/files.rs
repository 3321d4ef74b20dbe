//! Writing backup files: a thread per data file optionally gzips, optionally encrypts (age),
//! hashes and writes the chunks it receives; small files (metadata) are written whole. Shared
//! by the directory layout, the directory oplog and the saved users and roles. Each data file
//! is encrypted on its own writer thread, so collections dumped in parallel are encrypted in
//! parallel.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mongodb::raw_batch_cursor::RawBatchCursor;
use tokio::sync::mpsc;

use crate::backup::checksum::Checksums;
use crate::backup::crypto::{AGE_SUFFIX, Encrypting, Recipients};
use crate::backup::direct::{Access, OutputFile};
use crate::backup::gz::{HashWriter, ParGzWriter};

use super::BackupOptions;
use super::drain::{Chunk, ChunkPool, drain_cursor};

/// A thread writing the chunks it receives to `path` through a [`Sink`]: (bytes, checksums).
pub(super) fn spawn_file_writer(
    path: PathBuf,
    enc: Encoding,
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
        let mut s = Sink::new(f, &enc).with_context(|| format!("writing {}", path.display()))?;
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
        opts.encoding(),
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

/// How a backup's files are encoded: compressed (gzip, level), then encrypted (age, to
/// these recipients; none: not encrypted).
#[derive(Clone, Default)]
pub struct Encoding {
    pub gzip: bool,
    pub level: u32,
    pub encrypt: Recipients,
}

impl Encoding {
    /// What a file's name gets after `.bson` / `.metadata.json`: `.gz`, then `.age`.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.gzip {
            s.push_str(".gz");
        }
        if !self.encrypt.is_empty() {
            s.push_str(AGE_SUFFIX);
        }
        s
    }
}

/// A file being written: optionally gzip-compressed, then optionally encrypted, then hashed
/// (the manifest's checksums are of the bytes on disk, so that a backup's integrity is
/// checked without its identity).
pub enum Sink<W: Write> {
    Plain(Encrypting<HashWriter<W>>),
    Gzip(ParGzWriter<Encrypting<HashWriter<W>>>),
}

impl<W: Write> Sink<W> {
    pub fn new(w: W, enc: &Encoding) -> std::io::Result<Self> {
        let sealed = enc.encrypt.wrap(HashWriter::new(w))?;
        Ok(if enc.gzip {
            Sink::Gzip(ParGzWriter::new(sealed, enc.level))
        } else {
            Sink::Plain(sealed)
        })
    }

    /// (writer, bytes, checksums)
    pub fn finish(self) -> std::io::Result<(W, u64, Checksums)> {
        match self {
            Sink::Plain(e) => e.finish()?.finish(),
            Sink::Gzip(g) => g.finish()?.finish()?.finish(),
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
    let mut s = Sink::new(f, &opts.encoding())?;
    s.write_all(data)?;
    let (f, n, checksums) = s.finish()?;
    f.finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((n, checksums))
}
