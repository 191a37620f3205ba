//! Readable names of the object identifiers found in CMS documents, for display (`kstoken inspect`).
//!
//! Digest algorithms are named as kstoken names them elsewhere ([`HashAlgorithm::name`], as
//! `hashlib` and `openssl -md` spell them); everything else by the RFC names of `const-oid`'s
//! database (`rsaEncryption`, `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `id-data`).

use const_oid::db::DB;
use const_oid::ObjectIdentifier;

use crate::algorithm::HashAlgorithm;

/// The readable name of `oid`, if known.
pub fn name(oid: &ObjectIdentifier) -> Option<&'static str> {
    HashAlgorithm::from_oid(oid)
        .map(HashAlgorithm::name)
        .or_else(|| DB.by_oid(oid))
}

/// `name (dotted.oid)` for a known OID, the dotted form alone otherwise.
pub fn describe(oid: &ObjectIdentifier) -> String {
    match name(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_keystone_oids() {
        for (dotted, expected) in [
            ("1.2.840.113549.1.7.1", "id-data"),
            ("1.2.840.113549.1.1.1", "rsaEncryption"),
            ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
            ("1.2.840.113549.1.1.10", "id-RSASSA-PSS"),
            ("1.2.840.10045.2.1", "id-ecPublicKey"),
            ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
            ("1.2.840.113549.2.5", "md5"),
            ("2.16.840.1.101.3.4.2.1", "sha256"),
        ] {
            let oid = ObjectIdentifier::new_unwrap(dotted);
            assert_eq!(name(&oid), Some(expected), "{dotted}");
            assert_eq!(describe(&oid), format!("{expected} ({dotted})"));
        }
        let unknown = ObjectIdentifier::new_unwrap("1.2.3.4.5.6.7");
        assert_eq!(name(&unknown), None);
        assert_eq!(describe(&unknown), "1.2.3.4.5.6.7");
    }
}
