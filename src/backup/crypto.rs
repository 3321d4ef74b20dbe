//! Client-side encryption of backup files with age (<https://age-encryption.org/v1>): each
//! file is compressed first, then encrypted to the backup's X25519 recipients (public keys:
//! `backup --encrypt-to`), and decrypted with identities (secret keys: `--identity FILE`)
//! when read back. age is streaming (64 KiB chunks, memory stays flat) and authenticated
//! (ChaCha20-Poly1305 per chunk, and a last-chunk flag: a changed, reordered or truncated
//! file fails to decrypt instead of yielding other bytes).
//!
//! A secret key never leaves this module: [`Identities`] has no `Debug` or `Display`, errors
//! about an identity file name the file and line, never its content, and only public
//! recipient strings reach the manifest or any message.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use age::secrecy::ExposeSecret;
use age::stream::{StreamReader, StreamWriter};
use age::x25519;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::gz::maybe_gunzip;

/// The file name suffix of an encrypted backup file, after `.gz` (`c.bson.gz.age`).
pub const AGE_SUFFIX: &str = ".age";
/// How every age file (binary format) begins.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The manifest's name for the scheme.
pub const SCHEME: &str = "age-x25519";

/// What a manifest records of a backup's encryption: public recipients only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Encryption {
    /// [`SCHEME`]
    pub scheme: String,
    /// The `age1…` recipients every encrypted file can be decrypted for.
    pub recipients: Vec<String>,
}

/// The public keys a backup is encrypted to (`backup --encrypt-to`, `--encrypt-to-file`).
#[derive(Clone, Default)]
pub struct Recipients(Arc<Vec<x25519::Recipient>>);

impl Recipients {
    /// From `age1…` strings and from files of one recipient per line (`#` comments, blank
    /// lines ignored). Duplicates are kept once.
    pub fn parse(args: &[String], files: &[PathBuf]) -> Result<Self> {
        let mut keys: Vec<x25519::Recipient> = Vec::new();
        let mut add = |text: &str, at: &dyn Fn() -> String| -> Result<()> {
            let k = x25519::Recipient::from_str(text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {text:?} is not an age X25519 recipient (expected age1…, as \
                     `mongoctl backup keygen` prints): {e}",
                    at()
                )
            })?;
            if !keys.iter().any(|have| have.to_string() == k.to_string()) {
                keys.push(k);
            }
            Ok(())
        };
        for a in args {
            add(a.trim(), &|| "--encrypt-to".to_string())?;
        }
        for f in files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--encrypt-to-file: reading {}", f.display()))?;
            let mut any = false;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if line.starts_with("AGE-SECRET-KEY-") {
                    // Said without the line's content: it is a secret.
                    bail!(
                        "{} line {}: this is a secret key (an identity), not a recipient; \
                         give the public key (age1…) instead and keep the identity file away \
                         from the machine that makes backups",
                        f.display(),
                        i + 1
                    );
                }
                add(line, &|| format!("{} line {}", f.display(), i + 1))?;
                any = true;
            }
            if !any {
                bail!(
                    "--encrypt-to-file {}: no recipient in it (one age1… per line)",
                    f.display()
                );
            }
        }
        Ok(Recipients(Arc::new(keys)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public recipient strings, as the manifest records them.
    pub fn strings(&self) -> Vec<String> {
        self.0.iter().map(|k| k.to_string()).collect()
    }

    /// The manifest's record of this encryption, or `None` for a plain backup.
    pub fn record(&self) -> Option<Encryption> {
        (!self.is_empty()).then(|| Encryption {
            scheme: SCHEME.into(),
            recipients: self.strings(),
        })
    }

    /// `w` as it is written: through age when there are recipients, as it is otherwise.
    pub fn wrap<W: Write>(&self, w: W) -> io::Result<Encrypting<W>> {
        if self.is_empty() {
            return Ok(Encrypting::Clear(w));
        }
        let e = age::Encryptor::with_recipients(self.0.iter().map(|k| k as &dyn age::Recipient))
            .map_err(|e| io::Error::other(format!("age: {e}")))?;
        Ok(Encrypting::Age(Box::new(e.wrap_output(w)?)))
    }
}

/// A file being written: encrypted (age) or as it is.
pub enum Encrypting<W: Write> {
    Clear(W),
    Age(Box<StreamWriter<W>>),
}

impl<W: Write> Encrypting<W> {
    /// Writes age's last chunk (an encrypted file is incomplete without it).
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encrypting::Clear(w) => Ok(w),
            Encrypting::Age(s) => s.finish(),
        }
    }
}

impl<W: Write> Write for Encrypting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encrypting::Clear(w) => w.write(buf),
            Encrypting::Age(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encrypting::Clear(w) => w.flush(),
            Encrypting::Age(s) => s.flush(),
        }
    }
}

