//! JSON: the bounded reader every untrusted document goes through, and strings written as Python's
//! `json.dumps` writes them.

mod bounded;
mod python_str;

pub use bounded::{check_json_limits, parse_json};
#[cfg(feature = "auth_token")]
pub(crate) use python_str::push_unit;
pub(crate) use python_str::write_str;
