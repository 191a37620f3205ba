//! keystonemiddleware's token-cache format in memcached, so a kstoken middleware and
//! keystonemiddleware processes can share one memcached (`docs/reference-behaviour.md#cache-keys`).
//!
//! An entry is stored under a key derived from the token's first configured hash: `tokens/<hex>`
//! with the SHA-256 hex of the hash, or with `memcache_security_strategy` set, `tokens/b'<b64>'`
//! with the base64 of the first 16 bytes of `HMAC-SHA384(memcache_secret_key, hash + strategy)`
//! (the `b'...'` is what keystonemiddleware on Python 3 writes: it formats the base64 *bytes*
//! into the key, and both sides must agree on it); the next 16 bytes key an
//! HMAC-SHA384 over the stored text and the last 16 an AES-128-CBC encryption (strategy `ENCRYPT`
//! only). The value is the token data as JSON, or the JSON string `"invalid"` for a refused token;
//! with a strategy it is `base64(mac) + base64(data)` (data = random IV + ciphertext for
//! `ENCRYPT`). The strategy is read case-insensitively, as keystonemiddleware's option is
//! (`ignore_case`); `MAC` takes part in the key derivation exactly as configured, as in the
//! reference, but any spelling of `ENCRYPT` encrypts and is derived as `ENCRYPT`. The reference
//! encrypts only for the exact string `ENCRYPT` and silently stores `encrypt` in plain text (MAC
//! only); a kstoken process never does, and deriving the keys from `ENCRYPT` keeps its entries away
//! from a keystonemiddleware configured with `encrypt`, which could not read them (it does not
//! decrypt) and shares them with one configured with `ENCRYPT`.

use std::fmt;

use crate::algorithm::HashAlgorithm;
use crate::cms::crypto::{
    aes128_cbc_decrypt, aes128_cbc_encrypt, constant_time_eq, digest, hmac_sha384,
};
use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::value::RawValue;

/// What a shared cache holds for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedValue {
    /// The token data JSON (a verified token body).
    Token(Vec<u8>),
    /// The token was refused.
    Invalid,
}

/// An entry to store in the shared cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    /// The memcached key (`tokens/...`).
    pub key: String,
    /// The bytes to store, in keystonemiddleware's format.
    pub value: Vec<u8>,
}

/// The reference's marker for a refused token, as JSON.
const INVALID_MARKER: &[u8] = b"\"invalid\"";
/// The MAC's length once base64-encoded (48 bytes).
const MAC_B64_LEN: usize = 64;

/// `memcache_security_strategy` with its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Protection {
    strategy: String,
    secret: Vec<u8>,
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protection")
            .field("strategy", &self.strategy)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Protection {
    /// A strategy (`MAC` or `ENCRYPT`, any case) and its secret. `MAC` is kept verbatim for key
    /// derivation (keystonemiddleware derives from the string as configured); any spelling of
    /// `ENCRYPT` becomes `ENCRYPT`, so it encrypts (see the module's documentation).
    pub fn new(strategy: &str, secret: &[u8]) -> Result<Self> {
        let strategy = match strategy.to_ascii_lowercase().as_str() {
            "mac" => strategy,
            "encrypt" => "ENCRYPT",
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "memcache_security_strategy must be None, MAC or ENCRYPT, not {strategy:?}"
                )))
            }
        };
        if secret.is_empty() {
            return Err(Error::InvalidArgument(
                "memcache_secret_key must be defined when a memcache_security_strategy is defined"
                    .to_owned(),
            ));
        }
        Ok(Protection {
            strategy: strategy.to_owned(),
            secret: secret.to_vec(),
        })
    }

    fn encrypts(&self) -> bool {
        self.strategy == "ENCRYPT"
    }
}

/// The storage format: plain, or protected by a strategy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedFormat {
    protection: Option<Protection>,
}

/// The memcached key for a token hash, with the keys derived for its value.
#[derive(Clone)]
pub struct Slot {
    /// The memcached key (`tokens/...`).
    pub key: String,
    keys: Option<([u8; 16], [u8; 16])>,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("key", &self.key).finish()
    }
}

