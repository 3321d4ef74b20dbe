//! Checksums of backup files and streams: SHA-256 and CRC-32C of whole files (recorded in the
//! manifest), and the CRC-64 mongodump writes at the end of each archive namespace. Its own
//! module so that the writers (`gz`) and the manifest both use it without importing each
//! other.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file's checksums. SHA-256 is the strong one (`backup verify`, and anyone with
/// `sha256sum`). CRC-32C catches accidental damage (every burst of up to 32 bits, all but
/// one in 2^32 of the rest) at memory speed, so that a restore can check a whole backup
/// before its first write without holding the server idle for long.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checksums {
    pub sha256: String,
    /// Absent in manifests written before mongoctl recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
}

/// Counts and checksums bytes as they pass: SHA-256, CRC-32C, or both.
pub struct FileHasher {
    sha: Option<Sha256>,
    crc: Option<crc_fast::Digest>,
    bytes: u64,
}

impl FileHasher {
    /// Both checksums, as a backup records them.
    pub fn new() -> Self {
        Self::with(true, true)
    }

    pub fn with(sha: bool, crc: bool) -> Self {
        FileHasher {
            sha: sha.then(Sha256::new),
            crc: crc.then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi)),
            bytes: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.sha {
            h.update(data);
        }
        if let Some(c) = &mut self.crc {
            c.update(data);
        }
        self.bytes += data.len() as u64;
    }

    /// (bytes, checksums); a checksum not computed is left empty.
    pub fn finish(self) -> (u64, Checksums) {
        let sha256 = self
            .sha
            .map(|h| hex::encode(h.finalize()))
            .unwrap_or_default();
        let crc32c = self.crc.map(|c| format!("{:08x}", c.finalize()));
        (self.bytes, Checksums { sha256, crc32c })
    }
}

impl Default for FileHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// Length and checksums of a file (both checksums).
pub fn hash_file(path: &Path) -> Result<(u64, Checksums)> {
    hash_file_with(path, FileHasher::new())
}

fn hash_file_with(path: &Path, mut h: FileHasher) -> Result<(u64, Checksums)> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
    }
    Ok(h.finish())
}

/// CRC-64 with the ECMA-182 polynomial in reflected form, all-ones initial value and final
/// inversion (CRC-64/XZ: what Go's `crc64.New(crc64.MakeTable(crc64.ECMA))` computes for
/// mongodump's archive terminators), at SIMD speed.
#[derive(Clone)]
pub struct Crc64(crc_fast::Digest);

impl Default for Crc64 {
    fn default() -> Self {
        Crc64(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz))
    }
}

impl Crc64 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn value(&self) -> u64 {
        self.0.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_the_ecma_check_value() {
        // CRC-64/XZ check value for "123456789" (Go's crc64 ECMA table gives the same).
        let mut c = Crc64::default();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0x995D_C9BB_DF19_39FA);
        let mut d = Crc64::default();
        d.update(b"123456789");
        assert_eq!(d.value(), c.value());
    }
}
