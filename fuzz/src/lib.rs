//! Shared set-up of the fuzz targets: one verifier over the upstream 6.0.0 certificates, and a
//! valid token signed by them, built once per process.

use std::sync::LazyLock;

use kstoken::{Signer, Verifier};

/// Upstream keystoneclient 6.0.0 example PKI (from ../shared/vectors, read at build time).
pub const SIGNING_CERT: &[u8] = include_bytes!(
    "../../../shared/vectors/keystoneclient/6.0.0/examples/pki/certs/signing_cert.pem"
);
/// The CA of the same set.
pub const CA_CERT: &[u8] =
    include_bytes!("../../../shared/vectors/keystoneclient/6.0.0/examples/pki/certs/cacert.pem");
/// The signing key of the same set.
pub const SIGNING_KEY: &[u8] = include_bytes!(
    "../../../shared/vectors/keystoneclient/6.0.0/examples/pki/private/signing_key.pem"
);
/// A v3 token body of the same set.
pub const V3_BODY: &[u8] = include_bytes!(
    "../../../shared/vectors/keystoneclient/6.0.0/examples/pki/cms/auth_v3_token_scoped.json"
);

/// 2030-01-01T00:00:00Z, inside the certificates' validity.
pub const CLOCK: i64 = 1_893_456_000;

/// The verifier every target uses.
pub static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new(SIGNING_CERT, CA_CERT).unwrap_or_else(|e| panic!("fuzz set-up: {e}"))
});

/// A valid CMS DER document over [`V3_BODY`], signed by the upstream key.
pub static SIGNED_DER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    Signer::new(SIGNING_CERT, SIGNING_KEY)
        .and_then(|s| s.sign_der(V3_BODY))
        .unwrap_or_else(|e| panic!("fuzz set-up: {e}"))
});

/// The content [`SIGNED_DER`] carries (the body after text-mode canonicalisation).
pub static SIGNED_CONTENT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    kstoken::cms::parse(&SIGNED_DER)
        .map(|d| d.content)
        .unwrap_or_else(|e| panic!("fuzz set-up: {e}"))
});
