//! Checksums of backup files and streams: a strong digest (BLAKE3 for new backups; SHA-256
//! in manifests written before, still verified) and CRC-32C of whole files (recorded in the
//! manifest), and the CRC-64 mongodump writes at the end of each archive namespace. Its own
//! module so that the writers (`gz`) and the manifest both use it without importing each
//! other.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file's checksums. The strong digest is what `backup verify` checks (and anyone with
/// `b3sum`, or `sha256sum` for an older backup). New backups record BLAKE3: it hashes about
/// 3× faster than SHA-256 on one core here (README, Speed), and SHA-256 was the largest CPU
/// cost of a backup. CRC-32C catches accidental damage (every burst of up to 32 bits, all
/// but one in 2^32 of the rest) at memory speed, so that a restore can check a whole backup
/// before its first write without holding the server idle for long.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// Manifests written before mongoctl switched to BLAKE3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Absent in manifests written before mongoctl recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
}

/// A strong digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strong {
    Blake3,
    Sha256,
}

impl Strong {
    pub fn name(self) -> &'static str {
        match self {
            Strong::Blake3 => "BLAKE3",
            Strong::Sha256 => "SHA-256",
        }
    }
}

impl Checksums {
    /// The strong digest recorded (BLAKE3 where both are).
    pub fn strong(&self) -> Option<(Strong, &str)> {
        match (&self.blake3, &self.sha256) {
            (Some(b), _) => Some((Strong::Blake3, b)),
            (None, Some(s)) => Some((Strong::Sha256, s)),
            (None, None) => None,
        }
    }

    /// The strong digest recorded, as an error when there is none.
    pub fn require_strong(&self, what: &str) -> Result<(Strong, &str)> {
        match self.strong() {
            Some(s) => Ok(s),
            None => bail!("{what}: the manifest records no BLAKE3 or SHA-256 checksum"),
        }
    }

    /// The strong digest of the same algorithm as `recorded`'s.
    pub fn same_strong(&self, recorded: Strong) -> &str {
        match recorded {
            Strong::Blake3 => self.blake3.as_deref().unwrap_or(""),
            Strong::Sha256 => self.sha256.as_deref().unwrap_or(""),
        }
    }
}

enum StrongHasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(Sha256),
}

/// Counts and checksums bytes as they pass: a strong digest, CRC-32C, or both.
pub struct FileHasher {
    strong: Option<StrongHasher>,
    crc: Option<crc_fast::Digest>,
    bytes: u64,
}

impl FileHasher {
    /// BLAKE3 and CRC-32C, as a backup records them.
    pub fn new() -> Self {
        Self::with(Some(Strong::Blake3), true)
    }

    pub fn with(strong: Option<Strong>, crc: bool) -> Self {
        FileHasher {
            strong: strong.map(|s| match s {
                Strong::Blake3 => StrongHasher::Blake3(Box::new(blake3::Hasher::new())),
                Strong::Sha256 => StrongHasher::Sha256(Sha256::new()),
            }),
            crc: crc.then(|| crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi)),
            bytes: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.strong {
            Some(StrongHasher::Blake3(h)) => {
                h.update(data);
            }
            Some(StrongHasher::Sha256(h)) => h.update(data),
            None => {}
        }
        if let Some(c) = &mut self.crc {
            c.update(data);
        }
        self.bytes += data.len() as u64;
    }

    /// (bytes, checksums); a checksum not computed is left out.
    pub fn finish(self) -> (u64, Checksums) {
        let mut sums = Checksums {
            crc32c: self.crc.map(|c| format!("{:08x}", c.finalize())),
            ..Checksums::default()
        };
        match self.strong {
            Some(StrongHasher::Blake3(h)) => sums.blake3 = Some(h.finalize().to_hex().to_string()),
            Some(StrongHasher::Sha256(h)) => sums.sha256 = Some(hex::encode(h.finalize())),
            None => {}
        }
        (self.bytes, sums)
    }
}

impl Default for FileHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// Length and checksums of a file, as a new backup records them.
pub fn hash_file(path: &Path) -> Result<(u64, Checksums)> {
    hash_file_with(path, FileHasher::new())
}

/// Checks a file's length and strong digest (of the algorithm `recorded` holds); the error
/// names the file and both digests.
pub fn check_file(path: &Path, bytes: u64, recorded: &Checksums) -> Result<()> {
    let (strong, want) = recorded.require_strong(&path.display().to_string())?;
    let (n, got) = hash_file_with(path, FileHasher::with(Some(strong), false))?;
    let got = got.same_strong(strong);
    if n != bytes || got != want {
        bail!(
            "{}: {n} bytes, {} {got} — the manifest records {bytes} bytes, {} {want}",
            path.display(),
            strong.name(),
            strong.name(),
        );
    }
    Ok(())
}

pub fn hash_file_with(path: &Path, mut h: FileHasher) -> Result<(u64, Checksums)> {
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
    fn new_checksums_are_blake3_and_crc32c_and_old_sha256_ones_still_check() {
        let mut h = FileHasher::new();
        h.update(b"abc");
        let (n, sums) = h.finish();
        // BLAKE3's published test vector for "abc".
        assert_eq!(
            sums.blake3.as_deref(),
            Some("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")
        );
        assert_eq!((n, sums.sha256.as_deref()), (3, None));
        assert_eq!(sums.strong().unwrap().0, Strong::Blake3);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        check_file(&p, 3, &sums).unwrap();
        let old = Checksums {
            sha256: Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()),
            ..Checksums::default()
        };
        check_file(&p, 3, &old).unwrap();
        std::fs::write(&p, b"abd").unwrap();
        let e = check_file(&p, 3, &old).unwrap_err().to_string();
        assert!(e.contains("SHA-256") && e.contains("ba7816bf"), "{e}");
        let e = check_file(&p, 3, &sums).unwrap_err().to_string();
        assert!(e.contains("BLAKE3") && e.contains("6437b3ac"), "{e}");
        let e = check_file(&p, 3, &Checksums::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no BLAKE3 or SHA-256"), "{e}");
    }

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
