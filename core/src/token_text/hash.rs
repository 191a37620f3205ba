//! Token-id hashing with keystoneclient's `cms_hash_token` semantics
//! (`docs/reference-behaviour.md#token-hashing`).
//!
//! Keystone stores and revokes PKI tokens by a hash of the token string as sent on the wire;
//! keystonemiddleware computes one hash per configured algorithm and checks all of them. Surrounding
//! whitespace is not part of the token ([`crate::token_text::whitespace::trim_token`]): HTTP servers strip it from the
//! header, so the hash of a padded token is the hash keystone listed when it revoked the token.

use crate::algorithm::HashAlgorithm;
use crate::cms::crypto::digest;
use crate::error::Result;
use crate::token_text::detect::{detect_with, DetectionRule, TokenForm};
use crate::token_text::whitespace::trim_token;

/// Lowercase hex digest of `data`, unconditionally and exactly as given (keystoneclient's
/// `utils.hash_signed_token`).
///
/// Errors only when OpenSSL cannot provide the algorithm ([`crate::Error::InvalidArgument`]).
pub fn hash_hex(data: &[u8], algorithm: HashAlgorithm) -> Result<String> {
    digest(algorithm, data).map(hex::encode)
}

/// The token's id hash if it is a PKI (`MII`) or PKIZ (`PKIZ_`) token, `None` for any other token.
///
/// `cms_hash_token` returns other tokens unchanged; callers that want that behaviour use
/// [`token_cache_keys`].
pub fn hash_token(token: impl AsRef<[u8]>, algorithm: HashAlgorithm) -> Result<Option<String>> {
    Ok(hash_token_all(token, &[algorithm])?.and_then(|mut hashes| hashes.pop()))
}

/// One hash per algorithm, in the given order, or `None` when the token is not PKI/PKIZ.
pub fn hash_token_all(
    token: impl AsRef<[u8]>,
    algorithms: &[HashAlgorithm],
) -> Result<Option<Vec<String>>> {
    hash_token_all_with(token, algorithms, DetectionRule::Upstream)
}

/// [`hash_token_all`] with PKI tokens recognised by `rule` (the lenient rule also hashes a PKI token
/// whose DER is 16 KiB or more, as the pipeline does with lenient detection).
pub fn hash_token_all_with(
    token: impl AsRef<[u8]>,
    algorithms: &[HashAlgorithm],
    rule: DetectionRule,
) -> Result<Option<Vec<String>>> {
    let token = trim_token(token.as_ref());
    match detect_with(token, rule) {
        TokenForm::Pki | TokenForm::Pkiz => algorithms
            .iter()
            .map(|a| hash_hex(token, *a))
            .collect::<Result<Vec<_>>>()
            .map(Some),
        TokenForm::Other => Ok(None),
    }
}

/// keystonemiddleware's `token_hashes`: the hashes of a PKI/PKIZ token, or the token itself
/// (without surrounding whitespace) otherwise.
pub fn token_cache_keys(token: &str, algorithms: &[HashAlgorithm]) -> Result<Vec<String>> {
    Ok(hash_token_all(token, algorithms)?
        .unwrap_or_else(|| vec![crate::token_text::whitespace::trim_token_str(token).to_owned()]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_lenient_rule_hashes_large_pki_tokens() {
        // The base64 of a DER header for 20,000 bytes: `MIJO`, no `MII` prefix.
        use base64::Engine as _;
        let header =
            base64::engine::general_purpose::STANDARD.encode([0x30, 0x82, 0x4e, 0x20, 0, 0]);
        let token = header + &"A".repeat(26_664);
        assert_eq!(hash_token_all(&token, &[HashAlgorithm::Md5]).unwrap(), None);
        let lenient =
            hash_token_all_with(&token, &[HashAlgorithm::Md5], DetectionRule::Lenient).unwrap();
        assert_eq!(
            lenient,
            Some(vec![hash_hex(token.as_bytes(), HashAlgorithm::Md5).unwrap()])
        );
    }

    #[test]
    fn reference_vectors() {
        assert_eq!(
            hash_token("MIIxyz", HashAlgorithm::Md5).unwrap().as_deref(),
            Some("009f3e7fda5ad50dae0c99661213dfa0")
        );
        assert_eq!(
            hash_token("PKIZ_", HashAlgorithm::Md5).unwrap().as_deref(),
            Some("2dd605975ca246cd65b16d252f6c8203")
        );
        // The standard test vectors of each algorithm, through the one OpenSSL mapping.
        let abc = [
            (HashAlgorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (HashAlgorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlgorithm::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlgorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlgorithm::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                HashAlgorithm::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algorithm, hex) in abc {
            assert_eq!(hash_hex(b"abc", algorithm).unwrap(), hex, "{algorithm}");
        }
    }

    #[test]
    fn other_tokens_are_not_hashed() {
        assert_eq!(hash_token("abcdef0123", HashAlgorithm::Md5).unwrap(), None);
        assert_eq!(hash_token("mii", HashAlgorithm::Md5).unwrap(), None);
        assert_eq!(
            token_cache_keys("uuid-token", &[HashAlgorithm::Md5, HashAlgorithm::Sha256]).unwrap(),
            vec!["uuid-token".to_owned()]
        );
    }

    #[test]
    fn surrounding_whitespace_is_not_hashed() {
        let bare = hash_token("MIIxyz", HashAlgorithm::Sha256).unwrap();
        assert!(bare.is_some());
        for padded in [" MIIxyz", "MIIxyz\n", "\t MIIxyz\r\n"] {
            assert_eq!(hash_token(padded, HashAlgorithm::Sha256).unwrap(), bare);
        }
        // hash_hex hashes exactly what it is given.
        assert_ne!(
            hash_hex(b"MIIxyz\n", HashAlgorithm::Sha256).unwrap(),
            hash_hex(b"MIIxyz", HashAlgorithm::Sha256).unwrap()
        );
        assert_eq!(
            token_cache_keys(" uuid\n", &[HashAlgorithm::Md5]).unwrap(),
            vec!["uuid".to_owned()]
        );
    }

    #[test]
    fn several_algorithms_in_order() {
        let hashes = hash_token_all("MIIabc", &HashAlgorithm::ALL)
            .unwrap()
            .unwrap_or_default();
        let lens: Vec<usize> = hashes.iter().map(String::len).collect();
        assert_eq!(lens, vec![32, 40, 56, 64, 96, 128]);
        assert!(hashes.iter().all(|h| h
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))));
    }
}
