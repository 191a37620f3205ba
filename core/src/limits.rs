//! Resource limits applied to untrusted input.

/// Bounds on what one token may cost; every decoder checks the relevant one before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted token, CMS PEM text or DER document, in bytes.
    pub max_token_len: usize,
    /// Largest accepted inflated PKIZ payload, in bytes (caps a compression bomb's cost).
    pub max_inflated_len: usize,
    /// Largest accepted JSON document (token body, revocation list), in bytes.
    pub max_json_len: usize,
    /// Deepest accepted JSON nesting.
    pub max_json_depth: usize,
}

impl Limits {
    /// One mebibyte: far above any real token (upstream examples are 2–10 KB, big catalogs ~40 KB).
    pub const DEFAULT_SIZE: usize = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_len: Self::DEFAULT_SIZE,
            max_inflated_len: Self::DEFAULT_SIZE,
            max_json_len: Self::DEFAULT_SIZE,
            max_json_depth: 64,
        }
    }
}
