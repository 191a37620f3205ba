//! The strict floor of verifying a PKI token: the work no verifier can skip, and nothing else.
//!
//! Verifying a PKI token must at least decode its base64 text, hash the signed content and check
//! one signature. The strict floor does exactly that on the token text, with the content and
//! signature found at offsets computed once beforehand (locating them is parsing, which is the
//! verifier's own work): one base64 decode of the whole token into a fresh buffer, SHA-256 of the
//! content slice of that buffer, one RSA PKCS#1 v1.5 verify of the signature slice (OpenSSL).
//! No CMS parse, no chain, no profile, no name matching.
//!
//! The base64 decoder is the fastest one measured: [`Base64Decoder`] lists the candidates, each
//! of which decodes the PKI alphabet (`-` for `/`) to the same bytes.

use std::ops::Range;
use std::sync::OnceLock;

use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD};
use base64::Engine;

use openssl::hash::{Hasher, MessageDigest};
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;

/// A base64 decoder for PKI token text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Decoder {
    /// The `base64` crate with the PKI alphabet as a custom alphabet (no translation).
    Base64Crate,
    /// `base64-simd` (AVX2/SSSE3/NEON, chosen at run time) after translating `-` to `/`, in place.
    Base64Simd,
    /// OpenSSL's `EVP_DecodeBlock` after translating `-` to `/`.
    OpenSsl,
}

impl Base64Decoder {
    /// Every candidate, in the order of the benchmark rows.
    pub const ALL: [Base64Decoder; 3] = [
        Base64Decoder::Base64Crate,
        Base64Decoder::Base64Simd,
        Base64Decoder::OpenSsl,
    ];

    /// The candidate the strict floor uses: the fastest on the project's x86_64 (AVX2) machines,
    /// 4–5 times faster than the others on a 9 KB token in criterion and under callgrind alike.
    /// `benches/RESULTS.md` shows each candidate's own row, so a machine where another one wins
    /// shows it.
    pub const FASTEST: Base64Decoder = Base64Decoder::Base64Simd;

    /// The benchmark row name.
    pub fn name(self) -> &'static str {
        match self {
            Base64Decoder::Base64Crate => "floor_base64_crate",
            Base64Decoder::Base64Simd => "floor_base64_simd",
            Base64Decoder::OpenSsl => "floor_base64_openssl",
        }
    }

    /// The DER encoded by PKI token text, or `None` if it is not valid padded base64.
    pub fn decode(self, token: &[u8]) -> Option<Vec<u8>> {
        match self {
            Base64Decoder::Base64Crate => pki_engine().decode(token).ok(),
            Base64Decoder::Base64Simd => {
                let mut buf = standard_alphabet(token);
                let len = base64_simd::STANDARD.decode_inplace(&mut buf).ok()?.len();
                buf.truncate(len);
                Some(buf)
            }
            Base64Decoder::OpenSsl => {
                let text = String::from_utf8(standard_alphabet(token)).ok()?;
                openssl::base64::decode_block(&text).ok()
            }
        }
    }
}

/// The `base64` crate's engine for the PKI alphabet: the standard one with `-` for `/`, padded,
/// canonical.
fn pki_engine() -> &'static GeneralPurpose {
    static ENGINE: OnceLock<GeneralPurpose> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let symbols = base64::alphabet::STANDARD.as_str().replace('/', "-");
        let alphabet = Alphabet::new(&symbols)
            .unwrap_or_else(|e| panic!("the PKI alphabet is a base64 alphabet: {e}"));
        GeneralPurpose::new(&alphabet, PAD)
    })
}

/// The token text in the standard alphabet (`-` back to `/`): one pass, one copy.
fn standard_alphabet(token: &[u8]) -> Vec<u8> {
    token
        .iter()
        .map(|&b| if b == b'-' { b'/' } else { b })
        .collect()
}

/// The strict floor for one PKI token: everything needed to run it repeatedly.
pub struct StrictFloor {
    token: Vec<u8>,
    content: Range<usize>,
    signature: Range<usize>,
    key: PKey<Public>,
}

impl StrictFloor {
    /// The floor of `token` (PKI token text, RSA-SHA256 signer) under the signer's public `key`.
    pub fn new(token: &str, key: PKey<Public>) -> Self {
        let der = Base64Decoder::Base64Crate
            .decode(token.as_bytes())
            .unwrap_or_else(|| panic!("not PKI token text"));
        let document = kstoken::cms::parse(&der).unwrap_or_else(|e| panic!("not a token: {e}"));
        let signature = &document
            .signers
            .first()
            .unwrap_or_else(|| panic!("no signer"))
            .signature;
        let floor = StrictFloor {
            token: token.as_bytes().to_vec(),
            content: find(&der, &document.content),
            signature: find(&der, signature),
            key,
        };
        assert!(floor.run(Base64Decoder::FASTEST), "the floor must verify");
        floor
    }

    /// The strict floor with `decoder`: decode, hash the content, verify the signature. Returns
    /// whether the signature verified.
    pub fn run(&self, decoder: Base64Decoder) -> bool {
        let Some(der) = decoder.decode(&self.token) else {
            return false;
        };
        let (Some(content), Some(signature)) = (
            der.get(self.content.clone()),
            der.get(self.signature.clone()),
        ) else {
            return false;
        };
        let Ok(digest) = sha256(content) else {
            return false;
        };
        let verify = || -> Result<bool, openssl::error::ErrorStack> {
            let mut ctx = PkeyCtx::new(&self.key)?;
            ctx.verify_init()?;
            ctx.set_signature_md(Md::sha256())?;
            ctx.verify(&digest, signature)
        };
        verify().unwrap_or(false)
    }

    /// The token text.
    pub fn token(&self) -> &[u8] {
        &self.token
    }
}

fn sha256(data: &[u8]) -> Result<openssl::hash::DigestBytes, openssl::error::ErrorStack> {
    let mut hasher = Hasher::new(MessageDigest::sha256())?;
    hasher.update(data)?;
    hasher.finish()
}

/// Where `needle` (at least 64 bytes, so unique in practice) lies in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Range<usize> {
    let start = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("slice not found in the document"));
    start..start + needle.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decoder_decodes_the_pki_alphabet_alike() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(3001).collect();
        let text = kstoken::token_text::der_to_pki_token(&bytes);
        assert!(text.contains('-'));
        for decoder in Base64Decoder::ALL {
            assert_eq!(
                decoder.decode(text.as_bytes()).as_deref(),
                Some(bytes.as_slice()),
                "{decoder:?}"
            );
            assert_eq!(decoder.decode(b"MII*"), None, "{decoder:?}");
        }
    }
}
