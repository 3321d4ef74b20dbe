//! Backup files written with `O_DIRECT`. A durable backup must fsync every file before its
//! manifest; written through the page cache, a gigabyte of dirty pages then waits for that
//! fsync at the very end, and the copy into the cache costs CPU that the database server needs
//! during the dump. Written directly, the data leaves our buffer for the device while the
//! cursors are still draining, the final fsync only has the last partial block to flush, and
//! the database host's page cache is left alone. Where the filesystem refuses `O_DIRECT`
//! (tmpfs, some FUSE mounts) the file is written through the cache as usual.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Direct I/O needs buffers, lengths and file offsets aligned to the logical block size;
/// 4096 covers every common device.
const ALIGN: usize = 4096;
/// Bytes handed to the device per write.
const CAPACITY: usize = 1 << 20;

#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Block([u8; ALIGN]);

/// A page-aligned byte buffer (a vector of aligned blocks viewed as bytes).
struct AlignedBuf(Vec<Block>);

impl AlignedBuf {
    fn new(bytes: usize) -> Self {
        AlignedBuf(vec![Block([0; ALIGN]); bytes / ALIGN])
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: `Block` is plain bytes with no padding (size == align == 4096).
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * ALIGN) }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * ALIGN) }
    }
}

pub struct DirectFile {
    file: File,
    buf: AlignedBuf,
    len: usize,
    direct: bool,
}

impl DirectFile {
    /// Creates (truncates) `path`, with `O_DIRECT` where the filesystem supports it; a new
    /// file gets permissions `mode` (less the umask).
    pub fn create(path: &Path, mode: u32) -> io::Result<Self> {
        let open = |flags| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .custom_flags(flags)
                .open(path)
        };
        let (file, direct) = match open(libc::O_DIRECT) {
            Ok(f) => (f, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (open(0)?, false),
            Err(e) => return Err(e),
        };
        Ok(DirectFile {
            file,
            buf: AlignedBuf::new(CAPACITY),
            len: 0,
            direct,
        })
    }

    /// Writes the whole blocks of the buffer and keeps the remainder.
    fn write_blocks(&mut self) -> io::Result<()> {
        let whole = self.len / ALIGN * ALIGN;
        if whole == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < whole {
            match self.file.write(&self.buf.bytes()[done..whole]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                // A short write leaves the file offset unaligned for direct I/O: carry on
                // through the page cache rather than fail.
                Ok(n) => {
                    done += n;
                    if done % ALIGN != 0 {
                        self.leave_direct()?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    self.leave_direct()?
                }
                Err(e) => return Err(e),
            }
        }
        self.buf.bytes_mut().copy_within(whole..self.len, 0);
        self.len -= whole;
        Ok(())
    }

    fn leave_direct(&mut self) -> io::Result<()> {
        if self.direct {
            let fd = self.file.as_raw_fd();
            // SAFETY: fcntl on an fd we own, with flags it just returned.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
                return Err(io::Error::last_os_error());
            }
            self.direct = false;
        }
        Ok(())
    }

    /// Writes what is buffered and returns the file; the caller decides whether to fsync it.
    pub fn finish(mut self) -> io::Result<File> {
        self.flush()?;
        Ok(self.file)
    }
}

/// A backup file: written directly when the backup is durable (`sync`), through a buffer
/// and the page cache otherwise.
pub enum OutputFile {
    Direct(DirectFile),
    Buffered(BufWriter<File>),
}

/// Who may read a backup file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// 0666 less the umask, as any new file.
    Shared,
    /// 0600: the file holds credential hashes (users and roles).
    Private,
}

impl Access {
    fn mode(self) -> u32 {
        match self {
            Access::Shared => 0o666,
            Access::Private => 0o600,
        }
    }
}

impl OutputFile {
    /// Creates `path`, which must not exist yet (a backup never writes over a file, and the
    /// permissions `access` asks for apply only to a new file).
    pub fn create(path: &Path, sync: bool, access: Access) -> io::Result<Self> {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the file already exists; a backup writes only new files",
            ));
        }
        Ok(if sync {
            OutputFile::Direct(DirectFile::create(path, access.mode())?)
        } else {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(access.mode())
                .open(path)?;
            OutputFile::Buffered(BufWriter::with_capacity(1 << 20, f))
        })
    }

    /// Writes what is left and, for a durable backup, fsyncs the file.
    pub fn finish(self) -> io::Result<()> {
        match self {
            OutputFile::Direct(d) => d.finish()?.sync_all(),
            OutputFile::Buffered(b) => {
                b.into_inner().map_err(|e| e.into_error())?;
                Ok(())
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            OutputFile::Direct(d) => d.write(data),
            OutputFile::Buffered(b) => b.write(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            OutputFile::Direct(d) => d.flush(),
            OutputFile::Buffered(b) => b.flush(),
        }
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CAPACITY - self.len);
        self.buf.bytes_mut()[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == CAPACITY {
            self.write_blocks()?;
        }
        Ok(n)
    }

    /// Writes everything buffered; the last partial block cannot go out directly, so the
    /// file leaves direct mode (flush is called once, at the end).
    fn flush(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.len > 0 {
            self.leave_direct()?;
            self.file.write_all(&self.buf.bytes()[..self.len])?;
            self.len = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn writes_exactly_the_bytes_given_in_odd_pieces() {
        let dir = tempfile::tempdir().unwrap();
        for total in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            CAPACITY + 12_345,
            3 * CAPACITY + ALIGN,
        ] {
            let path = dir.path().join(format!("f{total}"));
            let data = pattern(total);
            let mut f = DirectFile::create(&path, 0o666).unwrap();
            // Pieces that straddle block and buffer boundaries.
            for piece in data.chunks(777_777) {
                f.write_all(piece).unwrap();
            }
            f.finish().unwrap().sync_all().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "{total} bytes");
        }
    }

    #[test]
    fn truncates_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 3 * ALIGN]).unwrap();
        let mut f = DirectFile::create(&path, 0o666).unwrap();
        f.write_all(b"short").unwrap();
        f.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }
}
