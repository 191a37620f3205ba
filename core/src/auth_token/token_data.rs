//! What a validated token yields (its data), and its entry in the token cache.

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::auth_token::catalog::CatalogMemo;
use crate::auth_token::config::Config;
use crate::auth_token::headers::{self, Header};
use crate::auth_token::identity::Identity;
use crate::auth_token::refusal::Refusal;
use crate::auth_token::token_cache::Weigh;
use crate::body::TokenVersion;
use crate::body::TokenView;
use crate::error::Error;

/// A validated token body and everything a later request with the same token needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenData {
    /// The verified body JSON (`keystone.token_info`).
    pub content: Vec<u8>,
    /// v2 or v3.
    pub version: TokenVersion,
    /// Expiry in UTC; `None` never expires.
    pub expires: Option<OffsetDateTime>,
    /// Audit ids.
    pub audit_ids: Vec<String>,
    /// The bind section.
    pub bind: Option<Map<String, Value>>,
    /// The identity header values.
    pub identity: Identity,
    /// `X-Service-Catalog` (when `include_service_catalog` and the token has a catalog).
    pub catalog: Option<Arc<str>>,
}

impl TokenData {
    /// Decodes verified (or cached) token content into what the headers and checks need.
    pub fn decode(
        content: Vec<u8>,
        config: &Config,
        catalogs: &CatalogMemo,
    ) -> Result<Self, Error> {
        let view = TokenView::decode(&content, &config.limits)?;
        let identity = Identity::of(&view)?;
        let catalog = if config.include_service_catalog {
            catalogs.service_catalog(&view)?
        } else {
            None
        };
        let expires = view.expires_at()?;
        let audit_ids = view.audit_ids();
        let bind = view.bind().cloned();
        let version = view.version;
        drop(view);
        Ok(TokenData {
            content,
            version,
            expires,
            audit_ids,
            bind,
            identity,
            catalog,
        })
    }

    /// The headers a valid user token sets, catalog included, in order.
    pub fn user_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        self.identity.user_headers().chain(
            self.catalog
                .as_deref()
                .map(|c| (headers::SERVICE_CATALOG, Some(c))),
        )
    }

    /// The headers a valid service token sets, in order.
    pub fn service_headers(&self) -> impl Iterator<Item = (Header, Option<&str>)> {
        self.identity.service_headers()
    }
}

/// A token's cache entry: its hashes and its data, or why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    /// One hash per configured algorithm, in order.
    pub hashes: Vec<String>,
    /// The data, or the refusal that is cached with the token.
    pub state: Result<Arc<TokenData>, Refusal>,
}

impl Weigh for TokenEntry {
    /// The bytes this entry holds on the heap, allocator overhead included (a binding's own
    /// objects are added by [`crate::auth_token::Authenticator::charge`] once it has built them).
    fn weight(&self) -> usize {
        let hashes = heap(self.hashes.capacity() * std::mem::size_of::<String>())
            + self.hashes.iter().map(string_heap).sum::<usize>();
        let data = match &self.state {
            Ok(d) => d.heap_bytes(),
            Err(refusal) => refusal.to_string().len() + 64,
        };
        hashes + data
    }
}

impl TokenData {
    /// The bytes this token data holds on the heap: its `Arc` allocation and everything its
    /// fields own. A catalog shared with other tokens ([`CatalogMemo`]) is counted in full.
    fn heap_bytes(&self) -> usize {
        let identity = &self.identity;
        #[allow(clippy::ptr_arg)] // the capacity is what a `Vec` holds
        let strings = |v: &Vec<String>| {
            heap(v.capacity() * std::mem::size_of::<String>())
                + v.iter().map(string_heap).sum::<usize>()
        };
        heap(std::mem::size_of::<TokenData>() + 2 * std::mem::size_of::<usize>())
            + heap(self.content.capacity())
            + strings(&identity.role_names)
            + string_heap(&identity.roles)
            + identity.system_scope.as_ref().map_or(0, string_heap)
            + identity
                .values
                .iter()
                .flatten()
                .map(string_heap)
                .sum::<usize>()
            + self
                .catalog
                .as_ref()
                .map_or(0, |c| heap(c.len() + 2 * std::mem::size_of::<usize>()))
            + strings(&self.audit_ids)
            + self.bind.as_ref().map_or(0, map_heap)
    }
}

/// The bytes the allocator takes for a block of `n` bytes: glibc's malloc adds an 8-byte header
/// and rounds up to 16 bytes, 32 at least; an empty block allocates nothing.
fn heap(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16).max(2) * 16
    }
}

// The capacity, not the length, is what a `String` holds.
#[allow(clippy::ptr_arg)]
fn string_heap(s: &String) -> usize {
    heap(s.capacity())
}

/// The heap bytes of a JSON object (a bind section): a B-tree of keys and values, nodes about
/// two-thirds full.
fn map_heap(map: &Map<String, Value>) -> usize {
    map.iter()
        .map(|(k, v)| {
            (std::mem::size_of::<String>() + std::mem::size_of::<Value>()) * 3 / 2
                + string_heap(k)
                + value_heap(v)
        })
        .sum()
}

/// The heap bytes of a JSON value inside a bind section.
fn value_heap(value: &Value) -> usize {
    match value {
        Value::String(s) => string_heap(s),
        Value::Array(items) => {
            heap(items.capacity() * std::mem::size_of::<Value>())
                + items.iter().map(value_heap).sum::<usize>()
        }
        Value::Object(map) => map_heap(map),
        _ => 0,
    }
}
