//! Token-id hashing with keystoneclient's `cms_hash_token` semantics.
//!
//! Keystone stores and revokes PKI tokens by a hash of the token string as sent on the wire;
//! keystonemiddleware computes one hash per configured algorithm and checks all of them.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::algorithm::HashAlgorithm;
use crate::form::{detect, TokenForm};

/// Lowercase hex digest of `data`, unconditionally (keystoneclient's `utils.hash_signed_token`).
pub fn hash_hex(data: &[u8], algorithm: HashAlgorithm) -> String {
    match algorithm {
        HashAlgorithm::Md5 => hex::encode(Md5::digest(data)),
        HashAlgorithm::Sha1 => hex::encode(Sha1::digest(data)),
        HashAlgorithm::Sha224 => hex::encode(Sha224::digest(data)),
        HashAlgorithm::Sha256 => hex::encode(Sha256::digest(data)),
        HashAlgorithm::Sha384 => hex::encode(Sha384::digest(data)),
        HashAlgorithm::Sha512 => hex::encode(Sha512::digest(data)),
    }
}

/// The token's id hash if it is a PKI (`MII`) or PKIZ (`PKIZ_`) token, `None` for any other token.
///
/// `cms_hash_token` returns other tokens unchanged; callers that want that behaviour use
/// [`token_cache_keys`].
pub fn hash_token(token: &str, algorithm: HashAlgorithm) -> Option<String> {
    match detect(token) {
        TokenForm::Pki | TokenForm::Pkiz => Some(hash_hex(token.as_bytes(), algorithm)),
        TokenForm::Other => None,
    }
}

/// One hash per algorithm, in the given order, or `None` when the token is not PKI/PKIZ.
pub fn hash_token_all(token: &str, algorithms: &[HashAlgorithm]) -> Option<Vec<String>> {
    match detect(token) {
        TokenForm::Pki | TokenForm::Pkiz => Some(
            algorithms
                .iter()
                .map(|a| hash_hex(token.as_bytes(), *a))
                .collect(),
        ),
        TokenForm::Other => None,
    }
}

/// keystonemiddleware's `token_hashes`: the hashes of a PKI/PKIZ token, or the token itself otherwise.
pub fn token_cache_keys(token: &str, algorithms: &[HashAlgorithm]) -> Vec<String> {
    hash_token_all(token, algorithms).unwrap_or_else(|| vec![token.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(
            hash_token("MIIxyz", HashAlgorithm::Md5).as_deref(),
            Some("009f3e7fda5ad50dae0c99661213dfa0")
        );
        assert_eq!(
            hash_token("PKIZ_", HashAlgorithm::Md5).as_deref(),
            Some("2dd605975ca246cd65b16d252f6c8203")
        );
    }

    #[test]
    fn other_tokens_are_not_hashed() {
        assert_eq!(hash_token("abcdef0123", HashAlgorithm::Md5), None);
        assert_eq!(hash_token("mii", HashAlgorithm::Md5), None);
        assert_eq!(
            token_cache_keys("uuid-token", &[HashAlgorithm::Md5, HashAlgorithm::Sha256]),
            vec!["uuid-token".to_owned()]
        );
    }

    #[test]
    fn several_algorithms_in_order() {
        let hashes = hash_token_all("MIIabc", &HashAlgorithm::ALL).unwrap_or_default();
        let lens: Vec<usize> = hashes.iter().map(String::len).collect();
        assert_eq!(lens, vec![32, 40, 56, 64, 96, 128]);
        assert!(hashes.iter().all(|h| h
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))));
    }
}
