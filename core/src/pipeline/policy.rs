//! What the validation enforces: the middleware's configuration.

use crate::algorithm::HashAlgorithms;
use crate::body::bind::BindMode;
use crate::token_text::DetectionRule;

/// What the validation enforces, the middleware's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `hash_algorithms`: token hashes to compute (cache keys) and to check for revocation.
    pub hash_algorithms: HashAlgorithms,
    /// `enforce_token_bind`.
    pub bind_mode: BindMode,
    /// How PKI tokens are recognised.
    pub detection: DetectionRule,
}

impl Default for Policy {
    /// keystonemiddleware's defaults: md5 hashes, permissive bind enforcement, the `MII` rule.
    fn default() -> Self {
        Policy {
            hash_algorithms: HashAlgorithms::default(),
            bind_mode: BindMode::Permissive,
            detection: DetectionRule::Upstream,
        }
    }
}
