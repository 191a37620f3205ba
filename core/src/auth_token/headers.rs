//! The headers the middleware sets (and strips from every request): their HTTP names and their
//! CGI/WSGI environ keys, as keystonemiddleware's `auth_token` names them, and the rule that tells
//! an identity header in any spelling a client may send ([`identity_header`]).

/// A header the middleware sets (or strips): its HTTP name and its CGI/WSGI environ key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The HTTP header name as keystonemiddleware spells it (`X-Roles`).
    pub name: &'static str,
    /// The WSGI environ key (`HTTP_X_ROLES`).
    pub environ_key: &'static str,
    /// Its position in [`ALL_HEADERS`].
    index: usize,
}

impl Header {
    /// Its position in [`ALL_HEADERS`]: a binding's table of the headers is indexed by it, without
    /// comparing names.
    pub fn index(self) -> usize {
        self.index
    }
}

macro_rules! headers {
    ($($id:ident = $name:literal, $key:literal;)*) => {
        /// The headers' positions in [`ALL_HEADERS`], numbered by the compiler.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum Position { $($id),* }
        $(
            #[doc = concat!("`", $name, "`.")]
            pub const $id: Header = Header {
                name: $name,
                environ_key: $key,
                index: Position::$id as usize,
            };
        )*
        /// Every header the middleware may set; all of them are removed from incoming requests.
        pub const ALL_HEADERS: &[Header] = &[$($id),*];
    };
}

headers! {
    IDENTITY_STATUS = "X-Identity-Status", "HTTP_X_IDENTITY_STATUS";
    SERVICE_IDENTITY_STATUS = "X-Service-Identity-Status", "HTTP_X_SERVICE_IDENTITY_STATUS";
    SERVICE_CATALOG = "X-Service-Catalog", "HTTP_X_SERVICE_CATALOG";
    IS_ADMIN_PROJECT = "X-Is-Admin-Project", "HTTP_X_IS_ADMIN_PROJECT";
    SYSTEM_SCOPE = "OpenStack-System-Scope", "HTTP_OPENSTACK_SYSTEM_SCOPE";
    ROLES = "X-Roles", "HTTP_X_ROLES";
    DOMAIN_ID = "X-Domain-Id", "HTTP_X_DOMAIN_ID";
    DOMAIN_NAME = "X-Domain-Name", "HTTP_X_DOMAIN_NAME";
    PROJECT_ID = "X-Project-Id", "HTTP_X_PROJECT_ID";
    PROJECT_NAME = "X-Project-Name", "HTTP_X_PROJECT_NAME";
    PROJECT_DOMAIN_ID = "X-Project-Domain-Id", "HTTP_X_PROJECT_DOMAIN_ID";
    PROJECT_DOMAIN_NAME = "X-Project-Domain-Name", "HTTP_X_PROJECT_DOMAIN_NAME";
    USER_ID = "X-User-Id", "HTTP_X_USER_ID";
    USER_NAME = "X-User-Name", "HTTP_X_USER_NAME";
    USER_DOMAIN_ID = "X-User-Domain-Id", "HTTP_X_USER_DOMAIN_ID";
    USER_DOMAIN_NAME = "X-User-Domain-Name", "HTTP_X_USER_DOMAIN_NAME";
    ROLE = "X-Role", "HTTP_X_ROLE";
    USER = "X-User", "HTTP_X_USER";
    TENANT_ID = "X-Tenant-Id", "HTTP_X_TENANT_ID";
    TENANT_NAME = "X-Tenant-Name", "HTTP_X_TENANT_NAME";
    TENANT = "X-Tenant", "HTTP_X_TENANT";
    SERVICE_ROLES = "X-Service-Roles", "HTTP_X_SERVICE_ROLES";
    SERVICE_DOMAIN_ID = "X-Service-Domain-Id", "HTTP_X_SERVICE_DOMAIN_ID";
    SERVICE_DOMAIN_NAME = "X-Service-Domain-Name", "HTTP_X_SERVICE_DOMAIN_NAME";
    SERVICE_PROJECT_ID = "X-Service-Project-Id", "HTTP_X_SERVICE_PROJECT_ID";
    SERVICE_PROJECT_NAME = "X-Service-Project-Name", "HTTP_X_SERVICE_PROJECT_NAME";
    SERVICE_PROJECT_DOMAIN_ID = "X-Service-Project-Domain-Id", "HTTP_X_SERVICE_PROJECT_DOMAIN_ID";
    SERVICE_PROJECT_DOMAIN_NAME = "X-Service-Project-Domain-Name", "HTTP_X_SERVICE_PROJECT_DOMAIN_NAME";
    SERVICE_USER_ID = "X-Service-User-Id", "HTTP_X_SERVICE_USER_ID";
    SERVICE_USER_NAME = "X-Service-User-Name", "HTTP_X_SERVICE_USER_NAME";
    SERVICE_USER_DOMAIN_ID = "X-Service-User-Domain-Id", "HTTP_X_SERVICE_USER_DOMAIN_ID";
    SERVICE_USER_DOMAIN_NAME = "X-Service-User-Domain-Name", "HTTP_X_SERVICE_USER_DOMAIN_NAME";
}

