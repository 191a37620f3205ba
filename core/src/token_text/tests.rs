//! Tests of the token text forms: detection, the whitespace rule, the PKI form, decoding.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::pki::reference_decode;
use super::*;
use crate::error::{Error, LimitKind};
use crate::limits::Limits;
use crate::token_text::pem::der_to_pem;

/// A SEQUENCE header for `content` bytes followed by that many filler bytes.
fn sequence_of(content: usize) -> Vec<u8> {
    let mut v = vec![0x30];
    v.extend(encode_len(content));
    v.extend(vec![0xAB; content]);
    v
}

fn encode_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else if n < 0x10000 {
        vec![0x82, (n >> 8) as u8, n as u8]
    } else {
        vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]
    }
}

#[test]
fn cms_token_round_trip_matches_reference_shape() {
    let der: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let pem = der_to_pem(&der);
    let token = cms_to_token(&pem);
    assert!(!token.contains('/') && !token.contains('\n'));
    assert_eq!(token, der_to_pki_token(&der));
    assert_eq!(token_to_cms(&token), pem);
    assert_eq!(
        pki_token_to_der(token.as_bytes(), &Limits::default()).unwrap(),
        der
    );
    // A token that kept its slashes still decodes, as it does through the reference.
    let slashed = token.replace('-', "/");
    assert_eq!(
        pki_token_to_der(slashed.as_bytes(), &Limits::default()).unwrap(),
        der
    );
}

#[test]
fn token_to_cms_of_empty() {
    assert_eq!(token_to_cms(""), "-----BEGIN CMS-----\n-----END CMS-----\n");
}

#[test]
fn upstream_detection() {
    assert_eq!(detect("MIIxyz"), TokenForm::Pki);
    assert_eq!(detect("PKIZ_abc"), TokenForm::Pkiz);
    assert_eq!(detect("mIIxyz"), TokenForm::Other);
    assert_eq!(detect("pkiz_abc"), TokenForm::Other);
    assert_eq!(detect("0123456789abcdef0123456789abcdef"), TokenForm::Other);
    assert!(is_asn1_token("MII") && !is_asn1_token("MI"));
    assert!(is_pkiz("PKIZ_") && !is_pkiz("PKIZ"));
}

#[test]
fn lenient_detection_catches_sizes_the_mii_rule_misses() {
    // MII = SEQUENCE with a two-byte length below 0x4000: 256..16384 content bytes.
    for content in [50, 200, 255, 256, 16383, 16384, 70000] {
        let token = der_to_pki_token(&sequence_of(content));
        let upstream = detect(&token);
        let lenient = detect_with(&token, DetectionRule::Lenient);
        assert_eq!(lenient, TokenForm::Pki, "size {content}");
        assert_eq!(
            upstream == TokenForm::Pki,
            (256..16384).contains(&content),
            "size {content}"
        );
        // A truncated token no longer spans its header.
        let cut = &token[..token.len() - 4];
        if !cut.starts_with("MII") {
            assert_eq!(detect_with(cut, DetectionRule::Lenient), TokenForm::Other);
        }
    }
    for other in ["gAAAAABfernet", "M", "Mzzz", "01234567-89ab-cdef"] {
        assert_eq!(detect_with(other, DetectionRule::Lenient), TokenForm::Other);
    }
}

#[test]
fn whitespace_rule() {
    assert_eq!(trim_token(b" \t\r\nMIIabc\r\n \t"), b"MIIabc");
    assert_eq!(trim_token(b"   "), b"");
    assert_eq!(trim_token(b""), b"");
    assert_eq!(trim_token(b"M I I"), b"M I I");
    // Only space, tab, CR and LF: form feed, vertical tab and NBSP are part of the token.
    assert_eq!(trim_token(b"\x0cMII\x0b"), b"\x0cMII\x0b");
    assert_eq!(trim_token_str("\u{a0}MII \n"), "\u{a0}MII");
    assert_eq!(trim_token_str(" \tPKIZ_x\r\n"), "PKIZ_x");
    for padded in [" MIIabc", "MIIabc\n", "\t MIIabc \r\n"] {
        assert_eq!(detect(padded), TokenForm::Pki, "{padded:?}");
    }
    assert_eq!(detect(" PKIZ_x\n"), TokenForm::Pkiz);
    assert_eq!(detect("\x0cMIIabc"), TokenForm::Other);
    assert_eq!(detect(b"MII\xff\xfe"), TokenForm::Other);
    assert_eq!(detect(b"PKIZ_\xff"), TokenForm::Other);
    assert_eq!(detect("MII\u{e9}".as_bytes()), TokenForm::Pki);
    assert_eq!(detect(b"\xffMII"), TokenForm::Other);
    let token = der_to_pki_token(&sequence_of(100));
    assert_eq!(
        detect_with(format!("\n{token}\r\n"), DetectionRule::Lenient),
        TokenForm::Pki
    );
}

