//! Token text: the forms a token is written in.
pub mod hash;
pub mod pem;
pub mod pki;
pub mod pkiz;
