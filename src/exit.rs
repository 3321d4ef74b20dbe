//! The documented exit codes.

use std::fmt;

pub const SUCCESS: u8 = 0;
/// Bad input, a failed command, an unreachable server, a refused confirmation.
pub const ERROR: u8 = 1;
/// `plan --exit-code`: changes are pending (drift).
pub const CHANGES_PENDING: u8 = 2;

/// An error whose message was already printed (diagnostics, a step report): `main` exits
/// with the code and prints nothing more.
#[derive(Debug)]
pub struct Reported(pub u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Reported {}
