//! What a validated token yields (its data), and its entry in the token cache.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::auth_token::catalog::CatalogMemo;
use crate::auth_token::config::Config;
use crate::auth_token::headers::{self, Header};
use crate::auth_token::identity::Identity;
use crate::auth_token::refusal::Refusal;
use crate::auth_token::token_cache::Weigh;
use crate::body::view::TokenView;
use crate::body::TokenVersion;
use crate::error::Error;

/// A validated token body and everything a later request with the same token needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenData {
    /// The verified body JSON (`keystone.token_info`).
    pub content: Vec<u8>,
    /// v2 or v3.
    pub version: TokenVersion,
    /// Expiry, Unix microseconds; `None` never expires.
    pub expires_us: Option<i64>,
    /// Audit ids.
    pub audit_ids: Vec<String>,
    /// The bind section.
    pub bind: Option<Map<String, Value>>,
    /// The identity header values.
    pub identity: Identity,
    /// `X-Service-Catalog` (when `include_service_catalog` and the token has a catalog).
    pub catalog: Option<Arc<str>>,
    /// Room for a binding's own representation of this data, built once and reused by every
    /// request that finds the token in the cache (the Python binding keeps its strings here).
    pub binding: BindingSlot,
}

/// A slot a binding fills once per [`TokenData`]; it takes no part in comparisons or clones.
#[derive(Default)]
pub struct BindingSlot(std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>);

impl BindingSlot {
    /// The value, built by `init` on first use.
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0.get_or_init(|| Box::new(init())).downcast_ref()
    }
}

impl Clone for BindingSlot {
    fn clone(&self) -> Self {
        BindingSlot::default()
    }
}

impl PartialEq for BindingSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for BindingSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "BindingSlot(set)"
        } else {
            "BindingSlot(empty)"
        })
    }
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
        let expires_us = view.expires()?;
        let audit_ids = view.audit_ids();
        let bind = view.bind().cloned();
        let version = view.version;
        drop(view);
        Ok(TokenData {
            content,
            version,
            expires_us,
            audit_ids,
            bind,
            identity,
            catalog,
            binding: BindingSlot::default(),
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
    fn weight(&self) -> usize {
        let hashes: usize = self.hashes.iter().map(|h| h.len() + 24).sum();
        let data = match &self.state {
            Ok(d) => {
                d.content.len()
                    + d.catalog.as_ref().map_or(0, |c| c.len())
                    + d.identity.roles.len() * 2
                    + d.identity
                        .values
                        .iter()
                        .flatten()
                        .map(|v| v.len() + 24)
                        .sum::<usize>()
                    + d.audit_ids.iter().map(|a| a.len() + 24).sum::<usize>()
                    + 256
            }
            Err(_) => 64,
        };
        hashes + data
    }
}
