//! What went wrong, said once: driver errors described by their likely cause, an error's
//! cause chain as one line with every known secret removed, and the kind of failure that
//! `-o json` reports beside the message.

use std::path::PathBuf;

use serde::Serialize;

use crate::spec::Diagnostic;

/// The workspace has error diagnostics: `main` prints them all, then this.
#[derive(Debug)]
pub struct SpecRejected {
    pub spec: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Display for SpecRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the spec in {} has {} problem(s); nothing was sent to the cluster (run `mongoctl check`)",
            self.spec.display(),
            self.diagnostics
                .iter()
                .filter(|d| d.is_error())
                .count()
                .max(1)
        )
    }
}

impl std::error::Error for SpecRejected {}

/// A driver error as mongoctl describes them (no raw structs), for `map_err`.
pub fn described(e: mongodb::error::Error) -> anyhow::Error {
    anyhow::anyhow!(describe_driver_error(&e))
}

/// A driver error as one readable line that names the likely cause: server errors as
/// `CodeName (code): message`, connection failures classified (refused, DNS, TLS,
/// authentication, timeout) with the underlying I/O error instead of the driver's topology dump.
pub fn describe_driver_error(e: &mongodb::error::Error) -> String {
    use mongodb::error::{ErrorKind, WriteFailure};
    let text = e.to_string();
    let lower = text.to_lowercase();
    let cause = inner_cause(&text);
    match e.kind.as_ref() {
        ErrorKind::Command(c) => format!("{} ({}): {}", c.code_name, c.code, c.message),
        ErrorKind::Write(WriteFailure::WriteError(w)) => {
            format!("write error {}: {}", w.code, w.message)
        }
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => {
            format!("write concern error {}: {}", w.code, w.message)
        }
        ErrorKind::Authentication { message, .. } => format!(
            "authentication failed: check the user name, password and authSource ({message})"
        ),
        ErrorKind::DnsResolve { message, .. } => {
            format!("DNS lookup failed: the host name does not resolve ({message})")
        }
        ErrorKind::InvalidTlsConfig { message, .. } => {
            format!("TLS configuration error ({message})")
        }
        ErrorKind::InvalidArgument { message, .. } => {
            format!("invalid connection string or option ({message})")
        }
        _ if lower.contains("authentication failed") || lower.contains("auth error") => {
            format!("authentication failed: check the user name, password and authSource ({cause})")
        }
        _ if lower.contains("failed to lookup address")
            || lower.contains("dns")
            || lower.contains("name or service not known") =>
        {
            format!("DNS lookup failed: the host name does not resolve ({cause})")
        }
        _ if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            || lower.contains("invalidcontenttype") =>
        {
            format!(
                "TLS failure: the server or certificate does not match the TLS settings ({cause})"
            )
        }
        _ if lower.contains("connection refused") => format!(
            "unreachable: connection refused (is mongod running on that host and port?) ({cause})"
        ),
        _ if lower.contains("requires authentication") || lower.contains("unauthorized") => {
            format!(
                "not authorized: the server requires authentication (add credentials to the URI or use --username) ({cause})"
            )
        }
        ErrorKind::ServerSelection { .. } => {
            format!("timed out waiting for a suitable server ({cause})")
        }
        // The driver files its own BSON errors (a malformed document it was given, as much as
        // a reply it cannot read) under "invalid reply": say what they are.
        ErrorKind::InvalidResponse { message, .. } => {
            format!("invalid BSON ({message}): in a document sent to the server or in its reply")
        }
        ErrorKind::BsonSerialization(e) => format!("invalid BSON in a request ({e})"),
        ErrorKind::BsonDeserialization(e) => format!("unreadable BSON in a reply ({e})"),
        // The kind alone: the error's own text adds its labels, source and the raw server
        // response as Rust structs.
        kind => kind.to_string(),
    }
}

/// The first server's error inside a server-selection message (`Error: Kind: I/O error: …,
/// labels: …`), or the whole text when there is none.
fn inner_cause(text: &str) -> String {
    let Some(i) = text.find("Error: ") else {
        return text.to_string();
    };
    let rest = &text[i + "Error: ".len()..];
    let rest = rest.strip_prefix("Kind: ").unwrap_or(rest);
    rest.split(", labels:")
        .next()
        .unwrap_or(rest)
        .trim()
        .to_string()
}

/// The broad class of a failure, for scripts reading `-o json` error objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A command-line mistake: unknown flag, bad value, missing argument.
    Usage,
    /// The server could not be reached or refused the credentials.
    Connection,
    /// The server answered a command with an error.
    Server,
    /// Anything else: bad input files, I/O, a refused confirmation.
    Error,
}

/// The kind of `e`, from the driver error at the root of its chain if there is one.
pub fn kind_of(e: &anyhow::Error) -> ErrorKind {
    use mongodb::error::ErrorKind as K;
    let Some(driver) = e
        .chain()
        .find_map(|c| c.downcast_ref::<mongodb::error::Error>())
    else {
        return ErrorKind::Error;
    };
    match driver.kind.as_ref() {
        K::Command(_) | K::Write(_) | K::BulkWrite(_) | K::InsertMany(_) => ErrorKind::Server,
        _ => ErrorKind::Connection,
    }
}

/// The cause chain of `e` on one line (`a: b: c`), a driver error at its root described by its
/// likely cause, with every known secret removed.
pub fn describe(e: &anyhow::Error) -> String {
    let message = match e
        .chain()
        .position(|c| c.downcast_ref::<mongodb::error::Error>().is_some())
    {
        Some(i) => {
            let mut parts: Vec<String> = e.chain().take(i).map(ToString::to_string).collect();
            let driver = e
                .chain()
                .nth(i)
                .and_then(|c| c.downcast_ref::<mongodb::error::Error>());
            parts.extend(driver.map(describe_driver_error));
            parts.join(": ")
        }
        None => format!("{e:#}"),
    };
    crate::redact::scrub(&message)
}
