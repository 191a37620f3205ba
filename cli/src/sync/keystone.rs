//! Keystone's endpoints that `kstoken sync` reads, over a bounded HTTP client: the certificates
//! (`/v3/OS-SIMPLE-CERT/certificates` and `/ca`, unauthenticated), a service token (password
//! authentication, `POST /v3/auth/tokens`) and the signed revocation list
//! (`/v3/auth/tokens/OS-PKI/revoked`, `X-Auth-Token`).
//!
//! Every exchange is bounded: a connect timeout, a timeout for the whole exchange (and each read),
//! no redirects followed, and every body checked against its limit from `Content-Length` before a
//! byte of it is read, then read only up to the limit plus one byte.

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};
use ureq::http::Response;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::{Agent, Body};

use crate::exit::Failure;

/// A domain, by id or by name.
#[derive(Debug, Clone)]
pub enum Domain {
    /// `{"id": ...}`
    Id(String),
    /// `{"name": ...}`
    Name(String),
}

/// A user or project, by id, or by name within a domain.
#[derive(Debug, Clone)]
pub enum Named {
    /// `{"id": ...}`
    Id(String),
    /// `{"name": ..., "domain": ...}`
    Name(String, Domain),
}

/// The service user's v3 password credentials, scoped to a project.
#[derive(Clone)]
pub struct Credentials {
    /// The user.
    pub user: Named,
    /// The password.
    pub password: String,
    /// The project the token is scoped to (the revocation list needs the `admin` or `service`
    /// role, which only a scoped token carries).
    pub project: Named,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .field("project", &self.project)
            .finish()
    }
}

fn domain_json(domain: &Domain) -> Value {
    match domain {
        Domain::Id(id) => json!({ "id": id }),
        Domain::Name(name) => json!({ "name": name }),
    }
}

fn named_json(named: &Named) -> Value {
    match named {
        Named::Id(id) => json!({ "id": id }),
        Named::Name(name, domain) => json!({ "name": name, "domain": domain_json(domain) }),
    }
}

impl Credentials {
    /// keystone's v3 password authentication request, project-scoped.
    fn request_body(&self) -> Value {
        let mut user = named_json(&self.user);
        if let Some(map) = user.as_object_mut() {
            map.insert("password".to_owned(), Value::String(self.password.clone()));
        }
        json!({
            "auth": {
                "identity": { "methods": ["password"], "password": { "user": user } },
                "scope": { "project": named_json(&self.project) }
            }
        })
    }
}

/// How long keystone may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To establish the connection (TCP and TLS).
    pub connect: Duration,
    /// For a whole exchange, request to last byte of the answer; also the longest wait for any
    /// one read.
    pub exchange: Duration,
}

/// A keystone v3 endpoint and the client that talks to it.
pub struct Keystone {
    v3: String,
    agent: Agent,
}

/// What one exchange with keystone gave.
type Answer = Response<Body>;

impl Keystone {
    /// A client for the keystone at `auth_url` (`https://keystone:5000/v3` or the unversioned
    /// root), trusting `cacert` (PEM) for TLS when given, else the system's roots.
    pub fn new(auth_url: &str, cacert: Option<&[u8]>, timeouts: Timeouts) -> Result<Self, Failure> {
        let v3 = v3_url(auth_url)?;
        let roots = match cacert {
            Some(pem) => {
                let certs = ureq::tls::parse_pem(pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<Vec<Certificate<'static>>, _>>()
                    .map_err(|e| Failure::config(format!("--os-cacert: {e}")))?;
                if certs.is_empty() {
                    return Err(Failure::config("--os-cacert holds no certificate"));
                }
                RootCerts::new_with_certs(&certs)
            }
            None => RootCerts::PlatformVerifier,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(roots)
            .build();
        let agent: Agent = Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeouts.connect))
            .timeout_per_call(Some(timeouts.exchange))
            .timeout_per_read(Some(timeouts.exchange))
            .user_agent(concat!("kstoken-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Keystone { v3, agent })
    }

    /// The URL of `path` under the v3 endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.v3)
    }

    /// `GET /v3/OS-SIMPLE-CERT/{which}` (`certificates` or `ca`): the PEM, at most `limit` bytes.
    pub fn certificate(&self, which: &str, limit: usize) -> Result<Vec<u8>, Failure> {
        let url = self.url(&format!("OS-SIMPLE-CERT/{which}"));
        let answer = self.exchange(&url, self.agent.get(&url).call())?;
        let answer = expect_status(&url, answer, 200, || {
            "keystone serves no PKI certificates there: is OS_AUTH_URL keystone's, and its token \
             provider pki or pkiz?"
                .to_owned()
        })?;
        read_body(&url, answer, limit)
    }

    /// A project-scoped token for `credentials` (`POST /v3/auth/tokens?nocatalog`): the
    /// `X-Subject-Token` header. The token's body is not read.
    pub fn authenticate(&self, credentials: &Credentials) -> Result<String, Failure> {
        let url = self.url("auth/tokens?nocatalog");
        let body = credentials.request_body().to_string();
        let sent = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        let answer = self.exchange(&url, sent)?;
        let status = answer.status().as_u16();
        if status == 401 {
            return Err(Failure::config(format!(
                "keystone refused the service credentials (401 from POST {url}): check \
                 OS_USERNAME/OS_USER_ID, the password, the user and project domains and \
                 OS_PROJECT_NAME/OS_PROJECT_ID"
            )));
        }
        let answer = expect_status(&url, answer, 201, || {
            "password authentication failed".to_owned()
        })?;
        answer
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::refused(format!(
                    "keystone's answer to POST {url} has no X-Subject-Token header"
                ))
            })
    }

    /// `GET /v3/auth/tokens/OS-PKI/revoked` with `token`: keystone's `{"signed": ...}` body as
    /// served, at most `limit` bytes.
    pub fn revocation_list(&self, token: &str, limit: usize) -> Result<Vec<u8>, Failure> {
        let url = self.url("auth/tokens/OS-PKI/revoked");
        let sent = self.agent.get(&url).header("X-Auth-Token", token).call();
        let answer = self.exchange(&url, sent)?;
        let status = answer.status().as_u16();
        if status == 401 || status == 403 {
            return Err(Failure::config(format!(
                "keystone refused the revocation list to the service user ({status} from GET \
                 {url}): it needs the admin or service role in the project it is scoped to"
            )));
        }
        let answer = expect_status(&url, answer, 200, || {
            "keystone serves no revocation list there (keystone after Ocata has none: use \
             --certificates-only)"
                .to_owned()
        })?;
        read_body(&url, answer, limit)
    }

    /// The answer of a request, or the failure that kept it from coming: connection failures and
    /// timeouts mean keystone is unreachable (5); a TLS handshake refused (keystone's certificate
    /// not trusted, no common protocol) does not go away by retrying: configuration (3).
    fn exchange(&self, url: &str, sent: Result<Answer, ureq::Error>) -> Result<Answer, Failure> {
        sent.map_err(|e| match e {
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                Failure::config(format!("OS_AUTH_URL gives an unusable URL {url}: {e}"))
            }
            ureq::Error::NativeTls(_) | ureq::Error::Tls(_) => Failure::config(format!(
                "TLS with keystone failed: {url}: {e}; if keystone's certificate is issued by a \
                 private CA, give that CA's bundle with --os-cacert (OS_CACERT)"
            )),
            other => Failure::unreachable(format!("keystone unreachable: {url}: {other}")),
        })
    }
}

