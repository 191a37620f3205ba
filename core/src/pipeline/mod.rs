//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function, and the
//! verdict vocabulary every caller shares.

mod policy;
mod rejection;
mod steps;
mod validate;
mod verify_token;

pub use policy::Policy;
pub use rejection::{Rejection, Step, ValidateError};
pub use steps::{
    check_bind, check_expiry, check_revocation, check_revoked_audit_ids, check_revoked_hashes,
    token_hashes, verify_and_decode,
};
pub use validate::{validate, validate_instant, Validated};
pub use verify_token::{verify_token, Expiry};
