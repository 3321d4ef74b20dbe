//! Keeps secrets out of everything mongoctl prints: URIs are shown without their password,
//! and every known secret is scrubbed from error messages before they reach a terminal.

use std::sync::{Mutex, OnceLock};

const MASK: &str = "****";

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret so that [`scrub`] removes it from any text.
pub fn register(secret: &str) {
    if secret.len() >= 3 {
        let mut s = secrets().lock().unwrap_or_else(|e| e.into_inner());
        if !s.iter().any(|x| x == secret) {
            s.push(secret.to_string());
            // Percent-encoded forms appear in URIs.
            let encoded = crate::percent::encode_component(secret);
            if encoded != secret {
                s.push(encoded);
            }
        }
    }
}

/// Replaces every registered secret in `text`.
pub fn scrub(text: &str) -> String {
    let s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        out = out.replace(secret.as_str(), MASK);
    }
    out
}

/// Query options whose values are secrets.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "tlscertificatekeyfilepassword",
    "authmechanismproperties",
    "sslclientcertificatekeypassword",
];

/// `mongodb://user:pass@host/?x=y` → `mongodb://user:****@host/?x=y`, and secret query
/// values masked. Registers what it hides, so later errors are scrubbed too.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, pass)) => {
                register(pass);
                register(&crate::percent::decode_component_lossy(pass));
                format!("{user}:{MASK}@{hosts}")
            }
            None => format!("{userinfo}@{hosts}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, v)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                        register(v);
                        format!("{k}={MASK}")
                    }
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_password_and_secret_params_and_scrubs_later_text() {
        let r = redact_uri(
            "mongodb://admin:s3cr%40t@h1:27017,h2/db?replicaSet=rs0&tlsCertificateKeyFilePassword=kfp99",
        );
        assert_eq!(
            r,
            "mongodb://admin:****@h1:27017,h2/db?replicaSet=rs0&tlsCertificateKeyFilePassword=****"
        );
        assert_eq!(
            scrub("auth failed for s3cr%40t and kfp99"),
            "auth failed for **** and ****"
        );
        assert_eq!(
            scrub("user admin password s3cr@t"),
            "user admin password ****"
        );
        assert_eq!(
            redact_uri("mongodb://h1:1/?directConnection=true"),
            "mongodb://h1:1/?directConnection=true"
        );
        assert_eq!(
            redact_uri("mongodb+srv://u@c.example.net"),
            "mongodb+srv://u@c.example.net"
        );
    }
}