/// The v3 endpoint of `auth_url`: itself when it ends in `/v3`, else `/v3` under it.
fn v3_url(auth_url: &str) -> Result<String, Failure> {
    let trimmed = auth_url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(Failure::config(format!(
            "OS_AUTH_URL must be an http:// or https:// URL, not {auth_url:?}"
        )));
    }
    if trimmed.ends_with("/v2.0") {
        return Err(Failure::config(format!(
            "OS_AUTH_URL {auth_url} is keystone's v2.0 API: sync speaks v3 (use .../v3)"
        )));
    }
    Ok(if trimmed.ends_with("/v3") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v3")
    })
}

/// The answer when its status is `want`; a server error is keystone unreachable (5), a redirect or
/// another client error a configuration error (3) told with `hint`.
fn expect_status(
    url: &str,
    answer: Answer,
    want: u16,
    hint: impl FnOnce() -> String,
) -> Result<Answer, Failure> {
    let status = answer.status().as_u16();
    if status == want {
        return Ok(answer);
    }
    if status >= 500 {
        return Err(Failure::unreachable(format!(
            "keystone answered {status} to {url}: retry later"
        )));
    }
    if (300..400).contains(&status) {
        let to = answer
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(Failure::config(format!(
            "keystone redirected {url} to {to}: set OS_AUTH_URL to keystone's own URL \
             (redirects are not followed)"
        )));
    }
    Err(Failure::config(format!(
        "keystone answered {status} to {url}: {}",
        hint()
    )))
}

/// The body of `answer`, refused (6) when it is longer than `limit`: by its `Content-Length`
/// before anything is read, else by reading at most `limit + 1` bytes.
fn read_body(url: &str, answer: Answer, limit: usize) -> Result<Vec<u8>, Failure> {
    let too_long = || {
        Failure::refused(format!(
            "keystone's answer to {url} is over the limit of {limit} bytes: refused"
        ))
    };
    let body = answer.into_body();
    if body
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_long());
    }
    let mut bytes = Vec::new();
    body.into_reader()
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::unreachable(format!("keystone unreachable: {url}: {e}")))?;
    if bytes.len() > limit {
        return Err(too_long());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_endpoint() {
        let ok = |s: &str| v3_url(s).map_err(|f| f.to_string());
        assert_eq!(ok("http://k:5000/v3"), Ok("http://k:5000/v3".to_owned()));
        assert_eq!(ok("http://k:5000/v3/"), Ok("http://k:5000/v3".to_owned()));
        assert_eq!(
            ok("https://k/identity"),
            Ok("https://k/identity/v3".to_owned())
        );
        assert!(ok("http://k:5000/v2.0").is_err());
        assert!(ok("k:5000").is_err());
    }

    #[test]
    fn password_request() {
        let c = Credentials {
            user: Named::Name("svc".into(), Domain::Name("Default".into())),
            password: "pw".into(),
            project: Named::Id("p1".into()),
        };
        assert_eq!(
            c.request_body(),
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "svc", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"id": "p1"}}}})
        );
        assert!(!format!("{c:?}").contains("pw"));
    }
}
