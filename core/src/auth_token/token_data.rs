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
