//! Which identity API shape a token body has: v2 (`access.token`) or v3 (`token`).

/// Which identity API shape a token body has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// Identity API v2.0: `{"access": {"token": {...}, "user": {...}, ...}}`.
    V2,
    /// Identity API v3: `{"token": {...}}`.
    V3,
}

impl TokenVersion {
    /// The stable name: `v2` or `v3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenVersion::V2 => "v2",
            TokenVersion::V3 => "v3",
        }
    }
}