impl SharedFormat {
    /// The format for `protection` (`None`: memcache_security_strategy = None).
    pub fn new(protection: Option<Protection>) -> Self {
        SharedFormat { protection }
    }

    /// The memcached key (and value keys) for a token hash.
    pub fn slot(&self, token_hash: &str) -> Result<Slot> {
        match &self.protection {
            None => Ok(Slot {
                key: format!(
                    "tokens/{}",
                    hex::encode(digest(HashAlgorithm::Sha256, token_hash.as_bytes())?)
                ),
                keys: None,
            }),
            Some(p) => {
                let mut message = token_hash.as_bytes().to_vec();
                message.extend_from_slice(p.strategy.as_bytes());
                let digest = hmac_sha384(&p.secret, &message)?;
                let part = |i: usize| -> Result<[u8; 16]> {
                    digest
                        .get(i * 16..(i + 1) * 16)
                        .and_then(|s| <[u8; 16]>::try_from(s).ok())
                        .ok_or_else(|| Error::Signing("short HMAC".to_owned()))
                };
                Ok(Slot {
                    key: format!("tokens/b'{}'", STANDARD.encode(part(0)?)),
                    keys: Some((part(1)?, part(2)?)),
                })
            }
        }
    }

    /// The bytes to store for `value` in `slot`.
    pub fn encode(&self, slot: &Slot, value: &SharedValue) -> Result<Vec<u8>> {
        let data: &[u8] = match value {
            SharedValue::Token(content) => content,
            SharedValue::Invalid => INVALID_MARKER,
        };
        let (Some(p), Some((mac_key, enc_key))) = (&self.protection, &slot.keys) else {
            return Ok(data.to_vec());
        };
        let data = if p.encrypts() {
            aes128_cbc_encrypt(enc_key, data)?
        } else {
            data.to_vec()
        };
        let encoded = STANDARD.encode(data);
        let mac = STANDARD.encode(hmac_sha384(mac_key, encoded.as_bytes())?);
        Ok(format!("{mac}{encoded}").into_bytes())
    }

    /// The value stored in `slot`, or `None` for anything that does not check out (a MAC mismatch,
    /// undecryptable data, or a value that is neither token data nor the marker), read as a miss.
    pub fn decode(&self, slot: &Slot, stored: &[u8]) -> Option<SharedValue> {
        let data = match (&self.protection, &slot.keys) {
            (Some(p), Some((mac_key, enc_key))) => {
                let (mac, encoded) = stored.split_at_checked(MAC_B64_LEN)?;
                let expected = STANDARD.encode(hmac_sha384(mac_key, encoded).ok()?);
                if !constant_time_eq(mac, expected.as_bytes()) {
                    return None;
                }
                let data = STANDARD.decode(encoded).ok()?;
                if p.encrypts() {
                    aes128_cbc_decrypt(enc_key, &data)?
                } else {
                    data
                }
            }
            _ => stored.to_vec(),
        };
        parse_stored(data)
    }
}

