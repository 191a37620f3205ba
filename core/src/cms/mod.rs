//! CMS SignedData and the cryptography under it.
pub mod canonical;
pub(crate) mod crypto;
pub(crate) mod name;
pub mod oid;
pub(crate) mod profile_view;
pub mod signed_data;
pub(crate) mod trust;

pub use signed_data::{
    parse, CmsProfile, ProfileDeviation, SignedDocument, SignerId, SignerSummary,
};
