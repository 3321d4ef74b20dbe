//! A collection read in parts becomes one file: the parts' chunks reach the file's single
//! writer (gzip, age, checksums: one ordered stream, as for an unsplit collection) in part
//! order. The part whose turn it is streams straight through; a part drained ahead of its
//! turn spools to a temporary file beside the output (page cache, never fsynced), replayed
//! when its turn comes and removed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow, bail};
use tokio::sync::mpsc;

use super::drain::{CHUNK, Chunk, ChunkPool};

/// Whose turn it is to write: the next part, or that a part failed (everyone stops).
#[derive(Default)]
pub(super) struct Turns {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Turns {
    fn is_turn(&self, part: usize) -> Result<bool> {
        let s = self.state.lock().map_err(|_| anyhow!("a part panicked"))?;
        if s.1 {
            bail!("another part of the collection failed");
        }
        Ok(s.0 == part)
    }

    fn wait_turn(&self, part: usize) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| anyhow!("a part panicked"))?;
        while s.0 != part && !s.1 {
            s = self
                .changed
                .wait(s)
                .map_err(|_| anyhow!("a part panicked"))?;
        }
        if s.1 {
            bail!("another part of the collection failed");
        }
        Ok(())
    }

    fn pass(&self, part: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.0 = part + 1;
        }
        self.changed.notify_all();
    }

    /// A part failed: the parts waiting for their turn stop.
    pub(super) fn abort(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.1 = true;
        }
        self.changed.notify_all();
    }
}

/// A thread relaying part `part`'s chunks from `rx` to the file's writer `out` in its turn,
/// spooling them to `spool` before it.
pub(super) fn spawn_relay(
    part: usize,
    spool: PathBuf,
    mut rx: mpsc::Receiver<Chunk>,
    out: mpsc::Sender<Chunk>,
    turns: Arc<Turns>,
    pool: ChunkPool,
) -> JoinHandle<Result<()>> {
    std::thread::spawn(move || {
        let mut held: Option<File> = None;
        let relayed = (|| -> Result<()> {
            let send = |c: Chunk| {
                out.blocking_send(c)
                    .map_err(|_| anyhow!("the writer of the collection stopped"))
            };
            while let Some(c) = rx.blocking_recv() {
                if turns.is_turn(part)? {
                    if let Some(f) = held.take() {
                        replay(f, &spool, &send, &pool)?;
                    }
                    send(c)?;
                } else {
                    let f = match &mut held {
                        Some(f) => f,
                        None => held.insert(create_spool(&spool)?),
                    };
                    f.write_all(&c.bytes)
                        .with_context(|| format!("writing {}", spool.display()))?;
                    pool.give(c.bytes);
                }
            }
            turns.wait_turn(part)?;
            if let Some(f) = held.take() {
                replay(f, &spool, &send, &pool)?;
            }
            Ok(())
        })();
        match &relayed {
            Ok(()) => turns.pass(part),
            Err(_) => turns.abort(),
        }
        if spool.exists() {
            let _ = std::fs::remove_file(&spool);
        }
        relayed
    })
}

fn create_spool(path: &PathBuf) -> Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Sends a spool's bytes on in ~1 MiB chunks and removes it.
fn replay(
    mut f: File,
    path: &PathBuf,
    send: &impl Fn(Chunk) -> Result<()>,
    pool: &ChunkPool,
) -> Result<()> {
    f.seek(SeekFrom::Start(0))
        .with_context(|| format!("reading {}", path.display()))?;
    loop {
        let mut buf = pool.take();
        buf.resize(CHUNK, 0);
        let n =
            read_full(&mut f, &mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            pool.give(buf);
            break;
        }
        buf.truncate(n);
        send(Chunk {
            bytes: buf,
            docs: 0,
        })?;
    }
    drop(f);
    std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts finishing in any order still reach the writer in part order, byte for byte.
    #[test]
    fn parts_reach_the_writer_in_order_whatever_order_they_drain_in() {
        let dir = tempfile::tempdir().unwrap();
        let (out_tx, mut out_rx) = mpsc::channel::<Chunk>(4);
        let turns = Arc::new(Turns::default());
        let pool = ChunkPool::default();
        let mut senders = Vec::new();
        let mut relays = Vec::new();
        for k in 0..3 {
            let (tx, rx) = mpsc::channel::<Chunk>(2);
            senders.push(tx);
            relays.push(spawn_relay(
                k,
                dir.path().join(format!("p{k}.spool")),
                rx,
                out_tx.clone(),
                turns.clone(),
                pool.clone(),
            ));
        }
        drop(out_tx);
        let collected = std::thread::spawn(move || {
            let mut all = Vec::new();
            while let Some(c) = out_rx.blocking_recv() {
                all.extend_from_slice(&c.bytes);
            }
            all
        });
        let chunk = |k: u8, i: u8| Chunk {
            bytes: vec![k * 16 + i; 3 + i as usize],
            docs: 1,
        };
        // Part 2 drains first and whole, then part 0 half, part 1 whole, part 0's rest.
        let s = &senders;
        for i in 0..5 {
            s[2].blocking_send(chunk(2, i)).unwrap();
        }
        for i in 0..2 {
            s[0].blocking_send(chunk(0, i)).unwrap();
        }
        for i in 0..4 {
            s[1].blocking_send(chunk(1, i)).unwrap();
        }
        for i in 2..6 {
            s[0].blocking_send(chunk(0, i)).unwrap();
        }
        drop(senders);
        for r in relays {
            r.join().unwrap().unwrap();
        }
        let mut want = Vec::new();
        for (k, n) in [(0u8, 6u8), (1, 4), (2, 5)] {
            for i in 0..n {
                want.extend_from_slice(&chunk(k, i).bytes);
            }
        }
        assert_eq!(collected.join().unwrap(), want);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "spools removed"
        );
    }

    #[test]
    fn a_failed_part_stops_the_parts_waiting_for_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let (out_tx, _out_rx) = mpsc::channel::<Chunk>(4);
        let turns = Arc::new(Turns::default());
        let (tx, rx) = mpsc::channel::<Chunk>(2);
        let relay = spawn_relay(
            1,
            dir.path().join("p1.spool"),
            rx,
            out_tx,
            turns.clone(),
            ChunkPool::default(),
        );
        tx.blocking_send(Chunk {
            bytes: vec![1; 10],
            docs: 1,
        })
        .unwrap();
        drop(tx);
        turns.abort();
        let e = relay.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("another part"), "{e}");
        assert!(!dir.path().join("p1.spool").exists());
    }
}
