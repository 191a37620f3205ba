//! Distinguished-name equality as OpenSSL's `X509_NAME_cmp` decides it.
//!
//! OpenSSL compares names by a canonical form: text values of the common string types are
//! converted to UTF-8, trimmed, inner whitespace runs collapsed to one space, and ASCII letters
//! lowercased. Matching a token's signer by issuer name needs the same rule: keystoneclient
//! 6.0.0's regenerated certificates spell the same issuer with UTF8String where the 2013 tokens
//! used PrintableString, and OpenSSL still finds the signer.

use const_oid::ObjectIdentifier;
use der::{Tag, Tagged};
use x509_cert::name::Name;

/// One attribute of a canonical name: its type, and either canonical text or the raw value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum CanonValue {
    /// Canonicalised UTF-8 text.
    Text(Vec<u8>),
    /// A value of a type OpenSSL does not canonicalise, compared by tag and content.
    Raw(String, Vec<u8>),
}

/// A name in OpenSSL's canonical form; equal canonical forms mean `X509_NAME_cmp` returns 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanonicalName(Vec<Vec<(ObjectIdentifier, CanonValue)>>);

impl CanonicalName {
    /// The canonical form of `name`, or `None` if OpenSSL cannot decode it (see
    /// [`check_decodable`]; OpenSSL then cannot read the document or certificate holding it).
    pub(crate) fn of(name: &Name) -> Option<Self> {
        name.iter_rdn()
            .map(|rdn| {
                let mut entries = rdn
                    .iter()
                    .map(|atv| Some((atv.oid, canon_value(atv.value.tag(), atv.value.value())?)))
                    .collect::<Option<Vec<_>>>()?;
                // OpenSSL re-encodes each RDN as a DER SET, which orders its members.
                entries.sort();
                Some(entries)
            })
            .collect::<Option<Vec<_>>>()
            .map(CanonicalName)
    }
}

fn canon_value(tag: Tag, value: &[u8]) -> Option<CanonValue> {
    let text = match tag {
        Tag::Utf8String => std::str::from_utf8(value).ok()?.to_owned(),
        // One byte per character, read as Latin-1 (OpenSSL's tag2nbyte table). UniversalString
        // cannot reach here: the der crate refuses to decode it. VisibleString is in OpenSSL's
        // canonical set but never reaches it: its name decoder refuses the type.
        Tag::PrintableString | Tag::TeletexString | Tag::Ia5String => {
            value.iter().map(|b| char::from(*b)).collect()
        }
        Tag::BmpString => bmp_text(value)?,
        // OpenSSL's decoder clears a BIT STRING's unused bits, so they do not count.
        Tag::BitString => {
            let (&unused, bits) = value.split_first()?;
            if unused > 7 {
                return None;
            }
            let mut raw = value.to_vec();
            match raw.last_mut() {
                Some(last) if !bits.is_empty() => *last &= 0xff << unused,
                _ => {}
            }
            return Some(CanonValue::Raw(format!("{tag:?}"), raw));
        }
        _ if decodable_tag(tag) => {
            return Some(CanonValue::Raw(format!("{tag:?}"), value.to_vec()))
        }
        _ => return None,
    };
    Some(CanonValue::Text(canonical_text(text.as_bytes())))
}

/// A BMPString as OpenSSL reads it: UCS-2, two bytes per character, where a surrogate code unit
/// (even one of a valid UTF-16 pair) is an illegal character.
fn bmp_text(value: &[u8]) -> Option<String> {
    if !value.len().is_multiple_of(2) {
        return None;
    }
    value
        .chunks_exact(2)
        .map(|c| char::from_u32(u32::from(u16::from_be_bytes([*c.first()?, *c.get(1)?]))))
        .collect()
}

/// Whether OpenSSL's `X509_NAME` decoder takes an attribute value with this tag: the universal
/// types of its `DirectoryString`-like `ASN1_PRINTABLE` mask (with `B_ASN1_UNKNOWN`), as the
/// der crate can represent them. VisibleString, GeneralString, GraphicString, VideotexString,
/// the time types, INTEGER, BOOLEAN, NULL, OCTET STRING, OBJECT IDENTIFIER, ENUMERATED, SET and
/// every non-universal tag make OpenSSL refuse the name, and with it the whole document.
fn decodable_tag(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::BitString
            | Tag::Real
            | Tag::Utf8String
            | Tag::RelativeOid
            | Tag::Sequence
            | Tag::NumericString
            | Tag::PrintableString
            | Tag::TeletexString
            | Tag::Ia5String
            | Tag::BmpString
    )
}

