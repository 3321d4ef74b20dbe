//! `pattern` and `patternProperties` compiled as mongod 6.0 compiles them (PCRE 8 semantics on
//! top of the `pcre2` crate), so that the offline validator matches what the server matches.

use super::message::quote;

/// A `pattern` compiled as mongod 6.0 compiles it: PCRE in UTF-8 mode without UCP, so `\d`, `\w`,
/// `\s` and `\b` are ASCII-only and `$` also matches before a final newline. Lookaround,
/// backreferences, atomic groups and possessive quantifiers all mean what they mean on the server.
#[derive(Debug, Clone)]
pub(super) struct Pcre(pcre2::bytes::Regex);

impl Pcre {
    /// JSON Schema `pattern` is an unanchored search.
    pub(super) fn is_match(&self, s: &str) -> bool {
        // A match error (PCRE's backtracking limit) fails the match on the server as well.
        self.0.is_match(s.as_bytes()).unwrap_or(false)
    }
}

/// Compiles a pattern as mongod does, or says why mongod would refuse it (in PCRE's words).
pub(super) fn compile_pcre(source: &str) -> Result<Pcre, String> {
    let invalid = |reason: &str| format!("invalid regular expression {}: {reason}", quote(source));
    let pcre1 = as_pcre1(source).map_err(invalid)?;
    // mongod compiles the pattern inside a group, after the option verbs that must open it
    // (`(*UCP)`): a trailing `#` comment in (?x) mode, or an unterminated \Q, swallows its `)`.
    let (verbs, body) = leading_verbs(&pcre1);
    let wrapped = format!("{verbs}(?:{body})");
    if let Some(why) = pcre1_compile_error(&wrapped) {
        return Err(invalid(&why));
    }
    pcre2::bytes::RegexBuilder::new()
        .utf(true)
        .jit_if_available(true)
        .build(&wrapped)
        .map(Pcre)
        .map_err(|e| invalid(&e.to_string()))
}

/// PCRE 8 requires each branch of a lookbehind to have a fixed length; PCRE2 accepts bounded
/// variable-length ones unless its compile context says otherwise, which the `pcre2` crate's
/// builder cannot say. So the pattern is first compiled here with that limit, for its verdict.
fn pcre1_compile_error(pattern: &str) -> Option<String> {
    use pcre2_sys::*;
    let mut code = 0;
    let mut offset = 0;
    // SAFETY: the context and the compiled code are freed before returning; the pattern is
    // passed with its length and the error buffer with its size.
    unsafe {
        let ctx = pcre2_compile_context_create_8(std::ptr::null_mut());
        if ctx.is_null() {
            return None;
        }
        pcre2_set_max_varlookbehind_8(ctx, 0);
        let re = pcre2_compile_8(
            pattern.as_ptr(),
            pattern.len(),
            PCRE2_UTF,
            &mut code,
            &mut offset,
            ctx,
        );
        pcre2_compile_context_free_8(ctx);
        if !re.is_null() {
            pcre2_code_free_8(re);
            return None;
        }
        let mut buf = [0u8; 256];
        let n = pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len());
        Some(match usize::try_from(n) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(_) => format!("PCRE error {code}"),
        })
    }
}

/// Splits off the `(*UCP)`-style option verbs PCRE reads only at the very start of a pattern;
/// PCRE 8's `(*UTF8)` is PCRE2's `(*UTF)`.
fn leading_verbs(pattern: &str) -> (String, &str) {
    let mut verbs = String::new();
    let mut rest = pattern;
    while let Some(inner) = rest.strip_prefix("(*")
        && let Some(end) = inner.find(')')
        && inner[..end]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '=')
        && inner[..end].starts_with(|c: char| c.is_ascii_uppercase())
    {
        let verb = &inner[..end];
        verbs.push_str(&format!("(*{})", if verb == "UTF8" { "UTF" } else { verb }));
        rest = &inner[end + 1..];
    }
    (verbs, rest)
}

