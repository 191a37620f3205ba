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
    if !decodable(tag, value) {
        return None;
    }
    let text = match tag {
        Tag::Utf8String => std::str::from_utf8(value).ok()?.to_owned(),
        // One byte per character, read as Latin-1 (OpenSSL's tag2nbyte table). UniversalString
        // cannot reach here: the der crate refuses to decode it. VisibleString is in OpenSSL's
        // canonical set but never reaches it: its name decoder refuses the type.
        Tag::PrintableString | Tag::TeletexString | Tag::Ia5String => {
            value.iter().map(|b| char::from(*b)).collect()
        }
        Tag::BmpString => bmp_units(value)
            .map(|unit| char::from_u32(u32::from(unit)))
            .collect::<Option<String>>()?,
        // OpenSSL's decoder clears a BIT STRING's unused bits, so they do not count.
        Tag::BitString => {
            let mut raw = value.to_vec();
            if let (Some(&unused), true) = (value.first(), value.len() > 1) {
                if let Some(last) = raw.last_mut() {
                    *last &= 0xff << unused;
                }
            }
            return Some(CanonValue::Raw(format!("{tag:?}"), raw));
        }
        _ => return Some(CanonValue::Raw(format!("{tag:?}"), value.to_vec())),
    };
    Some(CanonValue::Text(canonical_text(text.as_bytes())))
}

/// The UCS-2 code units of a BMPString (an odd last byte is dropped: [`decodable`] refuses it).
fn bmp_units(value: &[u8]) -> impl Iterator<Item = u16> + '_ {
    value.chunks_exact(2).map(|c| {
        u16::from_be_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    })
}

/// Whether OpenSSL's name decoder takes this attribute value: a type it takes
/// ([`decodable_tag`]); for UTF8String valid UTF-8; for BMPString, which OpenSSL reads as UCS-2,
/// whole characters none of which is a surrogate (even one of a valid UTF-16 pair); for a
/// BIT STRING an unused-bits octet of at most 7. Checked without allocating: it runs on every
/// token's signer name.
fn decodable(tag: Tag, value: &[u8]) -> bool {
    match tag {
        Tag::Utf8String => std::str::from_utf8(value).is_ok(),
        Tag::BmpString => {
            value.len().is_multiple_of(2)
                && bmp_units(value).all(|unit| !(0xd800..=0xdfff).contains(&unit))
        }
        Tag::BitString => value.first().is_some_and(|unused| *unused <= 7),
        _ => decodable_tag(tag),
    }
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

/// Checks that OpenSSL can decode `name` ([`decodable`] for every value). Otherwise OpenSSL
/// refuses to read the document (or certificate) holding the name, so kstoken must not match it.
pub(crate) fn check_decodable(name: &Name) -> Result<(), String> {
    match name
        .iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .find(|atv| !decodable(atv.value.tag(), atv.value.value()))
    {
        Some(atv) => Err(format!(
            "OpenSSL cannot decode the {} value of attribute {} in a name",
            atv.value.tag(),
            atv.oid
        )),
        None => Ok(()),
    }
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
