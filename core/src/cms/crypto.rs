//! OpenSSL's digest and signature primitives, and the one mapping from [`HashAlgorithm`] to
//! OpenSSL's digests.
//!
//! Every digest kstoken computes (CMS content, token ids, certificate fingerprints) and every
//! signature it makes or checks goes through here. The other OpenSSL calls are about certificates
//! and keys, not primitives: reading them (`trust.rs`, `signer.rs`), path validation (`trust.rs`)
//! and building certificates (`pki_setup.rs`).
//!
//! OpenSSL rather than the RustCrypto hashes: the MD5 of a 9.3 KB token, the middleware's default
//! token-id hash, took 39 µs through OpenSSL and 45 µs through the `md-5` crate (0.87×; medians
//! of nine rounds of 200 000 hashes, release build, on a 2-core VM at load average ~10, which
//! inflates both; SHA-256 was even), and one mapping serves the digests and the signatures'
//! DigestInfo alike.

use openssl::md::{Md, MdRef};
use openssl::md_ctx::MdCtx;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::pkey_ctx::PkeyCtx;

use crate::algorithm::HashAlgorithm;
use crate::error::{Error, Result};

/// The family of a signer's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// RSA, signing PKCS#1 v1.5.
    Rsa,
    /// EC, signing ECDSA.
    Ec,
}

/// The kind of `key`, or `None` for key types kstoken does not sign or verify with.
pub(crate) fn key_kind<T>(key: &PKeyRef<T>) -> Option<KeyKind> {
    match key.id() {
        Id::RSA => Some(KeyKind::Rsa),
        Id::EC => Some(KeyKind::Ec),
        _ => None,
    }
}

/// OpenSSL's digest for `algorithm`: the only place the algorithms are mapped.
fn md(algorithm: HashAlgorithm) -> &'static MdRef {
    match algorithm {
        HashAlgorithm::Md5 => Md::md5(),
        HashAlgorithm::Sha1 => Md::sha1(),
        HashAlgorithm::Sha224 => Md::sha224(),
        HashAlgorithm::Sha256 => Md::sha256(),
        HashAlgorithm::Sha384 => Md::sha384(),
        HashAlgorithm::Sha512 => Md::sha512(),
    }
}

/// A digest value, kept on the stack: the verifier computes one per token.
#[derive(Clone, Copy)]
pub(crate) struct Digest {
    bytes: [u8; Digest::MAX_LEN],
    len: usize,
}

impl Digest {
    /// The longest digest kstoken computes (SHA-512).
    const MAX_LEN: usize = 64;
}

impl std::ops::Deref for Digest {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// The digest of `data`.
///
/// Fails only when OpenSSL cannot provide the algorithm (a FIPS-only configuration refuses MD5)
/// or memory runs out: [`Error::InvalidArgument`] naming the algorithm.
pub(crate) fn digest(algorithm: HashAlgorithm, data: &[u8]) -> Result<Digest> {
    let attempt = || -> std::result::Result<Digest, openssl::error::ErrorStack> {
        let mut ctx = MdCtx::new()?;
        ctx.digest_init(md(algorithm))?;
        ctx.digest_update(data)?;
        let mut bytes = [0; Digest::MAX_LEN];
        let len = ctx.digest_final(&mut bytes)?;
        Ok(Digest { bytes, len })
    };
    attempt().map_err(|e| Error::InvalidArgument(format!("cannot compute {algorithm}: {e}")))
}

/// Whether `signature` is a valid signature of the precomputed `digest` by `key`.
///
/// This is what `CMS_SignerInfo_verify_content` does without signed attributes: PKCS#1 v1.5
/// over DigestInfo for RSA, ECDSA over the digest for EC. Any OpenSSL error is a bad signature.
pub(crate) fn verify_digest<T: HasPublic>(
    key: &PKeyRef<T>,
    algorithm: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> bool {
    let attempt = || -> std::result::Result<bool, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(key)?;
        ctx.verify_init()?;
        ctx.set_signature_md(md(algorithm))?;
        ctx.verify(digest, signature)
    };
    // Failed verifications leave entries on OpenSSL's thread-local error queue: attempt() drains
    // them through ErrorStack::get, so nothing leaks into a later, unrelated call.
    attempt().unwrap_or(false)
}

/// The signature of the precomputed `digest` by `key` (deterministic for RSA PKCS#1 v1.5).
pub(crate) fn sign_digest(
    key: &PKeyRef<Private>,
    algorithm: HashAlgorithm,
    digest: &[u8],
) -> Result<Vec<u8>> {
    let attempt = || -> std::result::Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(key)?;
        ctx.sign_init()?;
        ctx.set_signature_md(md(algorithm))?;
        let mut signature = Vec::new();
        ctx.sign_to_vec(digest, &mut signature)?;
        Ok(signature)
    };
    attempt().map_err(|e| Error::Signing(format!("signature failed: {e}")))
}

/// HMAC-SHA-384 of `data` under `key` (keystonemiddleware's memcache key derivation and MAC).
#[cfg(feature = "auth_token")]
pub(crate) fn hmac_sha384(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let attempt = || -> std::result::Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = openssl::pkey::PKey::hmac(key)?;
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha384(), &key)?;
        signer.update(data)?;
        signer.sign_to_vec()
    };
    attempt().map_err(|e| Error::Signing(format!("HMAC failed: {e}")))
}

/// Whether two byte strings are equal, in time independent of where they differ.
#[cfg(feature = "auth_token")]
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// AES-128-CBC with PKCS#7 padding under `key` (16 bytes): a fresh random IV followed by the
/// ciphertext.
#[cfg(feature = "auth_token")]
pub(crate) fn aes128_cbc_encrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let attempt = || -> std::result::Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut iv = [0u8; 16];
        openssl::rand::rand_bytes(&mut iv)?;
        let mut out = iv.to_vec();
        out.extend(openssl::symm::encrypt(
            openssl::symm::Cipher::aes_128_cbc(),
            key,
            Some(&iv),
            data,
        )?);
        Ok(out)
    };
    attempt().map_err(|e| Error::Signing(format!("encryption failed: {e}")))
}

/// The inverse of [`aes128_cbc_encrypt`]; `None` for anything that does not decrypt and unpad.
#[cfg(feature = "auth_token")]
pub(crate) fn aes128_cbc_decrypt(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let (iv, ciphertext) = data.split_at_checked(16)?;
    openssl::symm::decrypt(
        openssl::symm::Cipher::aes_128_cbc(),
        key,
        Some(iv),
        ciphertext,
    )
    .ok()
}
