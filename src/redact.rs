//! Keeps secrets out of everything mongoctl prints: URIs are shown without their password,
//! and every known secret is scrubbed from error messages before they reach a terminal.
//!
//! Connection strings are redacted by what they *might* mean, not by what a parser accepts:
//! a password with an unencoded `/`, `?`, `#` or `@` makes the URI invalid, and exactly then
//! the naive "userinfo ends at the first `/`" reading would print it. So the userinfo is taken
//! to end at the *last* `@` that is followed by something shaped like a host list, and a URI
//! whose userinfo is malformed is shown with no userinfo at all.

use std::sync::{Mutex, OnceLock};

const MASK: &str = "****";

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret so that [`scrub`] removes it from any text.
pub fn register(secret: &str) {
    if secret.len() < 3 {
        return;
    }
    let mut s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    for form in [
        secret.to_string(),
        crate::percent::encode_component(secret),
        crate::percent::decode_component_lossy(secret),
    ] {
        if form.len() >= 3 && !s.contains(&form) {
            s.push(form);
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    s.sort_by_key(|x| std::cmp::Reverse(x.len()));
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

/// Characters a host list may hold: names, IPv4/IPv6 literals, ports, commas, and a
/// percent-encoded Unix socket path.
fn is_host_list(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b'-' | b'_' | b':' | b',' | b'[' | b']' | b'%')
        })
}

/// Characters that must be percent-encoded in a URI's user name or password.
fn is_well_formed_userinfo_part(s: &str) -> bool {
    !s.bytes()
        .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'[' | b']' | b':' | b' '))
}

/// The userinfo of `rest` (what follows `scheme://`) and where the host list starts.
fn split_userinfo(rest: &str) -> Option<(&str, &str)> {
    let at = rest
        .char_indices()
        .rev()
        .filter(|(_, c)| *c == '@')
        .find_map(|(i, _)| {
            let after = &rest[i + 1..];
            let hosts = after.split(['/', '?']).next().unwrap_or("");
            is_host_list(hosts).then_some(i)
        })?;
    Some((&rest[..at], &rest[at + 1..]))
}

/// How a connection string is shown: `mongodb://user:****@host/?x=y`, secret options masked,
/// and, when its userinfo is malformed (an unencoded `/`, `?`, `@`, …), `mongodb://****@host/…`
/// with no part of it. Registers what it hides, so later errors are scrubbed too.
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        // Not a URI at all: nothing before an `@` can be shown safely.
        return match uri.rsplit_once('@') {
            Some((userinfo, after)) => {
                register_userinfo(userinfo);
                format!("{MASK}@{after}")
            }
            None => uri.to_string(),
        };
    };
    let (userinfo, after) = match split_userinfo(rest) {
        Some((u, a)) => (Some(u), a),
        None if rest.contains('@') => {
            // An `@` but nothing that looks like a host after it: hide all of it.
            register_userinfo(rest);
            return format!("{scheme}://{MASK}");
        }
        None => (None, rest),
    };
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (hosts, tail) = after.split_at(authority_end);
    let shown_userinfo = match userinfo {
        None => String::new(),
        Some(u) => {
            register_userinfo(u);
            match u.split_once(':') {
                Some((user, pass))
                    if is_well_formed_userinfo_part(user) && is_well_formed_userinfo_part(pass) =>
                {
                    format!("{user}:{MASK}@")
                }
                None if is_well_formed_userinfo_part(u) => format!("{u}@"),
                _ => format!("{MASK}@"),
            }
        }
    };
    format!("{scheme}://{shown_userinfo}{hosts}{}", redact_options(tail))
}

/// Registers the password of a userinfo, and the whole userinfo when it is malformed (a
/// fragment of it may then appear in a parser's message).
fn register_userinfo(userinfo: &str) {
    match userinfo.split_once(':') {
        Some((user, pass)) => {
            register(pass);
            if !is_well_formed_userinfo_part(user) || !is_well_formed_userinfo_part(pass) {
                register(userinfo);
                for piece in pass.split(['/', '?', '#', '@', ':', ' ']) {
                    register(piece);
                }
            }
        }
        None => {
            if !is_well_formed_userinfo_part(userinfo) {
                register(userinfo);
            }
        }
    }
}