/// Checks that OpenSSL can decode `name`: each value's type is one its decoder takes
/// ([`decodable_tag`]), a BIT STRING has its unused-bits octet (at most 7), and text values convert
/// to UTF-8 as `asn1_string_canon` converts them. Otherwise OpenSSL refuses to read the document
/// (or certificate) holding the name, so kstoken must not match it either.
pub(crate) fn check_decodable(name: &Name) -> Result<(), String> {
    for atv in name.iter_rdn().flat_map(|rdn| rdn.iter()) {
        let (tag, value) = (atv.value.tag(), atv.value.value());
        if canon_value(tag, value).is_none() {
            return Err(format!(
                "OpenSSL cannot decode the {tag} value of attribute {} in a name",
                atv.oid
            ));
        }
    }
    Ok(())
}

/// OpenSSL's `asn1_string_canon` on UTF-8 bytes: trim, collapse whitespace, lowercase ASCII.
fn canonical_text(utf8: &[u8]) -> Vec<u8> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = utf8.iter().position(|b| !is_space(b)).unwrap_or(utf8.len());
    let end = utf8
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end.saturating_sub(start));
    let mut in_space = false;
    for b in utf8.get(start..end).unwrap_or_default() {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use der::asn1::{PrintableStringRef, Utf8StringRef};
    use der::{Any, Encode};
    use std::str::FromStr;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    #[test]
    fn text_rules() {
        assert_eq!(canonical_text(b"  Hello \t  World  "), b"hello world");
        assert_eq!(canonical_text(b""), b"");
        assert_eq!(
            canonical_text("  \u{c9}T\u{c9} ".as_bytes()),
            "\u{c9}t\u{c9}".as_bytes()
        );
    }

    #[test]
    fn string_types_and_case_compare_equal() {
        let a = name("CN=Self Signed,O=OpenStack,C=US");
        let b = name("CN=self  signed,O=OPENSTACK,C=us");
        assert_eq!(CanonicalName::of(&a), CanonicalName::of(&b));
        assert_ne!(
            CanonicalName::of(&a),
            CanonicalName::of(&name("CN=Other,O=OpenStack,C=US"))
        );
        // The same value as PrintableString and UTF8String.
        let p = Any::encode_from(&PrintableStringRef::new("Keystone").unwrap()).unwrap();
        let u = Any::encode_from(&Utf8StringRef::new("keystone").unwrap()).unwrap();
        assert_eq!(
            canon_value(p.tag(), p.value()),
            canon_value(u.tag(), u.value())
        );
        assert!(p.to_der().unwrap() != u.to_der().unwrap());
    }

    #[test]
    fn undecodable_text_is_no_match() {
        assert_eq!(canon_value(Tag::Utf8String, &[0xff]), None);
        assert_eq!(canon_value(Tag::BmpString, &[0x00]), None);
        assert!(matches!(
            canon_value(Tag::NumericString, b"1"),
            Some(CanonValue::Raw(..))
        ));
        // Types and values OpenSSL's name decoder refuses.
        assert_eq!(canon_value(Tag::OctetString, &[1]), None);
        assert_eq!(canon_value(Tag::VisibleString, b"Root"), None);
        assert_eq!(canon_value(Tag::BmpString, &[0xd8, 0x3d, 0xde, 0x00]), None);
        assert_eq!(canon_value(Tag::BitString, &[]), None);
        assert_eq!(canon_value(Tag::BitString, &[8, 0]), None);
        assert_eq!(
            canon_value(Tag::BitString, &[4, 0xff]),
            canon_value(Tag::BitString, &[4, 0xf0])
        );
        assert_eq!(
            canon_value(Tag::BmpString, &[0, b'R', 0, b'o']),
            canon_value(Tag::Utf8String, b"ro")
        );
    }
}
