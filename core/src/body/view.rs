//! A typed, borrowing view of a verified token body: one `serde` pass over the signed JSON that
//! reads what validation and the identity headers need and skips the rest, borrowing strings from
//! the content where they have no escapes.
//!
//! Fields keep the difference between absent, `null` and present ([`Field`]), because the
//! reference (keystoneauth's `AccessInfo`) treats them differently: `d['k']` fails on an absent key,
//! `d.get('k')` reads it as `None`. Values the header rules copy verbatim (the catalog, `system`,
//! `is_admin_project`, a service's `type`) stay raw JSON text.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::body::diagnosis::{diagnose, NO_V2_TOKEN, NO_V3_TOKEN};
use crate::body::version::TokenVersion;
use crate::error::{Error, Result};
use crate::json::check_json_limits;
use crate::limits::Limits;
use crate::timestamp::parse_timestamp;

/// A member of a JSON object: absent, `null`, or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    /// The key is not in the object.
    #[default]
    Absent,
    /// The key is present with `null`.
    Null,
    /// The key is present with a value.
    Value(T),
}

impl<T> Field<T> {
    /// The value, if present and not `null`.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the key is present (possibly `null`), Python's `key in dict`.
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Field::Null, Field::Value))
    }
}

/// A struct read only from a JSON object (`serde` would also fill a struct from an array).
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `deserialize_with` for a `Field` holding a struct: only an object (or `null`) is accepted.
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Field<T>, D::Error> {
    Ok(Option::<Obj<T>>::deserialize(d)?.map_or(Field::Null, |o| Field::Value(o.0)))
}

/// `deserialize_with` for a `Field` holding a list of structs, each an object.
pub(crate) fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Field<Vec<T>>, D::Error> {
    Ok(
        Option::<Vec<Obj<T>>>::deserialize(d)?.map_or(Field::Null, |v| {
            Field::Value(v.into_iter().map(|o| o.0).collect())
        }),
    )
}

/// A JSON string, borrowed from the content when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// An id/name pair (a domain, or a project's or user's domain).
#[derive(Debug, Clone, Default, DeriveDeserialize)]
pub struct IdName<'a> {
    /// `id`.
    #[serde(borrow, default)]
    pub id: Field<Str<'a>>,
    /// `name`.
    #[serde(borrow, default)]
    pub name: Field<Str<'a>>,
}

/// A v3 project (`token.project`).
#[derive(Debug, Clone, Default, DeriveDeserialize)]
pub struct Project<'a> {
    /// `id`.
    #[serde(borrow, default)]
    pub id: Field<Str<'a>>,
    /// `name`.
    #[serde(borrow, default)]
    pub name: Field<Str<'a>>,
    /// `domain`.
    #[serde(borrow, default, deserialize_with = "object")]
    pub domain: Field<IdName<'a>>,
}

/// A user: v3 `token.user` or v2 `access.user`.
#[derive(Debug, Clone, Default, DeriveDeserialize)]
pub struct UserView<'a> {
    /// `id`.
    #[serde(borrow, default)]
    pub id: Field<Str<'a>>,
    /// `name`.
    #[serde(borrow, default)]
    pub name: Field<Str<'a>>,
    /// `username` (v2 only, read when `name` is empty).
    #[serde(borrow, default)]
    pub username: Field<Str<'a>>,
    /// `domain` (v3).
    #[serde(borrow, default, deserialize_with = "object")]
    pub domain: Field<IdName<'a>>,
    /// `roles` (v2; v3 roles are on the token).
    #[serde(borrow, default, deserialize_with = "objects")]
    pub roles: Field<Vec<RoleView<'a>>>,
    /// `tenantId` (pre-Grizzly v2).
    #[serde(borrow, default, rename = "tenantId")]
    pub tenant_id: Field<Str<'a>>,
    /// `tenantName` (pre-Grizzly v2).
    #[serde(borrow, default, rename = "tenantName")]
    pub tenant_name: Field<Str<'a>>,
}

/// A role.
#[derive(Debug, Clone, DeriveDeserialize)]
pub struct RoleView<'a> {
    /// `id`, when the body carries it.
    #[serde(borrow, default)]
    pub id: Field<Str<'a>>,
    /// `name`.
    #[serde(borrow, default)]
    pub name: Field<Str<'a>>,
}

