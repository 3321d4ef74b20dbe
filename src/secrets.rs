//! Passwords for the users a plan creates or updates. Plans carry only their *source*; the
//! values are read (env var, file) or generated here, just before `apply` sends the command,
//! and registered with `redact` so no error message can echo them. Generated passwords are
//! written only to the secrets file the operator names: created 0600, appended to, never
//! overwritten, and written *before* the user is created so no password is ever lost.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use bson::{Bson, Document};

use crate::diff::{Change, PASSWORD_PLACEHOLDER, Plan};
use crate::model::PasswordSource;

#[derive(Default)]
pub struct Secrets(HashMap<String, String>);

impl Secrets {
    /// The change's commands with the placeholder replaced by the user's password.
    pub fn inject(&self, change: &Change) -> Result<Vec<Document>> {
        let Some(need) = &change.secret else {
            return Ok(change.commands.clone());
        };
        let key = format!("{}@{}", need.user, need.db);
        let Some(pw) = self.0.get(&key) else {
            bail!("no password resolved for {key}")
        };
        Ok(change
            .commands
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if c.get_str("pwd") == Ok(PASSWORD_PLACEHOLDER) {
                    c.insert("pwd", Bson::String(pw.clone()));
                }
                c
            })
            .collect())
    }
}

/// Reads an env or file source.
pub fn read_source(source: &PasswordSource) -> Result<String> {
    let value = match source {
        PasswordSource::Env(var) => {
            std::env::var(var).with_context(|| format!("the password variable {var} is not set"))?
        }
        PasswordSource::File(path) => {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("reading password file {}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                bail!(
                    "password file {} is readable by others (mode {:o}); chmod 600 it",
                    path.display(),
                    meta.permissions().mode() & 0o777
                );
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading password file {}", path.display()))?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        PasswordSource::Generate => generate()?,
    };
    if value.is_empty() {
        bail!("the password from {source} is empty");
    }
    crate::redact::register(&value);
    Ok(value)
}

/// 32 random alphanumeric characters (~190 bits) from the OS.
pub fn generate() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom")?;
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let pw: String = bytes
        .iter()
        .filter(|b| (**b as usize) < limit)
        .take(32)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    if pw.len() < 32 {
        return generate();
    }
    crate::redact::register(&pw);
    Ok(pw)
}

/// Appends one JSON line per generated password to `path` (created 0600; an existing file
/// must already be private).
pub fn record_generated(
    path: &Path,
    entries: &[(String, String, String)],
    environment: Option<&str>,
) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        bail!(
            "secrets file {} is readable by others (mode {:o}); refusing to add secrets to it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening secrets file {}", path.display()))?;
    let now = chrono::Utc::now().to_rfc3339();
    for (user, db, password) in entries {
        let line = serde_json::json!({"user": user, "db": db, "password": password, "environment": environment, "generated_at": now});
        writeln!(f, "{line}")
            .with_context(|| format!("writing secrets file {}", path.display()))?;
    }
    f.sync_all()
        .with_context(|| format!("writing secrets file {}", path.display()))
}

/// Resolves every password the plan needs, failing before anything is sent when one is
/// missing. Generated ones are recorded in `secrets_file` first.
pub fn resolve(
    plan: &Plan,
    secrets_file: Option<&Path>,
    environment: Option<&str>,
) -> Result<Secrets> {
    let mut secrets = Secrets::default();
    let mut generated = Vec::new();
    let mut problems = Vec::new();
    for need in plan.changes.iter().filter_map(|c| c.secret.as_ref()) {
        let key = format!("{}@{}", need.user, need.db);
        match read_source(&need.source) {
            Ok(pw) => {
                if need.source == PasswordSource::Generate {
                    generated.push((need.user.clone(), need.db.clone(), pw.clone()));
                }
                secrets.0.insert(key, pw);
            }
            Err(e) => problems.push(format!("{key}: {e:#}")),
        }
    }
    if !problems.is_empty() {
        bail!(
            "missing passwords; nothing was applied:\n  {}",
            problems.join("\n  ")
        );
    }
    if !generated.is_empty() {
        let Some(path) = secrets_file else {
            let users: Vec<&str> = generated.iter().map(|(u, _, _)| u.as_str()).collect();
            bail!(
                "{} new user(s) get generated passwords ({}): pass --secrets-file PATH (or MONGOCTL_SECRETS_FILE) to say where to keep them; nothing was applied",
                generated.len(),
                users.join(", ")
            );
        };
        record_generated(path, &generated, environment)?;
    }
    Ok(secrets)
}