/// `/db?replicaSet=rs0&password=x` with secret option values masked.
fn redact_options(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                register(v);
                // `authMechanismProperties=AWS_SESSION_TOKEN:tok,…`: each value on its own.
                for pair in v.split(',') {
                    register(pair.split_once(':').map_or(pair, |(_, value)| value));
                }
                format!("{k}={MASK}")
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// Whether the URI's user name and password are percent-encoded as they must be; when not,
/// a parser's message about them may quote fragments, so callers describe the problem
/// themselves.
pub fn userinfo_is_malformed(uri: &str) -> bool {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    match split_userinfo(rest) {
        None => rest.contains('@'),
        Some((u, _)) => match u.split_once(':') {
            Some((user, pass)) => {
                !is_well_formed_userinfo_part(user) || !is_well_formed_userinfo_part(pass)
            }
            None => !is_well_formed_userinfo_part(u),
        },
    }
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
        // No word here may contain a secret another test registers in the same process
        // ("ssw" from a malformed URI made "password" come out as "pa****ord").
        assert_eq!(scrub("user admin secret s3cr@t"), "user admin secret ****");
        assert_eq!(
            redact_uri("mongodb://h1:1/?directConnection=true"),
            "mongodb://h1:1/?directConnection=true"
        );
        assert_eq!(
            redact_uri("mongodb+srv://u@c.example.net"),
            "mongodb+srv://u@c.example.net"
        );
    }

    /// Every malformed form a careless user types: the password never shows, in the
    /// redacted form or in a message that quotes it afterwards.
    #[test]
    fn malformed_uris_never_show_their_password() {
        let cases: &[(&str, &str, &str)] = &[
            // (uri, secret that must not show, expected display)
            (
                "mongodb://ceo:pa/ss@127.0.0.1:27017/",
                "pa/ss",
                "mongodb://****@127.0.0.1:27017/",
            ),
            ("mongodb://ceo:pa?ss@h1/", "pa?ss", "mongodb://****@h1/"),
            (
                "mongodb://ceo:p@ssw@h1:27017/db",
                "p@ssw",
                "mongodb://****@h1:27017/db",
            ),
            ("mongodb://ceo:pa#ss@h1", "pa#ss", "mongodb://****@h1"),
            ("mongodb://ceo:pa:ss@h1", "pa:ss", "mongodb://****@h1"),
            ("mongodb://ceo:pa ss@h1", "pa ss", "mongodb://****@h1"),
            (
                "mongodb+srv://ceo:pa/ss?x@cluster0.example.net/app?retryWrites=true",
                "pa/ss?x",
                "mongodb+srv://****@cluster0.example.net/app?retryWrites=true",
            ),
            ("mongodb://ceo:hunter22@", "hunter22", "mongodb://****"),
            ("mongodb://ceo:hunter22@/db", "hunter22", "mongodb://****"),
            ("ceo:hunter22@h1:27017", "hunter22", "****@h1:27017"),
            ("mongodb://:hunter22@h1", "hunter22", "mongodb://:****@h1"),
            (
                "mongodb://ceo:pa%2Fss@h1",
                "pa%2Fss",
                "mongodb://ceo:****@h1",
            ),
            (
                "mongodb://h1/?authMechanismProperties=AWS_SESSION_TOKEN:tok123&password=pw123",
                "tok123",
                "mongodb://h1/?authMechanismProperties=****&password=****",
            ),
        ];
        for (uri, secret, shown) in cases {
            let r = redact_uri(uri);
            assert_eq!(&r, shown, "display of {uri}");
            assert!(!r.contains(secret), "{uri} shows {secret}: {r}");
            // A later message quoting the secret, or a fragment of it, is scrubbed.
            let message = format!("parse error near {secret} in {uri}");
            let scrubbed = scrub(&message);
            assert!(!scrubbed.contains(secret), "{scrubbed}");
        }
        assert!(!scrub("password is pw123").contains("pw123"));
    }

    #[test]
    fn tells_malformed_userinfo_from_well_formed() {
        assert!(userinfo_is_malformed("mongodb://ceo:pa/ss@h1/"));
        assert!(userinfo_is_malformed("mongodb://ceo:p@ss@h1/"));
        assert!(userinfo_is_malformed("mongodb://ceo:x@"));
        assert!(!userinfo_is_malformed("mongodb://ceo:pa%2Fss@h1/"));
        assert!(!userinfo_is_malformed("mongodb://h1/?appName=a"));
        assert!(!userinfo_is_malformed("mongodb://ceo@h1"));
    }
}