#[test]
fn decode_every_form_and_whitespace() {
    let l = Limits::default();
    let der = sequence_of(300);
    let pki = der_to_pki_token(&der);
    let pem = der_to_pem(&der);
    let pkiz = crate::token_text::pkiz::compress(pem.as_bytes(), 6).unwrap();
    for (text, encoding) in [
        (pki.clone(), Encoding::Pki),
        (pkiz.clone(), Encoding::Pkiz),
        (pem.clone(), Encoding::Pem),
    ] {
        for padded in [
            text.clone(),
            format!(" \t{text}\r\n"),
            format!("\n\n{text} "),
        ] {
            assert_eq!(
                decode(padded.as_bytes(), &l).unwrap(),
                Decoded {
                    encoding,
                    der: der.clone()
                },
                "{padded:?}"
            );
        }
    }
    assert_eq!(Encoding::Pem.as_str(), "pem");
    assert_eq!(encoding(" PKIZ_"), Encoding::Pkiz);
    assert_eq!(encoding("\n-----BEGIN PKCS7-----"), Encoding::Pem);
    assert_eq!(encoding("anything"), Encoding::Pki);
    // Inner whitespace is not trimmed: still refused.
    assert!(decode(format!("{}\n{}", &pki[..8], &pki[8..]).as_bytes(), &l).is_err());
    // The length limit applies to the text as received, before anything else.
    let tight = Limits {
        max_token_len: pki.len(),
        ..l
    };
    assert!(decode(pki.as_bytes(), &tight).is_ok());
    assert_eq!(
        decode(format!("{pki}\n").as_bytes(), &tight),
        Err(Error::LimitExceeded {
            what: LimitKind::TokenLength,
            limit: pki.len()
        })
    );
    assert_eq!(
        decode(&vec![b' '; pki.len() + 1], &tight),
        Err(Error::LimitExceeded {
            what: LimitKind::TokenLength,
            limit: pki.len()
        })
    );
    for bad in [
        &b""[..],
        b"  \n",
        b"hello",
        b"PKIZ_!!",
        b"-----BEGIN CMS-----\n",
    ] {
        assert!(
            matches!(decode(bad, &l), Err(Error::Malformed(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn wire_token_of_pem_and_token() {
    let der = sequence_of(300);
    let pki = der_to_pki_token(&der);
    assert_eq!(wire_token(&der_to_pem(&der)), pki);
    assert_eq!(wire_token(&format!(" {pki}\n")), pki);
    assert_eq!(wire_token(" uuid-token\n"), "uuid-token");
}

#[test]
fn stable_names() {
    let forms = [TokenForm::Other, TokenForm::Pki, TokenForm::Pkiz];
    for (i, f) in forms.into_iter().enumerate() {
        assert_eq!(f.code() as usize, i);
        assert_eq!(f.to_string(), f.as_str());
    }
    assert_eq!(forms.map(TokenForm::as_str), ["other", "pki", "pkiz"]);
    for rule in [DetectionRule::Upstream, DetectionRule::Lenient] {
        assert_eq!(rule.as_str().parse::<DetectionRule>(), Ok(rule));
        assert_eq!(DetectionRule::from_lenient(rule.is_lenient()), rule);
    }
    assert!(matches!(
        "Lenient".parse::<DetectionRule>(),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn malformed_and_oversized() {
    let l = Limits::default();
    for bad in [&b"MII*"[..], b"MIIB\nAAAA", b"MIIBA"] {
        assert!(matches!(
            pki_token_to_der(bad, &l),
            Err(Error::Malformed(_))
        ));
    }
    let small = Limits {
        max_token_len: 8,
        ..l
    };
    assert!(matches!(
        pki_token_to_der(b"MIIBAAAAAAAA", &small),
        Err(Error::LimitExceeded { .. })
    ));
}

/// A small deterministic generator (xorshift), so the comparison is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The fast decoder accepts exactly what the `base64` crate's strict decoder accepts and
/// decodes it to the same bytes: valid texts of every length around the SIMD block sizes,
/// each with one byte replaced, inserted or removed at every kind of position.
#[test]
fn fast_decoder_agrees_with_the_reference() {
    let limits = Limits::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let symbols = b"AQgw+-/=_ \n.\x00\xff";
    let mut checked = 0;
    for len in (0..200).chain([765, 766, 767, 768, 1000, 4096, 9300]) {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = der_to_pki_token(&bytes).into_bytes();
        let mut variants = vec![text.clone()];
        for _ in 0..12 {
            let mut t = text.clone();
            let at = match rng.below(3) {
                0 => rng.below(t.len() + 1),
                1 => t.len().saturating_sub(1 + rng.below(4)),
                _ => rng.below(64.min(t.len() + 1)),
            };
            let symbol = symbols[rng.below(symbols.len())];
            match rng.below(3) {
                0 if at < t.len() => t[at] = symbol,
                1 if at < t.len() => {
                    t.remove(at);
                }
                _ => t.insert(at.min(t.len()), symbol),
            }
            variants.push(t);
        }
        for t in variants {
            let fast = pki_token_to_der(&t, &limits).ok();
            assert_eq!(
                fast,
                reference_decode(&t).ok(),
                "{:?}",
                String::from_utf8_lossy(&t)
            );
            checked += 1;
        }
    }
    assert!(checked > 2500);
    // Non-canonical final bits and padding are refused by both.
    for bad in [
        &b"QR=="[..],
        b"QUF=",
        b"QQ=",
        b"QQ",
        b"Q===",
        b"QU=B",
        b"QQ==QUFB",
    ] {
        assert!(pki_token_to_der(bad, &limits).is_err(), "{bad:?}");
    }
}