/// The token object: v3 `token` or v2 `access.token` (fields of the other version stay absent).
#[derive(Debug, Clone, Default, DeriveDeserialize)]
pub struct TokenObject<'a> {
    /// v3 `expires_at`.
    #[serde(borrow, default)]
    pub expires_at: Field<Str<'a>>,
    /// v2 `expires`.
    #[serde(borrow, default)]
    pub expires: Field<Str<'a>>,
    /// `issued_at`.
    #[serde(borrow, default)]
    pub issued_at: Field<Str<'a>>,
    /// `audit_ids`.
    #[serde(borrow, default)]
    pub audit_ids: Field<Vec<Str<'a>>>,
    /// `bind`.
    #[serde(default)]
    pub bind: Field<Map<String, Value>>,
    /// v3 `user`.
    #[serde(borrow, default, deserialize_with = "object")]
    pub user: Field<UserView<'a>>,
    /// v3 `roles`.
    #[serde(borrow, default, deserialize_with = "objects")]
    pub roles: Field<Vec<RoleView<'a>>>,
    /// v3 `project`.
    #[serde(borrow, default, deserialize_with = "object")]
    pub project: Field<Project<'a>>,
    /// v3 `domain`.
    #[serde(borrow, default, deserialize_with = "object")]
    pub domain: Field<IdName<'a>>,
    /// v3 `system`, raw.
    #[serde(borrow, default)]
    pub system: Field<&'a RawValue>,
    /// v3 `is_admin_project`, raw.
    #[serde(borrow, default)]
    pub is_admin_project: Field<&'a RawValue>,
    /// v3 `catalog`, raw.
    #[serde(borrow, default)]
    pub catalog: Field<&'a RawValue>,
    /// v2 `tenant`.
    #[serde(borrow, default, deserialize_with = "object")]
    pub tenant: Field<Project<'a>>,
    /// v2 `tenantId` (pre-Diablo).
    #[serde(borrow, default, rename = "tenantId")]
    pub tenant_id: Field<Str<'a>>,
}

/// v2 `access`.
#[derive(Debug, Clone, Default, DeriveDeserialize)]
struct Access<'a> {
    #[serde(borrow, default, deserialize_with = "object")]
    token: Field<TokenObject<'a>>,
    #[serde(borrow, default, deserialize_with = "object")]
    user: Field<UserView<'a>>,
    #[serde(borrow, default, rename = "serviceCatalog")]
    service_catalog: Field<&'a RawValue>,
}

#[derive(Debug, Default, DeriveDeserialize)]
struct Document<'a> {
    #[serde(borrow, default, deserialize_with = "object")]
    token: Field<TokenObject<'a>>,
    #[serde(borrow, default, deserialize_with = "object")]
    access: Field<Access<'a>>,
}

/// A decoded token body, borrowing from the content it was decoded from.
#[derive(Debug, Clone)]
pub struct TokenView<'a> {
    /// v2 or v3.
    pub version: TokenVersion,
    /// The token object (v3 `token`, v2 `access.token`).
    pub token: TokenObject<'a>,
    /// The user: v3 `token.user`, v2 `access.user`.
    pub user: Field<UserView<'a>>,
    /// The service catalog, raw: v3 `token.catalog`, v2 `access.serviceCatalog`.
    pub catalog: Field<&'a RawValue>,
}

impl<'a> TokenView<'a> {
    /// Decodes verified token content, checking `limits` first.
    ///
    /// The shape rules are [`crate::body::model::parse`]'s (v2 or v3 but not both, typed fields, at most one
    /// scope); expiry and issue times must parse when present.
    pub fn decode(content: &'a [u8], limits: &Limits) -> Result<Self> {
        check_json_limits(content, limits)?;
        let text = std::str::from_utf8(content)
            .map_err(|e| Error::Malformed(format!("token body is not UTF-8: {e}")))?;
        // Keystone signed the content, so a refusal is rare: only then is the document read again
        // to name the field at fault.
        let doc = match serde_json::from_str::<Obj<Document<'a>>>(text) {
            Ok(Obj(doc)) => doc,
            Err(e) => return Err(diagnose::<Obj<Document<'_>>>(text, e)),
        };
        let view = match (doc.token, doc.access) {
            (Field::Absent, Field::Absent) => {
                return Err(Error::malformed(
                    "token body is neither v2 (access.token) nor v3 (token)",
                ))
            }
            (Field::Value(token), Field::Absent) => {
                let catalog = token.catalog.clone();
                let user = token.user.clone();
                TokenView {
                    version: TokenVersion::V3,
                    token,
                    user,
                    catalog,
                }
            }
            (Field::Absent, Field::Value(access)) => match access.token {
                Field::Value(token) => TokenView {
                    version: TokenVersion::V2,
                    token,
                    user: access.user,
                    catalog: access.service_catalog,
                },
                _ => return Err(Error::malformed(NO_V2_TOKEN)),
            },
            (Field::Absent, Field::Null) => return Err(Error::malformed(NO_V2_TOKEN)),
            (Field::Null, Field::Absent) => return Err(Error::malformed(NO_V3_TOKEN)),
            _ => {
                return Err(Error::malformed(
                    "token body has both access (v2) and token (v3) keys",
                ))
            }
        };
        view.check()?;
        Ok(view)
    }