/// The secret keys a restore or `backup verify` decrypts with (`--identity FILE`). Neither
/// printable nor debuggable, on purpose.
#[derive(Clone, Default)]
pub struct Identities(Arc<Vec<x25519::Identity>>);

impl Identities {
    /// From identity files as `mongoctl backup keygen` and age-keygen write them: one
    /// `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines ignored.
    pub fn load(files: &[PathBuf]) -> Result<Self> {
        let mut keys = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--identity: reading {}", f.display()))?;
            let mut any = false;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // The error names the line, never its content.
                let k = x25519::Identity::from_str(line).map_err(|e| {
                    anyhow::anyhow!(
                        "--identity {} line {}: not an age X25519 identity \
                         (a secret key line as `backup keygen` writes it): {e}",
                        f.display(),
                        i + 1
                    )
                })?;
                keys.push(k);
                any = true;
            }
            if !any {
                bail!(
                    "--identity {}: no identity in it (expected a secret key line as `backup keygen` \
                     writes it)",
                    f.display()
                );
            }
        }
        Ok(Identities(Arc::new(keys)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public recipients of these identities (to say which were tried).
    pub fn recipients(&self) -> Vec<String> {
        self.0.iter().map(|k| k.to_public().to_string()).collect()
    }

    fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0.iter().map(|k| k as &dyn age::Identity)
    }
}

/// Whether `head` (a file's first bytes) begins an age file.
pub fn is_age(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Plain or age-encrypted input (detected from age's header), decrypted with `ids`. `name`
/// (the file) is said in errors: which recipients could not be matched, or that the file
/// failed age's authentication.
pub fn maybe_decrypt<'a, R: Read + Send + 'a>(
    r: R,
    ids: &Identities,
    name: &str,
) -> Result<Box<dyn Read + Send + 'a>> {
    let mut br = BufReader::with_capacity(1 << 16, r);
    let head = br.fill_buf().with_context(|| format!("reading {name}"))?;
    if !is_age(head) {
        return Ok(Box::new(br));
    }
    Ok(Box::new(Authenticated {
        inner: open_age(br, ids, name)?,
        name: name.to_string(),
    }))
}

/// A backup file's content as it was dumped: decrypted (age) and decompressed (gzip), each
/// where the file is so.
pub fn decoded<'a, R: Read + Send + 'a>(
    r: R,
    ids: &Identities,
    name: &str,
) -> Result<Box<dyn Read + Send + 'a>> {
    let plain = maybe_decrypt(r, ids, name)?;
    maybe_gunzip(plain).with_context(|| format!("reading {name}"))
}

/// [`decoded`] of the file at `path`.
pub fn open_decoded(path: &Path, ids: &Identities, name: &str) -> Result<Box<dyn Read + Send>> {
    let f = File::open(path).with_context(|| format!("opening {name}"))?;
    decoded(f, ids, name)
}

/// Reads an age header and unwraps its file key with one of `ids`: what fails here fails
/// before a single byte of content is read.
fn open_age<R: BufRead>(r: R, ids: &Identities, name: &str) -> Result<StreamReader<R>> {
    if ids.is_empty() {
        bail!(
            "{name} is encrypted (age); it can only be read with the identity (secret key) of \
             one of its recipients: pass --identity FILE"
        );
    }
    let d = age::Decryptor::new_buffered(r)
        .map_err(|e| anyhow::anyhow!("{name}: not a readable age file: {e}"))?;
    d.decrypt(ids.iter()).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => anyhow::anyhow!(
            "{name}: none of the identities given (--identity, for {}) can decrypt it",
            ids.recipients().join(", ")
        ),
        // A changed header fails its MAC.
        e => anyhow::anyhow!("{name}: the age header does not authenticate ({e}): the file was changed after it was encrypted"),
    })
}

/// Checks that one of `ids` opens the age header of the file at `path` (reads the header
/// only). `recipients` (from the manifest) are named when none does.
pub fn check_header(
    path: &Path,
    ids: &Identities,
    name: &str,
    recipients: &[String],
) -> Result<()> {
    let f = File::open(path).with_context(|| format!("opening {name}"))?;
    let mut br = BufReader::with_capacity(1 << 12, f);
    let head = br.fill_buf().with_context(|| format!("reading {name}"))?;
    if !is_age(head) {
        bail!("{name}: the manifest says it is encrypted, but it is not an age file");
    }
    open_age(br, ids, name)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e}; it was encrypted to {}", recipients.join(", ")))
}

/// A decrypting reader whose authentication failures say what they mean.
struct Authenticated<R> {
    inner: StreamReader<R>,
    name: String,
}

impl<R: BufRead> Read for Authenticated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => io::Error::new(
                e.kind(),
                format!(
                    "{}: age authentication failed ({e}): the encrypted file was changed or cut \
                     short after it was written",
                    self.name
                ),
            ),
            _ => e,
        })
    }
}

