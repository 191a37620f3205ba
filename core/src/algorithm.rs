//! Hash algorithms: their names (as `hashlib.new` and `openssl -md` spell them), OIDs and OpenSSL digests.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;
use openssl::hash::MessageDigest;

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

    /// The OpenSSL digest used for CMS signing and verification.
    pub(crate) fn message_digest(self) -> MessageDigest {
        match self {
            HashAlgorithm::Md5 => MessageDigest::md5(),
            HashAlgorithm::Sha1 => MessageDigest::sha1(),
            HashAlgorithm::Sha224 => MessageDigest::sha224(),
            HashAlgorithm::Sha256 => MessageDigest::sha256(),
            HashAlgorithm::Sha384 => MessageDigest::sha384(),
            HashAlgorithm::Sha512 => MessageDigest::sha512(),
        }
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
            .ok_or_else(|| Error::InvalidArgument(format!("unsupported hash type {s}")))
    }
}

#[cfg(test)]
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
        assert!(matches!(
            "sha3".parse::<HashAlgorithm>(),
            Err(Error::InvalidArgument(_))
        ));
    }
}