/// The identity header a request header named `name` stands for, in any spelling: ASCII case is
/// ignored and `_` reads as `-` (`x_roles`, `X-ROLES`, `X_Roles` are all `X-Roles`), since WSGI
/// servers, CGI and ASGI-to-WSGI bridges fold those spellings into one environ key (`HTTP_X_ROLES`).
/// Every header for which this is `Some` is removed from a request before anything else reads it.
/// Names that are not ASCII, or hold other characters, are no identity header.
pub fn identity_header(name: &[u8]) -> Option<Header> {
    // The longest name is `X-Service-Project-Domain-Name` (29 bytes); every one starts with
    // `X-` or `OpenStack-`: most request headers are ruled out by their length or first byte.
    if name.len() > 29 || !matches!(name.first(), Some(b'x' | b'X' | b'o' | b'O')) {
        return None;
    }
    ALL_HEADERS.iter().copied().find(|h| {
        h.name.len() == name.len()
            && h.name.bytes().zip(name).all(|(want, &got)| {
                let got = if got == b'_' { b'-' } else { got };
                want.eq_ignore_ascii_case(&got)
            })
    })
}

/// The ten id/name headers, in keystonemiddleware's order, for a user token and a service token.
pub(super) const TEMPLATE: [(Header, Header); 10] = [
    (DOMAIN_ID, SERVICE_DOMAIN_ID),
    (DOMAIN_NAME, SERVICE_DOMAIN_NAME),
    (PROJECT_ID, SERVICE_PROJECT_ID),
    (PROJECT_NAME, SERVICE_PROJECT_NAME),
    (PROJECT_DOMAIN_ID, SERVICE_PROJECT_DOMAIN_ID),
    (PROJECT_DOMAIN_NAME, SERVICE_PROJECT_DOMAIN_NAME),
    (USER_ID, SERVICE_USER_ID),
    (USER_NAME, SERVICE_USER_NAME),
    (USER_DOMAIN_ID, SERVICE_USER_DOMAIN_ID),
    (USER_DOMAIN_NAME, SERVICE_USER_DOMAIN_NAME),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn header_table_is_consistent() {
        for h in ALL_HEADERS {
            let key = format!("HTTP_{}", h.name.to_uppercase().replace('-', "_"));
            assert_eq!(key, h.environ_key);
        }
        assert_eq!(ALL_HEADERS.len(), 32);
        for (i, h) in ALL_HEADERS.iter().enumerate() {
            assert_eq!(h.index(), i, "{}", h.name);
        }
    }

    #[test]
    fn identity_headers_are_recognised_in_every_spelling() {
        for h in ALL_HEADERS {
            let spellings = [
                h.name.to_owned(),
                h.name.to_lowercase(),
                h.name.to_uppercase(),
                h.name.replace('-', "_"),
                h.name.to_lowercase().replace('-', "_"),
                // `_` for some `-` only
                h.name.replacen('-', "_", 1),
            ];
            for s in spellings {
                assert_eq!(identity_header(s.as_bytes()), Some(*h), "{s}");
            }
        }
        // The longest name bounds the fast path.
        let longest = ALL_HEADERS.iter().map(|h| h.name.len()).max().unwrap();
        assert_eq!(longest, 29);
        for other in [
            &b""[..],
            b"X-Auth-Token",
            b"X-Service-Token",
            b"X-Roles ",
            b" X-Roles",
            b"X-Roles2",
            b"X-Role-s",
            b"XRoles",
            b"X--Roles",
            b"Content-Type",
            b"X\xc5\x81Roles",
            b"X-R\xf6les",
            b"OpenStack_System_Scope_",
            b"X-Identity-Statu",
        ] {
            assert_eq!(identity_header(other), None, "{other:?}");
        }
        // `-` never stands for `_` (no identity header has one), and no other character folds.
        assert_eq!(identity_header(b"X.Roles"), None);
        assert_eq!(
            identity_header(b"OpenStack-System-Scope").map(|h| h.environ_key),
            Some("HTTP_OPENSTACK_SYSTEM_SCOPE")
        );
    }
}
