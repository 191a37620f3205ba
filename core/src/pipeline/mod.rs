//! keystonemiddleware's offline validation of a PKI/PKIZ token, as one pure function, and the
//! verdict vocabulary every caller shares.

mod policy;
mod rejection;
mod validate;

pub use policy::Policy;
pub use rejection::{Rejection, Step, ValidateError};
pub use validate::{validate, validate_instant, verify_and_decode, Validated};