    /// The rules a typed read cannot state, each refusal naming the field's path.
    fn check(&self) -> Result<()> {
        let t = &self.token;
        let prefix = match self.version {
            TokenVersion::V3 => "token",
            TokenVersion::V2 => "access.token",
        };
        let missing =
            |path: String| Err(Error::malformed(format!("token body: {path} is missing")));
        if self.version == TokenVersion::V3 {
            let scopes = usize::from(t.project.get().is_some())
                + usize::from(t.domain.get().is_some())
                + usize::from(t.system.get().is_some());
            if scopes > 1 {
                return Err(Error::malformed(
                    "v3 token body has more than one of token.project, token.domain, token.system",
                ));
            }
        }
        let project = match (t.project.get(), t.tenant.get()) {
            (Some(p), _) => Some((p, "project")),
            (None, Some(p)) => Some((p, "tenant")),
            (None, None) => None,
        };
        if let Some((p, key)) = project {
            if p.id.get().is_none() {
                return missing(format!("{prefix}.{key}.id"));
            }
            if p.name.get().is_none() {
                return missing(format!("{prefix}.{key}.name"));
            }
        }
        if let Some(d) = t.domain.get() {
            if d.id.get().is_none() {
                return missing(format!("{prefix}.domain.id"));
            }
            if d.name.get().is_none() {
                return missing(format!("{prefix}.domain.name"));
            }
        }
        let (roles, roles_path) = match self.version {
            TokenVersion::V3 => (t.roles.get(), "token.roles"),
            TokenVersion::V2 => (
                self.user.get().and_then(|u| u.roles.get()),
                "access.user.roles",
            ),
        };
        if let Some(i) = roles.and_then(|r| r.iter().position(|role| role.name.get().is_none())) {
            return missing(format!("{roles_path}[{i}].name"));
        }
        let (expires, path) = self.expires_field();
        if expires.is_present() {
            self.expires_at()
                .map_err(|_| Error::malformed(format!("token body: {path} is not a timestamp")))?;
        }
        if t.issued_at.is_present() {
            match t.issued_at.get() {
                Some(s) if parse_timestamp(s.as_str()).is_ok() => {}
                _ => {
                    return Err(Error::malformed(format!(
                        "token body: {prefix}.issued_at is not a timestamp"
                    )))
                }
            }
        }
        Ok(())
    }

    fn expires_field(&self) -> (&Field<Str<'a>>, &'static str) {
        match self.version {
            TokenVersion::V3 => (&self.token.expires_at, "token.expires_at"),
            TokenVersion::V2 => (&self.token.expires, "access.token.expires"),
        }
    }

    /// Expiry in UTC; `None` when the body has none (it never expires).
    pub fn expires_at(&self) -> Result<Option<OffsetDateTime>> {
        match self.expires_field().0 {
            Field::Absent => Ok(None),
            Field::Value(s) => parse_timestamp(s.as_str()).map(Some),
            // A null expiry must not read as "never expires".
            Field::Null => Err(Error::Malformed("token body: expiry is null".to_owned())),
        }
    }

    /// Expiry as Unix microseconds; `None` when the body has none (it never expires).
    pub fn expires(&self) -> Result<Option<i64>> {
        Ok(self.expires_at()?.map(|t| {
            let micros = t.unix_timestamp_nanos() / 1000;
            i64::try_from(micros).unwrap_or(i64::MAX)
        }))
    }

