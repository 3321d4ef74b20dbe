//! Percent-encoding, the one copy mongoctl has: URI components (user names, passwords and
//! options in a connection string) and Go's `url.QueryEscape` form, which mongodump uses to
//! turn collection names into file names. Built on the `percent-encoding` crate.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Every byte but RFC 3986's unreserved characters `A-Z a-z 0-9 - . _ ~`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 3986 percent-encoding of everything but unreserved characters (upper-case hex), as
/// user names and passwords in a connection string need.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Go's `url.QueryEscape`: as [`encode_component`], except that a space becomes `+`.
pub fn query_escape(s: &str) -> String {
    // A literal "%20" cannot survive encoding ('%' becomes "%25"), so each one is a space.
    encode_component(s).replace("%20", "+")
}

/// Go's `url.QueryUnescape`: `+` is a space and `%XX` a byte; a `%` without two hex digits
/// after it, or bytes that are not UTF-8, are an error (as they are for mongorestore).
pub fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    if let Some(i) = (0..b.len()).find(|&i| b[i] == b'%' && !(hex(i + 1) && hex(i + 2))) {
        return Err(format!(
            "invalid escape {:?} at byte {i}",
            &s[i..(i + 3).min(s.len())]
        ));
    }
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "the unescaped name is not UTF-8".to_string())
}

/// Undoes [`encode_component`] leniently: a `%` without two hex digits stays as it is.
pub fn decode_component_lossy(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_is_gos() {
        // Expected values from Go's url.QueryEscape.
        for (raw, escaped) in [
            ("plain-name_1.x~", "plain-name_1.x~"),
            ("a/b", "a%2Fb"),
            ("with space", "with+space"),
            ("a+b", "a%2Bb"),
            ("%41", "%2541"),
            ("données", "donn%C3%A9es"),
            ("$admin*", "%24admin%2A"),
        ] {
            assert_eq!(query_escape(raw), escaped, "{raw}");
            assert_eq!(query_unescape(escaped).unwrap(), raw, "{escaped}");
        }
        assert_eq!(encode_component("p@ss word"), "p%40ss%20word");
    }

    #[test]
    fn query_unescape_refuses_what_go_refuses() {
        for bad in ["50%", "50%4", "%zz", "a%C3"] {
            assert!(query_unescape(bad).is_err(), "{bad}");
        }
    }
}
