//! The exchange with a shared cache (memcached) that the host runs.
//!
//! The authenticator does no I/O, so it hands over what it needs and takes back what was found, as
//! it does with certificates and revocation lists:
//!
//! 1. [`crate::auth_token::Authenticator::authenticate`] without shared values: when a token
//!    misses the process cache and a shared cache is configured, it returns
//!    [`Authentication::NeedShared`] with the keys to fetch, computed by hashing alone (nothing is
//!    verified or decoded yet).
//! 2. The host fetches those keys (one round trip, memcached's `get_multi`) and calls again with
//!    what it found ([`SharedValues`]); a key it did not find, or could not fetch, is simply left out.
//!    That call never asks again.
//! 3. The [`Authentication::Decided`] outcome lists the entries to store
//!    ([`crate::auth_token::Outcome::shared_store`]), keyed and encoded in keystonemiddleware's
//!    format (plain, `MAC` or `ENCRYPT`: [`crate::auth_token::shared_cache`]), so both middlewares
//!    share one memcached.
//!
//! Anything in a fetched value that does not check out (a MAC mismatch, undecryptable data, a body
//! that does not decode) is a miss: the token is validated as if nothing had been found.

use crate::auth_token::outcome::Outcome;

/// What one call of [`crate::auth_token::Authenticator::authenticate`] gives.
// Most calls decide, and the outcome is moved once to the caller: boxing it would cost every
// request an allocation to save stack space in the rarer `NeedShared`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Authentication {
    /// The request is decided.
    Decided(Outcome),
    /// Not decided yet: fetch these keys from the shared cache and call again with the values.
    NeedShared {
        /// The keys, each once, in the order the tokens' hashes were configured.
        keys: Vec<String>,
    },
}

impl Authentication {
    /// The outcome, if the request is decided.
    pub fn decided(self) -> Option<Outcome> {
        match self {
            Authentication::Decided(outcome) => Some(outcome),
            Authentication::NeedShared { .. } => None,
        }
    }
}

/// Values the host fetched from the shared cache: `(key, stored bytes)` for each key it found.
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedValues<'a> {
    found: &'a [(&'a str, &'a [u8])],
}

impl<'a> SharedValues<'a> {
    /// The values found, by key; keys that were not found are left out.
    pub fn new(found: &'a [(&'a str, &'a [u8])]) -> Self {
        SharedValues { found }
    }

    /// The bytes stored under `key`, if the host found any.
    pub fn get(&self, key: &str) -> Option<&'a [u8]> {
        self.found.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}