/// mongod 6.0 links PCRE 8.x, the crate PCRE2 10.4x. Where the two dialects differ this makes
/// PCRE2 read the pattern as PCRE 8 does: `{` is a literal unless it starts `{n}`, `{n,}` or
/// `{n,m}` (PCRE2 also reads `{,m}` and `{ n }` as repetitions), and the syntax PCRE2 added
/// (`(*pla:`-style alpha assertions, `(?*` non-atomic lookaround, `(?^`) is an error there.
fn as_pcre1(pattern: &str) -> Result<String, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                out.push('\\');
                let Some(&e) = chars.get(i) else { break };
                out.push(e);
                i += 1;
                if e == 'Q' {
                    // \Q...\E quotes everything in between, braces included.
                    while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                        out.push(chars[i]);
                        i += 1;
                    }
                } else if "xopPgkN".contains(e) && chars.get(i) == Some(&'{') {
                    // \x{..}, \p{..}, \g{..}: the braces belong to the escape.
                    while i < chars.len() {
                        out.push(chars[i]);
                        i += 1;
                        if chars[i - 1] == '}' {
                            break;
                        }
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal member.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push(']');
                    i += 1;
                }
            }
            '[' if chars.get(i) == Some(&':') => {
                // A POSIX class such as [:alpha:] inside a class.
                let len = chars[i..]
                    .windows(2)
                    .position(|w| w == [':', ']'])
                    .map_or(0, |end| end + 2);
                out.push('[');
                out.extend(&chars[i..i + len]);
                i += len;
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ if in_class => out.push(c),
            '(' if chars.get(i) == Some(&'?') && chars.get(i + 1) == Some(&'#') => {
                // A comment runs to the first `)`.
                let end = chars[i..]
                    .iter()
                    .position(|&ch| ch == ')')
                    .map_or(chars.len(), |p| i + p + 1);
                out.extend(&chars[i - 1..end]);
                i = end;
            }
            '(' => {
                let next: String = chars[i..].iter().take(3).collect();
                if next.starts_with("?*") || next.starts_with("?<*") {
                    return Err("non-atomic lookaround (?* is not PCRE 8 syntax");
                }
                if next.starts_with("?^") {
                    return Err("(?^ is not PCRE 8 syntax");
                }
                if next.starts_with('*')
                    && next[1..].starts_with(|ch: char| ch.is_ascii_lowercase())
                {
                    return Err("(*name: alpha assertions are not PCRE 8 syntax");
                }
                out.push('(');
            }
            '{' if counted_repetition(&chars[i - 1..]).is_none() => out.push_str(r"\{"),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The length of `{n}`, `{n,}` or `{n,m}` at the start of `chars`; PCRE 8 reads anything else as
/// literal text.
fn counted_repetition(chars: &[char]) -> Option<usize> {
    let close = chars.iter().position(|&c| c == '}')?;
    let inner: String = chars[1..close].iter().collect();
    let (low, high) = inner.split_once(',').unwrap_or((&inner, "0"));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    (!low.is_empty() && digits(low) && digits(high)).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcre_patterns_keep_their_meaning() {
        let matches = |p: &str, s: &str| compile_pcre(p).unwrap().is_match(s);
        assert!(!matches(r"^\d$", "٣"), "PCRE \\d is ASCII");
        assert!(!matches(r"^\w$", "é"));
        assert!(matches(r"^\W$", "é"));
        assert!(
            matches(r"^abc$", "abc\n"),
            "$ matches before a final newline"
        );
        assert!(!matches(r"^a.c$", "a\nc"));
        assert!(matches(r"\bé", "aé"), "\\b is an ASCII word boundary");
        assert!(matches(r"^\<$", "<"), "escaped punctuation is literal");
        assert!(matches(r"a{,2}", "a{,2}") && !matches(r"a{,2}", "aa"));
        assert!(matches(r"^a{ 1}$", "a{ 1}") && matches(r"^a{2}$", "aa"));
        assert!(matches(r"^[{,]\x{7b}\Q{,1}\E$", ",{{,1}"));
        assert!(matches(r"^[\w-]+$", "a-b") && matches(r"^\x{e9}\p{L}$", "éa"));
        assert!(matches(r"^[[:alpha:]]\s\Q.*\E$", "a\u{b}.*"));
        assert!(matches(r"(?i)^É(?#comment{,1})$", "é"));
        assert!(matches(r"^(?=.*[0-9])(?=.*[a-z]).{6,}$", "abc123"));
        assert!(!matches(r"^(?=.*[0-9])(?=.*[a-z]).{6,}$", "abcdef"));
        assert!(matches(r"(?<=a)b", "ab") && !matches(r"(?<!a)b", "ab"));
        assert!(matches(r"^(a)\1$", "aa") && !matches(r"^(a)\1$", "ab"));
        assert!(
            !matches(r"^a++a$", "aaa"),
            "possessive quantifiers give nothing back"
        );
        assert!(
            compile_pcre("[a")
                .unwrap_err()
                .starts_with("invalid regular expression \"[a\": missing terminating ]")
        );
        for pcre2_only in ["(*pla:a)", "(?*a)b", "(?^i)a"] {
            assert!(compile_pcre(pcre2_only).is_err(), "{pcre2_only}");
        }
    }
}
