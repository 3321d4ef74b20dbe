//! Namespace patterns: `*` matches any run of characters (`reminderdb_*.users`,
//! `*.audit_*`); a pattern without a dot matches whole databases. Renames map the `*`s of
//! `--ns-from` onto the `*`s of `--ns-to`, in order.

use anyhow::{Result, bail};
use regex::Regex;

#[derive(Debug, Clone)]
pub struct Pattern {
    re: Regex,
    stars: usize,
}

impl Pattern {
    pub fn new(p: &str) -> Result<Self> {
        let full = if p.contains('.') {
            p.to_string()
        } else {
            format!("{p}.*")
        };
        let mut re = String::from("^");
        let mut stars = 0;
        for (i, part) in full.split('*').enumerate() {
            if i > 0 {
                re.push_str("(.*)");
                stars += 1;
            }
            re.push_str(&regex::escape(part));
        }
        re.push('$');
        Ok(Pattern {
            re: Regex::new(&re)?,
            stars,
        })
    }

    pub fn matches(&self, ns: &str) -> bool {
        self.re.is_match(ns)
    }
}

/// Include / exclude / rename rules.
#[derive(Debug, Clone, Default)]
pub struct NsRules {
    pub include: Vec<Pattern>,
    pub exclude: Vec<Pattern>,
    pub renames: Vec<(Pattern, String)>,
}

impl NsRules {
    pub fn new(
        include: &[String],
        exclude: &[String],
        from: &[String],
        to: &[String],
    ) -> Result<Self> {
        if from.len() != to.len() {
            bail!("--ns-from and --ns-to must be given the same number of times");
        }
        let mut renames = Vec::new();
        for (f, t) in from.iter().zip(to) {
            let p = Pattern::new(f)?;
            let to_full = if f.contains('.') || t.contains('.') {
                t.clone()
            } else {
                format!("{t}.*")
            };
            if to_full.matches('*').count() != p.stars {
                bail!("--ns-to {t} must have as many '*' as --ns-from {f}");
            }
            renames.push((p, to_full));
        }
        Ok(NsRules {
            include: include
                .iter()
                .map(|p| Pattern::new(p))
                .collect::<Result<_>>()?,
            exclude: exclude
                .iter()
                .map(|p| Pattern::new(p))
                .collect::<Result<_>>()?,
            renames,
        })
    }

    pub fn selected(&self, ns: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(ns)))
            && !self.exclude.iter().any(|p| p.matches(ns))
    }

    /// The target namespace (the first matching rename, else unchanged).
    pub fn rename(&self, ns: &str) -> String {
        for (p, to) in &self.renames {
            if let Some(c) = p.re.captures(ns) {
                let mut out = String::new();
                for (i, part) in to.split('*').enumerate() {
                    if i > 0 {
                        out.push_str(c.get(i).map(|m| m.as_str()).unwrap_or(""));
                    }
                    out.push_str(part);
                }
                return out;
            }
        }
        ns.to_string()
    }
}

/// Splits `db.coll` at the first dot.
pub fn split(ns: &str) -> (&str, &str) {
    ns.split_once('.').unwrap_or((ns, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_exclude_and_rename() {
        let r = NsRules::new(
            &["reminderdb_*".into()],
            &["*.audit_*".into()],
            &["reminderdb_*".into()],
            &["staging_reminderdb_*".into()],
        )
        .unwrap();
        assert!(r.selected("reminderdb_auth.users"));
        assert!(!r.selected("reminderdb_auth.audit_log"));
        assert!(!r.selected("other.users"));
        assert_eq!(
            r.rename("reminderdb_auth.users"),
            "staging_reminderdb_auth.users"
        );
        assert_eq!(r.rename("x.y"), "x.y");
        let r = NsRules::new(&[], &[], &["a.*".into()], &["b.old_*".into()]).unwrap();
        assert_eq!(r.rename("a.users"), "b.old_users");
        assert!(NsRules::new(&[], &[], &["a.*".into()], &["b.c".into()]).is_err());
    }
}
