//! Passwords for the users a plan creates or updates. Plans carry only their *source*; the
//! values are read (env var, file) or generated here, just before `apply` sends the command,
//! and registered with `redact` so no error message can echo them. Generated passwords are
//! written only to the secrets file the operator names: created 0600, appended to, never
//! overwritten, and written *before* the user is created so no password is ever lost. Each
//! entry starts `pending` and gets a `confirmed` or `failed` line once the server answered,
//! so the working password is always the newest confirmed one.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bson::{Bson, Document};

use crate::model::PasswordSource;
use crate::plan::{Change, PASSWORD_PLACEHOLDER, Plan};

#[derive(Default)]
pub struct Secrets {
    passwords: HashMap<String, String>,
    /// Generated passwords written to the secrets file, awaiting the server's answer.
    pub pending: Vec<Pending>,
}

impl Secrets {
    /// The change's commands with the placeholder replaced by the user's password.
    pub fn inject(&self, change: &Change) -> Result<Vec<Document>> {
        let Some(need) = &change.secret else {
            return Ok(change.commands.clone());
        };
        let key = format!("{}@{}", need.user, need.db);
        let Some(pw) = self.passwords.get(&key) else {
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
    let bytes = crate::private::random_bytes::<64>()?;
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

/// One generated password about to be sent: its entry's id in the secrets file, so the
/// outcome can be recorded against it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub user: String,
    pub db: String,
}

/// What became of a pending password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it: this is now the user's password.
    Confirmed,
    /// The command failed or was never sent: the user's password did not change.
    Failed,
}

/// Appends one `"status": "pending"` JSON line per generated password to `path` (created
/// 0600; an existing file must already be private) *before* the password is sent, so a crash
/// never loses a password the server may have taken.
pub fn record_pending(
    path: &Path,
    entries: &[(String, String, String)],
    environment: Option<&str>,
) -> Result<Vec<Pending>> {
    let now = chrono::Utc::now().to_rfc3339();
    let mut pending = Vec::new();
    let lines: Vec<serde_json::Value> = entries
        .iter()
        .map(|(user, db, password)| {
            let id = bson::oid::ObjectId::new().to_hex();
            pending.push(Pending {
                id: id.clone(),
                user: user.clone(),
                db: db.clone(),
            });
            serde_json::json!({"id": id, "user": user, "db": db, "password": password, "environment": environment, "generated_at": now, "status": "pending"})
        })
        .collect();
    append_lines(path, &lines)?;
    Ok(pending)
}

/// Appends a `confirmed` or `failed` line for each pending entry once the server answered.
/// The user's working password is the newest entry with a `confirmed` line.
pub fn record_outcomes(path: &Path, outcomes: &[(&Pending, Outcome)]) -> Result<()> {
    let now = chrono::Utc::now().to_rfc3339();
    let lines: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|(p, outcome)| {
            let status = match outcome {
                Outcome::Confirmed => "confirmed",
                Outcome::Failed => "failed",
            };
            serde_json::json!({"id": p.id, "user": p.user, "db": p.db, "status": status, "at": now})
        })
        .collect();
    append_lines(path, &lines)
}

fn append_lines(path: &Path, lines: &[serde_json::Value]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        bail!(
            "secrets file {} is readable by others (mode {:o}); refusing to add secrets to it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
    let mut f = crate::private::open_append(path)
        .with_context(|| format!("opening secrets file {}", path.display()))?;
    // One write of whole lines: concurrent appenders (O_APPEND) never interleave within one.
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing secrets file {}", path.display()))
}

/// The working password of every user in a secrets file: `user@db` → the newest entry with
/// a `confirmed` line (entries written before statuses existed count as confirmed).
pub fn confirmed_passwords(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading secrets file {}", path.display()))?;
    let mut by_id: HashMap<String, (String, String)> = HashMap::new();
    let mut current = HashMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON line", path.display(), n + 1))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let key = format!("{}@{}", field("user"), field("db"));
        match (
            v.get("password").and_then(|p| p.as_str()),
            field("status").as_str(),
        ) {
            (Some(pw), "pending") => {
                by_id.insert(field("id"), (key, pw.to_string()));
            }
            (Some(pw), _) => {
                current.insert(key, pw.to_string());
            }
            (None, "confirmed") => {
                if let Some((key, pw)) = by_id.get(&field("id")) {
                    current.insert(key.clone(), pw.clone());
                }
            }
            _ => {}
        }
    }
    Ok(current)
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
                secrets.passwords.insert(key, pw);
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
        secrets.pending = record_pending(path, &generated, environment)?;
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> (String, String, String) {
        (
            name.into(),
            "admin".into(),
            format!("pw-of-{name}-{}", bson::oid::ObjectId::new()),
        )
    }

    #[test]
    fn the_working_password_is_the_newest_confirmed_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        // A file written before statuses existed: its entries are in effect.
        std::fs::write(
            &path,
            "{\"user\":\"legacy\",\"db\":\"admin\",\"password\":\"old-legacy\"}\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let first = record_pending(&path, &[user("a"), user("b")], Some("dev")).unwrap();
        record_outcomes(
            &path,
            &[
                (&first[0], Outcome::Confirmed),
                (&first[1], Outcome::Confirmed),
            ],
        )
        .unwrap();
        let second = record_pending(&path, &[user("a"), user("b"), user("c")], None).unwrap();
        // a's new password was refused, b's accepted, c's outcome never written (a crash).
        record_outcomes(
            &path,
            &[
                (&second[0], Outcome::Failed),
                (&second[1], Outcome::Confirmed),
            ],
        )
        .unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let password_of = |id: &str| {
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .find(|v| v["id"] == id && v.get("password").is_some())
                .map(|v| v["password"].as_str().unwrap().to_string())
                .unwrap()
        };
        let working = confirmed_passwords(&path).unwrap();
        assert_eq!(working["a@admin"], password_of(&first[0].id));
        assert_eq!(working["b@admin"], password_of(&second[1].id));
        assert_eq!(working["legacy@admin"], "old-legacy");
        assert!(
            !working.contains_key("c@admin"),
            "unconfirmed is not known to work"
        );
        // Status lines never repeat a password.
        let status_lines = text
            .lines()
            .filter(|l| l.contains("\"confirmed\"") || l.contains("\"failed\""));
        assert!(
            status_lines.clone().count() == 4
                && status_lines.clone().all(|l| !l.contains("password"))
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn refuses_a_secrets_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = record_pending(&path, &[user("a")], None).unwrap_err();
        assert!(format!("{e:#}").contains("readable by others"), "{e:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn generated_passwords_are_32_characters_of_the_alphabet() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
        );
    }
}