/// `backup keygen`: writes a new X25519 identity to `out` (created 0600; an existing file is
/// never overwritten) and returns its public recipient. The secret goes to the file only.
pub fn keygen(out: &Path) -> Result<String> {
    let id = x25519::Identity::generate();
    let public = id.to_public().to_string();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} already exists; an identity file is never overwritten (losing it loses \
                 every backup encrypted to it): choose a new name",
                out.display()
            ),
            _ => anyhow::anyhow!("creating {}: {e}", out.display()),
        })?;
    let text = format!(
        "# created: {}\n# public key: {public}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        id.to_string().expose_secret()
    );
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
        let p = dir.join(name);
        let public = keygen(&p).unwrap();
        (p, public)
    }

    #[test]
    fn round_trip_and_clear_errors_that_never_hold_the_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let (id_a, pub_a) = keypair(tmp.path(), "a.key");
        let (id_b, _) = keypair(tmp.path(), "b.key");
        let secret = std::fs::read_to_string(&id_a).unwrap();
        let secret = secret
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&id_a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = keygen(&id_a).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        assert!(std::fs::read_to_string(&id_a).unwrap().contains(secret));

        let r = Recipients::parse(std::slice::from_ref(&pub_a), &[]).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let mut w = r.wrap(Vec::new()).unwrap();
        w.write_all(&data).unwrap();
        let enc = w.finish().unwrap();
        assert!(is_age(&enc));

        let ids = Identities::load(std::slice::from_ref(&id_a)).unwrap();
        let mut out = Vec::new();
        maybe_decrypt(&enc[..], &ids, "c.bson.age")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        // Plain input passes through.
        let mut out = Vec::new();
        maybe_decrypt(&data[..], &Identities::default(), "c.bson")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        let mut errors = Vec::new();
        let missing = maybe_decrypt(&enc[..], &Identities::default(), "c.bson.age");
        errors.push(format!("{:#}", missing.err().unwrap()));
        assert!(errors[0].contains("pass --identity"), "{}", errors[0]);
        let wrong = Identities::load(std::slice::from_ref(&id_b)).unwrap();
        errors.push(format!(
            "{:#}",
            maybe_decrypt(&enc[..], &wrong, "c.bson.age").err().unwrap()
        ));
        assert!(
            errors[1].contains("none of the identities"),
            "{}",
            errors[1]
        );
        // A flipped byte in the payload fails age's authentication.
        let mut flipped = enc.clone();
        let at = flipped.len() - 1000;
        flipped[at] ^= 1;
        let mut out = Vec::new();
        let e = maybe_decrypt(&flipped[..], &ids, "c.bson.age")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("age authentication failed"), "{e}");
        errors.push(e);
        // Cut short: age's last-chunk flag says so.
        let mut out = Vec::new();
        let e = maybe_decrypt(&enc[..enc.len() - 70_000], &ids, "c.bson.age")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("age authentication failed"), "{e}");
        errors.push(e);
        // A secret given where a recipient belongs, and a damaged identity file.
        let as_recipients = Recipients::parse(&[], std::slice::from_ref(&id_a));
        errors.push(format!("{:#}", as_recipients.err().unwrap()));
        let bad = tmp.path().join("bad.key");
        std::fs::write(&bad, format!("{}x\n", &secret[..secret.len() - 1])).unwrap();
        errors.push(format!(
            "{:#}",
            Identities::load(std::slice::from_ref(&bad)).err().unwrap()
        ));
        assert!(errors[5].contains("line 1"), "{}", errors[5]);
        for e in &errors {
            assert!(!e.contains("AGE-SECRET-KEY-"), "{e}");
            assert!(!e.to_uppercase().contains(&secret[15..40]), "{e}");
        }
    }

    #[test]
    fn recipient_files_take_comments_and_refuse_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let (_, a) = keypair(tmp.path(), "a.key");
        let (_, b) = keypair(tmp.path(), "b.key");
        let f = tmp.path().join("recipients.txt");
        std::fs::write(&f, format!("# ops team\n{a}\n\n  {b}  # laptop\n")).unwrap_or(());
        // A trailing comment on a line is not age's format: refused with the line.
        let e = Recipients::parse(&[], std::slice::from_ref(&f))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 4"), "{e}");
        std::fs::write(&f, format!("# ops team\n{a}\n\n  {b}\n{a}\n")).unwrap();
        let r = Recipients::parse(std::slice::from_ref(&b), std::slice::from_ref(&f)).unwrap();
        assert_eq!(r.strings(), vec![b.clone(), a.clone()]);
        let e = Recipients::parse(&["age1nope".into()], &[])
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("--encrypt-to: \"age1nope\""), "{e}");
    }
}
