//! A location inside a JSON document (`properties.role.enum[2]`), shared by every
//! diagnostic so that a problem can be mapped back to a line and column of its file.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath(pub Vec<Seg>);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(k.into()));
        JsonPath(segs)
    }

    pub fn index(&self, i: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(i));
        JsonPath(segs)
    }

    /// `self` followed by `sub`'s segments.
    pub fn join(&self, sub: &JsonPath) -> Self {
        let mut segs = self.0.clone();
        segs.extend(sub.0.iter().cloned());
        JsonPath(segs)
    }

    /// The last segment when it is a key.
    pub fn last_key(&self) -> Option<String> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k.clone()),
            _ => None,
        }
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn parent(&self) -> Option<JsonPath> {
        if self.0.is_empty() {
            None
        } else {
            Some(JsonPath(self.0[..self.0.len() - 1].to_vec()))
        }
    }
}

impl fmt::Display for JsonPath {
    /// `$` for the root, otherwise `a.b[2].c`; keys that are not plain identifiers are quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("$");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
                    if i > 0 && plain {
                        f.write_str(".")?;
                    }
                    if plain {
                        f.write_str(k)?;
                    } else {
                        write!(f, "[{}]", serde_json::to_string(k).unwrap_or_default())?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_keys_indexes_and_quoted_keys() {
        let p = JsonPath::root()
            .key("properties")
            .key("role")
            .key("enum")
            .index(2);
        assert_eq!(p.to_string(), "properties.role.enum[2]");
        let q = JsonPath::root().key("key").key("a.b");
        assert_eq!(q.to_string(), "key[\"a.b\"]");
        assert_eq!(JsonPath::root().to_string(), "$");
        assert_eq!(p.parent().unwrap().to_string(), "properties.role.enum");
    }
}