/// keystonemiddleware's reading of a cached value: the marker, an old `[data, expiry]` pair, or
/// the token data itself.
fn parse_stored(data: Vec<u8>) -> Option<SharedValue> {
    let text = std::str::from_utf8(&data).ok()?.trim();
    match text.as_bytes().first()? {
        b'"' => {
            let s: String = serde_json::from_str(text).ok()?;
            (s == "invalid").then_some(SharedValue::Invalid)
        }
        b'[' => {
            let pair: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            match pair.as_slice() {
                [first, _] => parse_stored(first.get().as_bytes().to_vec()),
                _ => None,
            }
        }
        b'{' => Some(SharedValue::Token(data)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const HASH: &str = "4ab116d14dec63f1e59ce78e26664a2a";

    #[test]
    fn plain_format_matches_keystonemiddleware() {
        let f = SharedFormat::default();
        let slot = f.slot(HASH).unwrap();
        // CPython: 'tokens/%s' % hashlib.sha256(HASH.encode()).hexdigest()
        assert_eq!(
            slot.key,
            "tokens/823e1d0a5536e3621777fabc67e9a85b33990b4bd2b068a43aa1e07568248709"
        );
        let token = SharedValue::Token(br#"{"token": {}}"#.to_vec());
        assert_eq!(f.encode(&slot, &token).unwrap(), br#"{"token": {}}"#);
        assert_eq!(
            f.encode(&slot, &SharedValue::Invalid).unwrap(),
            b"\"invalid\""
        );
        assert_eq!(f.decode(&slot, br#"{"token": {}}"#), Some(token));
        assert_eq!(f.decode(&slot, b"\"invalid\""), Some(SharedValue::Invalid));
        assert_eq!(
            f.decode(&slot, br#"[{"access": {}}, "2099-01-01"]"#),
            Some(SharedValue::Token(br#"{"access": {}}"#.to_vec()))
        );
        for junk in [&b""[..], b"\"other\"", b"[1,2,3]", b"42", b"\xff"] {
            assert_eq!(f.decode(&slot, junk), None);
        }
    }

    #[test]
    fn protected_format_matches_keystonemiddleware() {
        // keystonemiddleware 6.1.0: _memcache_crypt.derive_keys(HASH, b"sekrit", b"MAC"),
        // "tokens/%s" % get_cache_key(keys), protect_data(keys, b'{"a": 1}').
        let f = SharedFormat::new(Some(Protection::new("MAC", b"sekrit").unwrap()));
        let slot = f.slot("46e753bfb243fb99c94f85c3cc67f465").unwrap();
        assert_eq!(slot.key, "tokens/b'Dratmd9PeSDjaMC6HQDVJg=='");
        let stored = f
            .encode(&slot, &SharedValue::Token(br#"{"a": 1}"#.to_vec()))
            .unwrap();
        assert_eq!(
            String::from_utf8(stored).unwrap(),
            "H12MyRXSB0B3IOQSCfP2X2LFd5hHMzgossYYPALKr0grpZrwjTLUlnuBXdBN2eljeyJhIjogMX0="
        );
    }

    #[test]
    fn protected_round_trips_and_rejects_tampering() {
        for strategy in ["MAC", "ENCRYPT", "mac", "Encrypt"] {
            let f = SharedFormat::new(Some(Protection::new(strategy, b"secret").unwrap()));
            let slot = f.slot(HASH).unwrap();
            assert!(slot.key.starts_with("tokens/b'") && slot.key.len() == 7 + 24 + 3);
            let value = SharedValue::Token(br#"{"token": {"x": 1}}"#.to_vec());
            let stored = f.encode(&slot, &value).unwrap();
            assert_eq!(f.decode(&slot, &stored), Some(value.clone()));
            let readable = stored.windows(6).any(|w| w == b"eyJ0b2");
            // Any spelling of ENCRYPT encrypts (the reference stores "encrypt" in plain text).
            let encrypts = strategy.eq_ignore_ascii_case("encrypt");
            assert_eq!(readable, !encrypts, "{strategy}");
            let mut bad = stored.clone();
            let last = bad.len() - 3;
            bad[last] ^= 1;
            assert_eq!(f.decode(&slot, &bad), None);
            let other = SharedFormat::new(Some(Protection::new(strategy, b"other").unwrap()));
            assert_ne!(other.slot(HASH).unwrap().key, slot.key);
            let other_slot = other.slot(HASH).unwrap();
            assert_eq!(other.decode(&other_slot, &stored), None);
        }
        // "Encrypt" and "ENCRYPT" derive the same keys; "mac" and "MAC" do not (as the reference).
        let key = |strategy: &str| {
            SharedFormat::new(Some(Protection::new(strategy, b"secret").unwrap()))
                .slot(HASH)
                .unwrap()
                .key
        };
        assert_eq!(key("Encrypt"), key("ENCRYPT"));
        assert_eq!(key("encrypt"), key("ENCRYPT"));
        assert_ne!(key("mac"), key("MAC"));
        assert!(Protection::new("none", b"s").is_err());
        assert!(Protection::new("MAC", b"").is_err());
    }
}
