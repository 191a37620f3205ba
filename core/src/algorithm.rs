//! Hash algorithms: their names (as `hashlib.new` and `openssl -md` spell them), OIDs, and lists of
//! them as configured (`hash_algorithms = md5,sha256`). OpenSSL's digests are mapped in `crypto.rs`.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;

use crate::error::{Error, Result};

/// A hash algorithm used for token ids and, except MD5, for CMS digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// MD5: keystonemiddleware's default token-id hash; never used for CMS signatures here.
    Md5,
    /// SHA-1: the digest of the 2013 upstream example tokens.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256: keystoneclient's default CMS digest since 1.0.0.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

const OID_MD5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

impl HashAlgorithm {
    /// Every supported algorithm, in the order of the `hashlib` names.
    pub const ALL: [HashAlgorithm; 6] = [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha224,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ];

    /// The supported names, comma-separated, for messages that say what is accepted.
    pub fn supported_names() -> String {
        HashAlgorithm::ALL.map(HashAlgorithm::name).join(", ")
    }

    /// The lowercase name, as `hashlib.new` and `openssl -md` accept it.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha224 => "sha224",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// The algorithm's object identifier (parameters are always absent in keystone's CMS).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlgorithm::Md5 => OID_MD5,
            HashAlgorithm::Sha1 => OID_SHA1,
            HashAlgorithm::Sha224 => OID_SHA224,
            HashAlgorithm::Sha256 => OID_SHA256,
            HashAlgorithm::Sha384 => OID_SHA384,
            HashAlgorithm::Sha512 => OID_SHA512,
        }
    }

    /// The algorithm with this object identifier, if supported.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        HashAlgorithm::ALL.into_iter().find(|a| a.oid() == *oid)
    }

    /// Whether the algorithm may digest CMS content (MD5 is refused for signatures).
    pub fn is_cms_digest(self) -> bool {
        self != HashAlgorithm::Md5
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = Error;

    /// Parses a name case-insensitively, with or without a dash (`sha256`, `SHA-256`), as OpenSSL does.
    fn from_str(s: &str) -> Result<Self> {
        let normalised: String = s
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        HashAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == normalised)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unsupported hash type {s} (supported: {})",
                    HashAlgorithm::supported_names()
                ))
            })
    }
}

/// A non-empty list of hash algorithms without repeats, in configured order: keystonemiddleware's
/// `hash_algorithms` (token hashes to compute and to look up in the revocation list).
///
/// Parsed from `"md5, SHA256"` ([`FromStr`]) or from names ([`HashAlgorithms::from_names`]): names
/// as [`HashAlgorithm::from_str`] takes them, spaces around them ignored. An empty list or an empty
/// name is refused (keystonemiddleware's `hashlib.new('')` fails too); a repeated algorithm is kept
/// once, at its first place, since hashing twice can find nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HashAlgorithms(Vec<HashAlgorithm>);

impl HashAlgorithms {
    /// The list of `algorithms` without repeats; an empty list is [`Error::InvalidArgument`].
    pub fn new(algorithms: impl IntoIterator<Item = HashAlgorithm>) -> Result<Self> {
        let mut list: Vec<HashAlgorithm> = Vec::new();
        for algorithm in algorithms {
            if !list.contains(&algorithm) {
                list.push(algorithm);
            }
        }
        if list.is_empty() {
            return Err(Error::InvalidArgument(
                "empty list of hash algorithms".to_owned(),
            ));
        }
        Ok(HashAlgorithms(list))
    }

    /// The list of the named algorithms (each name trimmed, then parsed as [`HashAlgorithm`]).
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self> {
        let parsed = names
            .into_iter()
            .map(|name| {
                let name = name.as_ref().trim();
                if name.is_empty() {
                    return Err(Error::InvalidArgument(
                        "empty name in the list of hash algorithms".to_owned(),
                    ));
                }
                name.parse::<HashAlgorithm>()
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(parsed)
    }

    /// The algorithms, in order.
    pub fn as_slice(&self) -> &[HashAlgorithm] {
        &self.0
    }

    /// The algorithms, in order, as a vector.
    pub fn into_vec(self) -> Vec<HashAlgorithm> {
        self.0
    }
}

impl Default for HashAlgorithms {
    /// keystonemiddleware's default: `md5`.
    fn default() -> Self {
        HashAlgorithms(vec![HashAlgorithm::Md5])
    }
}

impl FromStr for HashAlgorithms {
    type Err = Error;

    /// Parses a comma-separated list such as `"sha256, md5"`.
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Self::new([]);
        }
        Self::from_names(s.split(','))
    }
}

impl fmt::Display for HashAlgorithms {
    /// The comma-separated names, as [`FromStr`] reads them back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, algorithm) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(algorithm.name())?;
        }
        Ok(())
    }
}

impl std::ops::Deref for HashAlgorithms {
    type Target = [HashAlgorithm];

    fn deref(&self) -> &[HashAlgorithm] {
        &self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_insensitive() {
        for a in HashAlgorithm::ALL {
            assert_eq!(a.name().parse::<HashAlgorithm>(), Ok(a));
            assert_eq!(a.name().to_uppercase().parse::<HashAlgorithm>(), Ok(a));
            assert_eq!(HashAlgorithm::from_oid(&a.oid()), Some(a));
        }
        assert_eq!(
            "SHA-256".parse::<HashAlgorithm>(),
            Ok(HashAlgorithm::Sha256)
        );
        assert_eq!(
            "sha3".parse::<HashAlgorithm>(),
            Err(Error::InvalidArgument(
                "unsupported hash type sha3 (supported: md5, sha1, sha224, sha256, sha384, sha512)"
                    .into()
            ))
        );
    }

    #[test]
    fn lists_from_text_and_names() {
        use HashAlgorithm::{Md5, Sha256};
        let list: HashAlgorithms = " sha256 , MD5".parse().unwrap();
        assert_eq!(list.as_slice(), [Sha256, Md5]);
        assert_eq!(list.to_string(), "sha256,md5");
        assert_eq!(list.to_string().parse::<HashAlgorithms>(), Ok(list.clone()));
        assert_eq!(
            "md5,sha256,MD5,sha-256"
                .parse::<HashAlgorithms>()
                .unwrap()
                .into_vec(),
            [Md5, Sha256]
        );
        assert_eq!(
            HashAlgorithms::from_names(["SHA256", " md5 "])
                .unwrap()
                .as_slice(),
            [Sha256, Md5]
        );
        assert_eq!(HashAlgorithms::default().as_slice(), [Md5]);
        for bad in ["", " ", " , ", "md5,", "md5,,sha256", "sha256,crc"] {
            assert!(
                matches!(
                    bad.parse::<HashAlgorithms>(),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            "sha256,crc".parse::<HashAlgorithms>(),
            Err(Error::InvalidArgument(
                "unsupported hash type crc (supported: md5, sha1, sha224, sha256, sha384, sha512)"
                    .into()
            ))
        );
        assert!(HashAlgorithms::from_names(Vec::<String>::new()).is_err());
        assert!(HashAlgorithms::new([]).is_err());
    }
}
