//! MongoDB's database and collection name rules, shared by the manifest (collections and
//! views) and the tenant list.

/// What mongod refuses in the name of a collection or a view (`what`): empty, `$`, NUL, or
/// the reserved `system.` prefix.
pub fn namespace_name_problem(what: &str, name: &str) -> Option<String> {
    if name.is_empty() || name.contains('$') || name.contains('\0') {
        Some(format!(
            "{what} name \"{name}\" is empty or contains '$' or a NUL byte"
        ))
    } else if name.starts_with("system.") {
        Some(format!(
            "{what} name \"{name}\" is reserved: names starting with \"system.\" belong to MongoDB"
        ))
    } else {
        None
    }
}

/// Checks a database name against MongoDB's rules (so the error surfaces here, not at apply).
pub fn database_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("database name must not be empty".into());
    }
    if name.len() >= 64 {
        return Some(format!(
            "database name \"{name}\" is {} bytes; MongoDB allows at most 63",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| "/\\. \"$\0".contains(*c)) {
        return Some(format!(
            "database name \"{name}\" contains {c:?}, which MongoDB does not allow"
        ));
    }
    // Accepted by mongod on Linux, refused on Windows and unsafe in backup folder names.
    if let Some(c) = name.chars().find(|c| "*<>:|?".contains(*c)) {
        return Some(format!(
            "database name \"{name}\" contains {c:?}, which MongoDB on Windows does not allow; keep names portable"
        ));
    }
    if ["admin", "local", "config"].contains(&name) {
        return Some(format!(
            "\"{name}\" is a MongoDB system database and cannot be managed"
        ));
    }
    None
}
