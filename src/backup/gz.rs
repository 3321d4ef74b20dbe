//! Output plumbing: a writer that counts and checksums what reaches the file, and a
//! parallel gzip writer. The parallel writer compresses independent 1 MiB blocks on several
//! threads and writes each as its own gzip member, in order; concatenated members are a valid
//! gzip stream (RFC 1952 §2.2), which Go's `gzip.Reader` (mongorestore) and `MultiGzDecoder`
//! read as one.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::sync::{Mutex, OnceLock};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::checksum::{Checksums, FileHasher};

const BLOCK: usize = 1 << 20;

/// Counts and checksums bytes on their way to `inner`.
pub struct HashWriter<W: Write> {
    inner: W,
    hasher: FileHasher,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: FileHasher::new(),
        }
    }

    /// (inner writer, bytes written, checksums)
    pub fn finish(mut self) -> io::Result<(W, u64, Checksums)> {
        self.inner.flush()?;
        let (bytes, sums) = self.hasher.finish();
        Ok((self.inner, bytes, sums))
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A block to compress at a level, and where to send the gzip member.
type Job = (Vec<u8>, u32, SyncSender<io::Result<Vec<u8>>>);

/// Compression threads shared by every gzip writer of the process, one per core: four
/// collections written at once then do not start eight threads on two cores, nor a thread
/// per compressed MiB.
fn workers() -> &'static Mutex<Sender<Job>> {
    static WORKERS: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for _ in 0..parallelism() {
            let rx = rx.clone();
            std::thread::spawn(move || {
                loop {
                    let job = rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|r| r.recv().map_err(|_| ()));
                    let Ok((block, level, done)) = job else {
                        return;
                    };
                    let mut e = GzEncoder::new(
                        Vec::with_capacity(block.len() / 3),
                        Compression::new(level),
                    );
                    let member = e.write_all(&block).and_then(|()| e.finish());
                    let _ = done.send(member);
                }
            });
        }
        Mutex::new(tx)
    })
}

fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Gzip on all cores: see the module comment.
pub struct ParGzWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    level: u32,
    wrote_any: bool,
}

impl<W: Write> ParGzWriter<W> {
    pub fn new(inner: W, level: u32) -> Self {
        ParGzWriter {
            inner,
            buf: Vec::with_capacity(BLOCK),
            pending: VecDeque::new(),
            max_pending: parallelism(),
            level,
            wrote_any: false,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.pending.len() >= self.max_pending {
            self.write_oldest()?;
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        let (done, member) = sync_channel(1);
        workers()
            .lock()
            .map_err(|_| io::Error::other("gzip workers poisoned"))?
            .send((block, self.level, done))
            .map_err(|_| io::Error::other("gzip workers stopped"))?;
        self.pending.push_back(member);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(member) = self.pending.pop_front() {
            let out = member
                .recv()
                .map_err(|_| io::Error::other("gzip worker stopped"))??;
            self.inner.write_all(&out)?;
        }
        Ok(())
    }

    /// Compresses what is buffered, writes every block, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit()?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        if !self.wrote_any {
            // An empty input still has to be a valid (empty) gzip stream.
            let e = GzEncoder::new(Vec::new(), Compression::new(self.level));
            self.inner.write_all(&e.finish()?)?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.wrote_any = true;
        let room = BLOCK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= BLOCK {
            self.submit()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads plain or gzip-compressed input (detected from the first two bytes).
pub fn maybe_gunzip<'a, R: Read + Send + 'a>(r: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut br = BufReader::with_capacity(1 << 20, r);
    let head = br.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(br),
        )))
    } else {
        Ok(Box::new(br))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_members_decode_as_one_stream() {
        let data: Vec<u8> = (0..(3 * BLOCK + 123)).map(|i| (i % 251) as u8).collect();
        let mut w = ParGzWriter::new(Vec::new(), 1);
        w.write_all(&data).unwrap();
        let gz = w.finish().unwrap();
        let mut out = Vec::new();
        maybe_gunzip(&gz[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        let empty = ParGzWriter::new(Vec::new(), 1).finish().unwrap();
        let mut out = Vec::new();
        maybe_gunzip(&empty[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty() && !empty.is_empty());
    }
}