    /// The audit ids (empty when absent or `null`).
    pub fn audit_ids(&self) -> Vec<String> {
        self.token
            .audit_ids
            .get()
            .map(|ids| ids.iter().map(|s| s.as_str().to_owned()).collect())
            .unwrap_or_default()
    }

    /// The bind section, if present as an object.
    pub fn bind(&self) -> Option<&Map<String, Value>> {
        self.token.bind.get()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn view(doc: &str) -> Result<TokenView<'_>> {
        TokenView::decode(doc.as_bytes(), &Limits::default())
    }

    #[test]
    fn v3_fields_and_borrowing() {
        let doc = r#"{"token":{"expires_at":"2038-01-19T03:14:07.000000Z","audit_ids":["a","b"],
            "user":{"id":"u","name":"n\u00e9","domain":{"id":"d","name":"D"}},
            "project":{"id":"p","name":"P","domain":{"id":"pd","name":"PD"}},
            "roles":[{"id":"r1","name":"admin"}],"catalog":[],"is_admin_project":false,
            "bind":{"kerberos":"u@R"},"extra":{"ignored":[1,2,3]}}}"#;
        let v = view(doc).unwrap();
        assert_eq!(v.version, TokenVersion::V3);
        assert_eq!(v.expires().unwrap(), Some(2_147_483_647_000_000));
        assert_eq!(v.audit_ids(), vec!["a", "b"]);
        let user = v.user.get().unwrap();
        assert!(matches!(user.id.get().unwrap().0, Cow::Borrowed("u")));
        assert!(matches!(user.name.get().unwrap().0, Cow::Owned(ref s) if s == "né"));
        assert_eq!(v.catalog.get().unwrap().get(), "[]");
        assert_eq!(v.token.is_admin_project.get().unwrap().get(), "false");
        assert!(v.bind().unwrap().contains_key("kerberos"));
    }

    #[test]
    fn v2_fields() {
        let doc = r#"{"access":{"token":{"expires":"2038-01-19T03:14:07Z","tenant":{"id":"t","name":"T"}},
            "user":{"id":"u","name":"","username":"un","roles":[{"name":"r"}]},"serviceCatalog":null}}"#;
        let v = view(doc).unwrap();
        assert_eq!(v.version, TokenVersion::V2);
        assert!(matches!(v.catalog, Field::Null));
        assert_eq!(
            v.token.tenant.get().unwrap().id.get().unwrap().as_str(),
            "t"
        );
        assert_eq!(v.user.get().unwrap().username.get().unwrap().as_str(), "un");
    }

    #[test]
    fn absent_and_null_differ() {
        let v = view(r#"{"token":{"user":{"id":null}}}"#).unwrap();
        let u = v.user.get().unwrap();
        assert_eq!(u.id, Field::Null);
        assert_eq!(u.name, Field::Absent);
        assert_eq!(v.expires().unwrap(), None);
    }

    #[test]
    fn malformed_bodies() {
        for doc in [
            "",
            "[]",
            "{}",
            r#"{"token":null}"#,
            r#"{"access":null}"#,
            r#"{"access":{}}"#,
            r#"{"token":{},"access":{"token":{}}}"#,
            r#"{"token":{"expires_at":null}}"#,
            r#"{"token":{"expires_at":"tomorrow"}}"#,
            r#"{"token":{"issued_at":5}}"#,
            r#"{"token":{"audit_ids":[1]}}"#,
            r#"{"token":{"roles":[{"id":"x"}]}}"#,
            r#"{"token":{"project":{"id":"p","name":"p"},"domain":{"id":"d","name":"d"}}}"#,
            r#"{"token":{"project":{"id":"p"}}}"#,
            r#"{"token":{"user":{"id":1}}}"#,
            r#"{"token":{"bind":"kerberos"}}"#,
            r#"{"access":{"token":{"tenant":{"id":"t"}}}}"#,
            r#"{"token":{"user":{"id":"a","id":"b"}}}"#,
            r#"{"token":{"user":["u","n"]}}"#,
            r#"{"token":{"roles":[["r","n"]]}}"#,
            r#"{"token":["x"]}"#,
        ] {
            assert!(matches!(view(doc), Err(Error::Malformed(_))), "{doc}");
        }
    }

    #[test]
    fn limits_apply_first() {
        let deep = format!(
            r#"{{"token":{{"x":{}{}}}}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        assert!(matches!(view(&deep), Err(Error::LimitExceeded { .. })));
    }
}
