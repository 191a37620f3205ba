/* The auth_token decision through the C ABI: kst_auth_config_builder, kst_authenticator,
 * kst_authenticate, kst_outcome, the identity-header table and its spelling rule, and the two
 * helpers for keeping certificates and lists (kst_verifier_rotate, kst_revocation_list_merge).
 * Every decision path: no certificates, valid tokens (v2, v3, PKI, PKIZ), absent, garbage,
 * tampered, expired, revoked, bound (kerberos, x509) with the right and the wrong credentials,
 * service tokens (roles, required, expired user token allowed), delay_auth_decision, revocation
 * enforced (no list, a list, a list past its deadline), the shared-cache exchange in the three
 * formats, and the API's misuse (NULL, bad values, limits). */
#include "common.h"

#include <stdint.h>

#define U8(s) ((const uint8_t *)(s))
/* 2030-01-01T00:00:00Z in microseconds: the example certificates are valid from 2022 to 2080, the
 * example tokens expire in 2038, the custom tokens below in 2035. */
#define NOW_US INT64_C(1893456000000000)
#define NOW_S INT64_C(1893456000)
#define SECOND INT64_C(1000000)

static char *signing_cert, *ca_cert, *signing_key, *ssl_cert, *old_signing_cert;
static size_t signing_cert_len, ca_cert_len, signing_key_len, ssl_cert_len, old_signing_cert_len;
static char *v3_token, *v2_token, *v2_pkiz, *expired_token, *revoked_token, *rl_pem, *rl_json;
static size_t v2_pkiz_len, rl_pem_len, rl_json_len;
static const kst_verifier *verifier;
static kst_signer *signer;

/* SHA-256 of ssl_cert.pem's DER: the x509 bind of a token bound to that certificate. */
#define SSL_CERT_SHA256 "01f51e5393b36aed8e59e78f64cfdacac62514941120369ed4fe0d3c21432970"

static char *pem_file_token(const char *relative) {
  char *pem = read_vector(relative, NULL);
  char *token = pem_to_token(pem);
  free(pem);
  return token;
}

/* A v3 project-scoped body as keystone writes it: `extra` is JSON members added to the token
 * object (a bind section), `expires` its expiry. */
static char *v3_body(const char *user, const char *roles, const char *expires, const char *extra) {
  static const char fmt[] =
      "{\"token\": {\"methods\": [\"password\"], \"roles\": [%s], \"expires_at\": \"%s\", "
      "\"project\": {\"domain\": {\"id\": \"default\", \"name\": \"Default\"}, \"id\": "
      "\"p-%s\", \"name\": \"proj-%s\"}, \"is_domain\": false, \"user\": {\"domain\": {\"id\": "
      "\"default\", \"name\": \"Default\"}, \"id\": \"u-%s\", \"name\": \"%s\", "
      "\"password_expires_at\": null}, \"audit_ids\": [\"audit-%s\"], \"issued_at\": "
      "\"2029-12-31T23:00:00.000000Z\"%s%s}}";
  size_t n = strlen(fmt) + 8 * strlen(user) + strlen(roles) + strlen(expires) +
             (extra ? strlen(extra) : 0) + 16;
  char *out = malloc(n);
  snprintf(out, n, fmt, roles, expires, user, user, user, user, user, extra ? ", " : "",
           extra ? extra : "");
  return out;
}

static char *sign(const char *body, int pkiz) {
  uint8_t *token = NULL;
  size_t len = 0;
  kst_result rc = pkiz ? kst_signer_sign_pkiz(signer, U8(body), strlen(body), &token, &len, NULL)
                       : kst_signer_sign_pki(signer, U8(body), strlen(body), &token, &len, NULL);
  CHECK(rc == KST_OK);
  char *out = malloc(len + 1);
  memcpy(out, token, len + 1);
  kst_bytes_free(token);
  return out;
}

static const kst_auth_config *build(kst_auth_config_builder *b) {
  const kst_auth_config *config = NULL;
  CHECK_CODE(KST_OK, kst_auth_config_builder_build(b, &config, &e));
  kst_auth_config_builder_free(b);
  return config;
}

static kst_auth_config_builder *builder(void) {
  kst_auth_config_builder *b = NULL;
  CHECK_CODE(KST_OK, kst_auth_config_builder_new(&b, &e));
  return b;
}

/* An authenticator of `b`'s options, with the example certificates unless `bare`. */
static const kst_authenticator *authenticator(kst_auth_config_builder *b, int bare) {
  const kst_auth_config *config = build(b);
  const kst_authenticator *a = NULL;
  CHECK_CODE(KST_OK, kst_authenticator_new(config, &a, &e));
  kst_auth_config_free(config);
  if (!bare) CHECK_CODE(KST_OK, kst_authenticator_set_verifier(a, verifier, &e));
  return a;
}

static kst_outcome *decide_with(const kst_authenticator *a, const char *user, const char *service,
                                const kst_auth_context *ctx, int64_t now,
                                const kst_shared_values *shared) {
  kst_outcome *o = NULL;
  CHECK_CODE(KST_OK, kst_authenticate(a, U8(user), user ? strlen(user) : 0, U8(service),
                                      service ? strlen(service) : 0, ctx, now, shared, &o, &e));
  CHECK(o != NULL);
  return o;
}

static kst_outcome *decide(const kst_authenticator *a, const char *user, const char *service,
                           const kst_auth_context *ctx) {
  return decide_with(a, user, service, ctx, NOW_US, NULL);
}

/* The value the outcome sets for `name` last: 1 and *value (NUL-terminated copy in `buf`) when set
 * to a string, 0 when set to None, -1 when not set at all. */
static int header(const kst_outcome *o, const char *name, char *buf, size_t size) {
  int found = -1;
  size_t n = kst_outcome_header_count(o);
  for (size_t i = 0; i < n; i++) {
    const char *h = NULL, *key = NULL, *value = NULL;
    size_t len = 0;
    CHECK(kst_outcome_header(o, i, &h, &key, &value, &len));
    /* Each header's row names it in the identity-header table. */
    ptrdiff_t row = kst_outcome_header_row(o, i);
    CHECK(row >= 0 && (size_t)row < kst_identity_header_count());
    CHECK(kst_identity_header_name((size_t)row) == h && kst_identity_header_environ_key((size_t)row) == key);
    CHECK(kst_identity_header_find(U8(h), strlen(h)) == row);
    if (strcmp(h, name) != 0) continue;
    if (value == NULL) {
      found = 0;
      continue;
    }
    found = 1;
    if (buf) {
      size_t m = len < size - 1 ? len : size - 1;
      memcpy(buf, value, m);
      buf[m] = '\0';
    }
  }
  return found;
}

static int header_is(const kst_outcome *o, const char *name, const char *expected) {
  char buf[4096];
  return header(o, name, buf, sizeof buf) == 1 && strcmp(buf, expected) == 0;
}

static int refused_for(const kst_outcome *o, kst_token_kind kind, const char *step) {
  const char *r = kst_outcome_refusal(o, kind);
  const char *why = kst_outcome_reason(o, kind);
  return kst_outcome_token_status(o, kind) == KST_TOKEN_INVALID && r && strcmp(r, step) == 0 &&
         why && strlen(why) > 0;
}

static void test_identity_headers(void) {
  CHECK(kst_identity_header_count() == 32);
  int seen_roles = 0;
  for (size_t i = 0; i < kst_identity_header_count(); i++) {
    const char *name = kst_identity_header_name(i);
    const char *key = kst_identity_header_environ_key(i);
    CHECK(name && key && strncmp(key, "HTTP_", 5) == 0);
    /* Every spelling finds the header: as is, lower case, upper case, `_` for `-`. */
    char spelled[64];
    size_t n = strlen(name);
    CHECK(kst_identity_header_find(U8(name), n) == (ptrdiff_t)i);
    for (size_t k = 0; k <= n; k++) spelled[k] = (char)(name[k] == '-' ? '_' : name[k]);
    CHECK(kst_identity_header_find(U8(spelled), n) == (ptrdiff_t)i);
    for (size_t k = 0; k < n; k++) spelled[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
    CHECK(kst_identity_header_find(U8(spelled), n) == (ptrdiff_t)i);
    if (strcmp(name, "X-Roles") == 0) {
      CHECK(strcmp(key, "HTTP_X_ROLES") == 0);
      seen_roles = 1;
    }
  }
  CHECK(seen_roles);
  CHECK(kst_identity_header_name(32) == NULL);
  CHECK(kst_identity_header_environ_key(SIZE_MAX) == NULL);
  CHECK(kst_identity_header_find(U8("X_ROLES"), 7) >= 0);
  CHECK(kst_identity_header_find(U8("x-service-project-domain-name"), 29) >= 0);
  CHECK(kst_identity_header_find(U8("openstack_system_scope"), 22) >= 0);
  /* Not identity headers: the tokens, near misses, NULL. */
  CHECK(kst_identity_header_find(U8("X-Auth-Token"), 12) == -1);
  CHECK(kst_identity_header_find(U8("X-Service-Token"), 15) == -1);
  CHECK(kst_identity_header_find(U8("X-Roles "), 8) == -1);
  CHECK(kst_identity_header_find(U8("X-Roles"), 5) == -1);
  CHECK(kst_identity_header_find(U8("X.Roles"), 7) == -1);
  CHECK(kst_identity_header_find(NULL, 7) == -1);
  CHECK(kst_identity_header_find(U8("X-Roles"), SIZE_MAX) == -1);
}

static void test_config_builder(void) {
  kst_auth_config_builder *b = builder();
  /* Bad values leave the builder as it was, each with its code. */
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_hash_algorithms(b, "md5,md6", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_hash_algorithms(b, "", &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_hash_algorithms(b, "sha256, md5", &e));
  /* enforce_token_bind as kstoken.middleware takes it: a value that would refuse every token is
   * refused here. */
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_bind_mode(b, "Strict", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_bind_mode(b, "", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_bind_mode(b, "acme", &e));
  const char *modes[] = {"disabled", "permissive", "strict", "required", "kerberos", "x509"};
  for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
    CHECK_CODE(KST_OK, kst_auth_config_builder_set_bind_mode(b, modes[i], &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_detection(b, "loose", &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_detection(b, "lenient", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_revocation(b, 3, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_revocation(b, KST_REVOCATION_ENFORCE_CACHED, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_shared_cache(b, 4, NULL, 0, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_MAC, NULL, 0, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_ENCRYPT, U8("x"), 0, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_auth_config_builder_set_shared_cache(
                                     b, KST_SHARED_CACHE_MAC, U8("x"), SIZE_MAX, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_MAC, U8("k"), 1, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_PLAIN, NULL, 0, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_token_cache(b, 300, 0, 1, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_token_cache(b, 300, 1, 0, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_auth_config_builder_set_token_cache(b, INT64_MAX, 1, 1, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_token_cache(b, -1, 0, 0, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_token_cache(b, 0, 10, 1 << 20, &e));
  const char *roles[] = {"service", "admin"};
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles(b, roles, 2, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles(b, NULL, 0, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_set_service_token_roles(b, NULL, 1, &e));
  const char *with_null[] = {"service", NULL};
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_set_service_token_roles(b, with_null, 2, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_auth_config_builder_set_service_token_roles(b, roles, 5000, &e));
  const char *not_utf8[] = {"\xff"};
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_auth_config_builder_set_service_token_roles(b, not_utf8, 1, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_delay_auth_decision(b, true, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_include_service_catalog(b, false, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles_required(b, true, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_delegate_non_pki(b, true, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_limits(b, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_set_delay_auth_decision(NULL, true, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_set_bind_mode(b, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_new(NULL, &e));
  const kst_auth_config *config = NULL;
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_build(NULL, &config, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_auth_config_builder_build(b, NULL, &e));
  config = build(b);
  const kst_auth_config *again = kst_auth_config_clone(config);
  CHECK(again == config);
  kst_auth_config_free(again);
  const kst_authenticator *a = NULL;
  CHECK_CODE(KST_OK, kst_authenticator_new(config, &a, &e));
  kst_auth_config_free(config);
  /* The authenticator keeps its own copy of the options. */
  kst_outcome *o = decide(a, "not-a-token", NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_DELEGATE);
  CHECK(kst_outcome_header_count(o) == 0);
  kst_outcome_free(o);
  kst_authenticator_free(a);
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_new(NULL, &a, &e));
  CHECK(a == NULL);
  kst_auth_config_builder_free(NULL);
  kst_auth_config_free(NULL);
  CHECK(kst_auth_config_clone(NULL) == NULL);
}

static void test_without_certificates(void) {
  const kst_authenticator *a = authenticator(builder(), 1);
  kst_outcome *o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_UNAVAILABLE);
  CHECK(refused_for(o, KST_TOKEN_USER, "no_certificates"));
  CHECK(kst_outcome_wants(o) & KST_WANTS_CERTIFICATES);
  kst_outcome_free(o);
  /* Loaded: the same token passes; removed: unavailable again. */
  const kst_verifier *none = NULL;
  CHECK_CODE(KST_OK, kst_authenticator_verifier(a, &none, &e));
  CHECK(none == NULL);
  CHECK_CODE(KST_OK, kst_authenticator_set_verifier(a, verifier, &e));
  const kst_verifier *current = NULL;
  CHECK_CODE(KST_OK, kst_authenticator_verifier(a, &current, &e));
  CHECK(current != NULL);
  kst_verifier_free(current);
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  CHECK_CODE(KST_OK, kst_authenticator_set_verifier(a, NULL, &e));
  o = decide(a, v3_token, NULL, NULL);
  /* A cached token needs no certificates: it was validated with them. */
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_CACHE);
  kst_outcome_free(o);
  o = decide(a, v2_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_UNAVAILABLE);
  kst_outcome_free(o);
  kst_authenticator_free(a);

  /* With delay_auth_decision the request passes on as Invalid. */
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_delay_auth_decision(b, true, &e));
  a = authenticator(b, 1);
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(header_is(o, "X-Identity-Status", "Invalid"));
  CHECK(header(o, "X-User-Name", NULL, 0) == -1);
  kst_outcome_free(o);
  kst_authenticator_free(a);
}

static void test_valid_tokens(void) {
  const kst_authenticator *a = authenticator(builder(), 0);
  kst_outcome *o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_VALID);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_SERVICE) == KST_TOKEN_ABSENT);
  CHECK(kst_outcome_refusal(o, KST_TOKEN_USER) == NULL);
  CHECK(kst_outcome_reason(o, KST_TOKEN_USER) == NULL);
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED);
  CHECK(kst_outcome_wants(o) == 0);
  CHECK(kst_outcome_service_role_check(o) == -1);
  /* keystonemiddleware's headers for the example v3 token (docs/middleware.md). */
  CHECK(header_is(o, "X-Identity-Status", "Confirmed"));
  CHECK(header(o, "X-Service-Identity-Status", NULL, 0) == -1);
  CHECK(header_is(o, "X-Roles", "role1,role2"));
  CHECK(header_is(o, "X-Role", "role1,role2"));
  CHECK(header_is(o, "X-User-Id", "user_id1"));
  CHECK(header_is(o, "X-User-Name", "user_name1"));
  CHECK(header_is(o, "X-User", "user_name1"));
  CHECK(header_is(o, "X-User-Domain-Id", "domain_id1"));
  CHECK(header_is(o, "X-Project-Id", "tenant_id1"));
  CHECK(header_is(o, "X-Tenant-Id", "tenant_id1"));
  CHECK(header_is(o, "X-Project-Name", "tenant_name1"));
  CHECK(header_is(o, "X-Project-Domain-Name", "domain_name1"));
  CHECK(header_is(o, "X-Is-Admin-Project", "True"));
  /* None in the environ: set to no value. */
  CHECK(header(o, "X-Domain-Id", NULL, 0) == 0);
  CHECK(header(o, "OpenStack-System-Scope", NULL, 0) == 0);
  char catalog[8192];
  CHECK(header(o, "X-Service-Catalog", catalog, sizeof catalog) == 1 && catalog[0] == '[');
  /* The body, byte for byte as signed (what kst_verifier_verify gives). */
  size_t len = 0, json_len = 0;
  uint8_t *json = NULL;
  CHECK_CODE(KST_OK, kst_verifier_verify_at(verifier, U8(v3_token), strlen(v3_token), NOW_S, &json,
                                            &json_len, &e));
  const uint8_t *info = kst_outcome_token_info(o, KST_TOKEN_USER, &len);
  CHECK(info != NULL && len == json_len && memcmp(info, json, len) == 0);
  kst_bytes_free(json);
  CHECK(kst_outcome_token_info(o, KST_TOKEN_SERVICE, &len) == NULL && len == 0);
  CHECK(kst_outcome_token_info(o, 7, NULL) == NULL);
  /* Out of range and NULL outputs. */
  const char *name = "x", *key = "x", *value = "x";
  size_t vlen = 9;
  CHECK(!kst_outcome_header(o, kst_outcome_header_count(o), &name, &key, &value, &vlen));
  CHECK(name == NULL && key == NULL && value == NULL && vlen == 0);
  CHECK(kst_outcome_header_row(o, kst_outcome_header_count(o)) == -1);
  CHECK(kst_outcome_header(o, 0, NULL, NULL, NULL, NULL));
  CHECK(kst_outcome_shared_key_count(o) == 0 && kst_outcome_shared_key(o, 0) == NULL);
  CHECK(kst_outcome_shared_store_count(o) == 0);
  CHECK(!kst_outcome_shared_store(o, 0, NULL, NULL, NULL, NULL));
  kst_outcome_free(o);
  /* The second time from the cache, with the same headers. */
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_CACHE);
  CHECK(header_is(o, "X-User-Name", "user_name1"));
  kst_outcome_free(o);
  size_t entries = 0, bytes = 0;
  CHECK_CODE(KST_OK, kst_authenticator_cache_usage(a, &entries, &bytes, &e));
  CHECK(entries == 1 && bytes > json_len);
  CHECK_CODE(KST_OK, kst_authenticator_clear_cache(a, &e));
  CHECK_CODE(KST_OK, kst_authenticator_cache_usage(a, &entries, NULL, &e));
  CHECK(entries == 0);
  /* v2, PKIZ, and surrounding whitespace. */
  o = decide(a, v2_pkiz, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(header_is(o, "X-User-Name", "user_name1"));
  CHECK(header(o, "X-User-Domain-Id", NULL, 0) == 0);
  kst_outcome_free(o);
  size_t n = strlen(v2_token);
  char *padded = malloc(n + 4);
  snprintf(padded, n + 4, " %s\r\n", v2_token);
  o = decide(a, padded, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  free(padded);
  /* No catalog when it is not included. */
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_include_service_catalog(b, false, &e));
  const kst_authenticator *bare = authenticator(b, 0);
  o = decide(bare, v3_token, NULL, NULL);
  CHECK(header(o, "X-Service-Catalog", NULL, 0) == -1);
  kst_outcome_free(o);
  kst_authenticator_free(bare);
  kst_authenticator_free(a);
}

static void test_refused_tokens(void) {
  const kst_authenticator *a = authenticator(builder(), 0);
  /* No token: 401, with X-Identity-Status: Invalid for a delayed decision. */
  kst_outcome *o = decide(a, NULL, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_ABSENT);
  CHECK(header_is(o, "X-Identity-Status", "Invalid"));
  kst_outcome_free(o);
  o = decide_with(a, "", NULL, NULL, NOW_US, NULL);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_ABSENT);
  kst_outcome_free(o);
  o = decide(a, "not-a-token", NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_USER, "detect"));
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_NONE);
  kst_outcome_free(o);
  o = decide(a, "MIIbroken", NULL, NULL);
  CHECK(refused_for(o, KST_TOKEN_USER, "signature"));
  kst_outcome_free(o);
  /* Tampered: one character of the signed content changed. */
  char *tampered = strdup(v3_token);
  size_t mid = strlen(tampered) / 2;
  tampered[mid] = tampered[mid] == 'A' ? 'B' : 'A';
  o = decide(a, tampered, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_INVALID);
  kst_outcome_free(o);
  free(tampered);
  /* Expired (the example expires in 2038): at a clock after it. */
  o = decide(a, expired_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_USER, "expiry"));
  /* The body is there although the token is refused (keystone.token_auth). */
  CHECK(kst_outcome_token_info(o, KST_TOKEN_USER, NULL) != NULL);
  CHECK(header(o, "X-User-Name", NULL, 0) == -1);
  kst_outcome_free(o);
  o = decide_with(a, v3_token, NULL, NULL, INT64_C(2147483648) * SECOND, NULL);
  CHECK(refused_for(o, KST_TOKEN_USER, "expiry"));
  kst_outcome_free(o);
  /* Signed under another CA (keystoneclient 5.5.0's examples). */
  char *old = pem_file_token(KC5 "cms/auth_token_scoped.pem");
  o = decide(a, old, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(kst_outcome_wants(o) & KST_WANTS_NEW_CERTIFICATES);
  kst_outcome_free(o);
  free(old);
  /* A token longer than max_token_len is refused, not an error. */
  kst_limits limits;
  CHECK_CODE(KST_OK, kst_limits_default(&limits, &e));
  limits.max_token_len = 64;
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_limits(b, &limits, &e));
  const kst_authenticator *small = authenticator(b, 0);
  o = decide(small, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_USER, "signature"));
  kst_outcome_free(o);
  /* ... while a client certificate over max_credential_len is an error of the call. */
  limits.max_credential_len = 16;
  b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_limits(b, &limits, &e));
  kst_authenticator_free(small);
  small = authenticator(b, 0);
  kst_auth_context ctx = {NULL, NULL, U8(ssl_cert), ssl_cert_len};
  o = (kst_outcome *)1;
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_authenticate(small, U8(v3_token), strlen(v3_token), NULL, 0,
                                                  &ctx, NOW_US, NULL, &o, &e));
  CHECK(o == NULL);
  kst_authenticator_free(small);
  kst_authenticator_free(a);
}

static void test_binds(void) {
  char extra[256];
  snprintf(extra, sizeof extra, "\"bind\": {\"kerberos\": \"alice@KSTOKEN.TEST\"}");
  char *body = v3_body("alice", "{\"id\": \"r1\", \"name\": \"member\"}", "2035-01-01T00:00:00.000000Z", extra);
  char *kerberos = sign(body, 0);
  free(body);
  snprintf(extra, sizeof extra, "\"bind\": {\"x509\": {\"sha256\": \"%s\"}}", SSL_CERT_SHA256);
  body = v3_body("carol", "{\"id\": \"r1\", \"name\": \"member\"}", "2035-01-01T00:00:00.000000Z", extra);
  char *x509 = sign(body, 1);
  free(body);
  body = v3_body("dave", "{\"id\": \"r1\", \"name\": \"member\"}", "2035-01-01T00:00:00.000000Z", NULL);
  char *unbound = sign(body, 0);
  free(body);

  kst_auth_context alice = {"Negotiate", "alice@KSTOKEN.TEST", NULL, 0};
  kst_auth_context gssapi_alice = {"negotiate", "alice@KSTOKEN.TEST", NULL, 0};
  kst_auth_context bob = {"Negotiate", "bob@KSTOKEN.TEST", NULL, 0};
  kst_auth_context basic_alice = {"Basic", "alice@KSTOKEN.TEST", NULL, 0};
  kst_auth_context cert = {NULL, NULL, U8(ssl_cert), ssl_cert_len};
  kst_auth_context other_cert = {NULL, NULL, U8(signing_cert), signing_cert_len};
  const char *modes[] = {"disabled", "permissive", "strict", "required", "kerberos", "x509"};
  for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
    const char *mode = modes[m];
    kst_auth_config_builder *b = builder();
    CHECK_CODE(KST_OK, kst_auth_config_builder_set_bind_mode(b, mode, &e));
    const kst_authenticator *a = authenticator(b, 0);
    int disabled = strcmp(mode, "disabled") == 0;
    /* Kerberos-bound: its principal after Negotiate; not another, not Basic, not a certificate. */
    struct {
      const char *token;
      const kst_auth_context *ctx;
      int accepted;
    } cases[] = {
        {kerberos, &alice, disabled || strcmp(mode, "x509") != 0},
        {kerberos, &gssapi_alice, disabled || strcmp(mode, "x509") != 0},
        {kerberos, &bob, disabled},
        {kerberos, &basic_alice, disabled},
        {kerberos, &cert, disabled},
        {kerberos, NULL, disabled},
        {x509, &cert, disabled || strcmp(mode, "kerberos") != 0},
        {x509, &other_cert, disabled},
        {x509, &alice, disabled},
        {x509, NULL, disabled},
        /* Unbound: refused only where a bind is required. */
        {unbound, &alice, strcmp(mode, "required") != 0 && strcmp(mode, "kerberos") != 0 &&
                              strcmp(mode, "x509") != 0},
        {unbound, NULL, strcmp(mode, "required") != 0 && strcmp(mode, "kerberos") != 0 &&
                            strcmp(mode, "x509") != 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      /* Twice: validated, then from the cache (bind is checked per request). */
      for (int round = 0; round < 2; round++) {
        kst_outcome *o = decide(a, cases[i].token, NULL, cases[i].ctx);
        int ok = kst_outcome_decision(o) == KST_DECISION_PASS;
        if (ok != cases[i].accepted)
          fprintf(stderr, "bind mode %s case %zu round %d: %s\n", mode, i, round,
                  ok ? "accepted" : kst_outcome_reason(o, KST_TOKEN_USER));
        CHECK(ok == cases[i].accepted);
        if (!ok) CHECK(refused_for(o, KST_TOKEN_USER, "bind"));
        kst_outcome_free(o);
      }
    }
    kst_authenticator_free(a);
  }
  /* A client certificate that is not one is no match (and no error). */
  const kst_authenticator *a = authenticator(builder(), 0);
  kst_auth_context junk = {NULL, NULL, U8("junk"), 4};
  kst_outcome *o = decide(a, x509, NULL, &junk);
  CHECK(refused_for(o, KST_TOKEN_USER, "bind"));
  kst_outcome_free(o);
  /* Strings that are not UTF-8 are an error of the call. */
  kst_auth_context bad = {"Negotiate", "\xff", NULL, 0};
  o = (kst_outcome *)1;
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_authenticate(a, U8(kerberos), strlen(kerberos), NULL, 0,
                                                    &bad, NOW_US, NULL, &o, &e));
  CHECK(o == NULL);
  kst_authenticator_free(a);
  free(kerberos);
  free(x509);
  free(unbound);
}

static void test_service_tokens(void) {
  char *body = v3_body("nova", "{\"id\": \"r1\", \"name\": \"service\"}, {\"id\": \"r2\", \"name\": \"admin\"}",
                       "2035-01-01T00:00:00.000000Z", "\"bind\": {\"kerberos\": \"nova@KSTOKEN.TEST\"}");
  char *service = sign(body, 0);
  free(body);
  body = v3_body("glance", "{\"id\": \"r3\", \"name\": \"member\"}", "2035-01-01T00:00:00.000000Z", NULL);
  char *not_service = sign(body, 0);
  free(body);
  body = v3_body("erin", "{\"id\": \"r3\", \"name\": \"member\"}", "2029-12-31T23:59:59.999999Z", NULL);
  char *expired_user = sign(body, 0);
  free(body);
  kst_auth_context nova = {"Negotiate", "nova@KSTOKEN.TEST", NULL, 0};

  const kst_authenticator *a = authenticator(builder(), 0);
  /* A valid service token with a service role lets an expired user token through; the bind is
   * checked on the service token. */
  kst_outcome *o = decide(a, expired_user, service, &nova);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(kst_outcome_service_role_check(o) == 1);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_SERVICE) == KST_TOKEN_VALID);
  CHECK(header_is(o, "X-Service-Identity-Status", "Confirmed"));
  CHECK(header_is(o, "X-Identity-Status", "Confirmed"));
  CHECK(header_is(o, "X-User-Name", "erin"));
  CHECK(header_is(o, "X-Service-User-Name", "nova"));
  CHECK(header_is(o, "X-Service-Roles", "service,admin"));
  CHECK(header_is(o, "X-Service-Project-Name", "proj-nova"));
  CHECK(kst_outcome_token_info(o, KST_TOKEN_SERVICE, NULL) != NULL);
  kst_outcome_free(o);
  /* ... not with another principal (the service token's bind). */
  o = decide(a, expired_user, service, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_SERVICE, "bind"));
  CHECK(header_is(o, "X-Service-Identity-Status", "Invalid"));
  kst_outcome_free(o);
  /* A service token without a service role does not let it through; not required, it is valid. */
  o = decide(a, expired_user, not_service, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(kst_outcome_service_role_check(o) == 0);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_SERVICE) == KST_TOKEN_VALID);
  CHECK(refused_for(o, KST_TOKEN_USER, "expiry"));
  kst_outcome_free(o);
  o = decide(a, v3_token, not_service, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  /* An invalid service token refuses the request. */
  o = decide(a, v3_token, "garbage", NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_SERVICE, "detect"));
  CHECK(header_is(o, "X-Identity-Status", "Confirmed"));
  kst_outcome_free(o);
  kst_authenticator_free(a);
  /* Required, and with other role names. */
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles_required(b, true, &e));
  a = authenticator(b, 0);
  o = decide(a, v3_token, not_service, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_SERVICE, "service_roles"));
  kst_outcome_free(o);
  kst_authenticator_free(a);
  b = builder();
  const char *roles[] = {"member"};
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles(b, roles, 1, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_service_token_roles_required(b, true, &e));
  a = authenticator(b, 0);
  o = decide(a, expired_user, not_service, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  o = decide(a, v3_token, service, &nova);
  CHECK(refused_for(o, KST_TOKEN_SERVICE, "service_roles"));
  kst_outcome_free(o);
  kst_authenticator_free(a);
  free(service);
  free(not_service);
  free(expired_user);
}

static void test_revocation(void) {
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_revocation(b, KST_REVOCATION_ENFORCE, &e));
  const kst_authenticator *a = authenticator(b, 0);
  /* No list: unavailable, asking for one. */
  kst_outcome *o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_UNAVAILABLE);
  CHECK(refused_for(o, KST_TOKEN_USER, "no_revocation_list"));
  CHECK(kst_outcome_wants(o) == KST_WANTS_REVOCATION_LIST);
  kst_outcome_free(o);
  const kst_revocation_list *list = NULL, *got = NULL;
  int64_t until = 1;
  CHECK_CODE(KST_OK, kst_authenticator_revocation_list(a, &got, &until, &e));
  CHECK(got == NULL && until == 0);
  CHECK_CODE(KST_OK, kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, verifier, NOW_S,
                                                        &list, &e));
  CHECK_CODE(KST_OK, kst_authenticator_set_revocation_list(a, list, NOW_US + 60 * SECOND, &e));
  kst_revocation_list_free(list);
  CHECK_CODE(KST_OK, kst_authenticator_revocation_list(a, &got, &until, &e));
  CHECK(got != NULL && until == NOW_US + 60 * SECOND);
  size_t n = 0;
  CHECK_CODE(KST_OK, kst_revocation_list_len(got, &n, &e));
  CHECK(n == 4);
  kst_revocation_list_free(got);
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  o = decide(a, revoked_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
  CHECK(refused_for(o, KST_TOKEN_USER, "revoked_by_hash"));
  kst_outcome_free(o);
  /* Past its deadline: a new token is unavailable; a cached one is not checked (not _CACHED). */
  o = decide_with(a, v2_token, NULL, NULL, NOW_US + 61 * SECOND, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_UNAVAILABLE);
  kst_outcome_free(o);
  o = decide_with(a, v3_token, NULL, NULL, NOW_US + 61 * SECOND, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  /* A list revoking the cached token by audit id, installed while it is cached: _CACHED checks. */
  kst_authenticator_free(a);
  b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_revocation(b, KST_REVOCATION_ENFORCE_CACHED, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_delay_auth_decision(b, true, &e));
  a = authenticator(b, 0);
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8("{\"revoked\": []}"), 15, NULL, &list, &e));
  CHECK_CODE(KST_OK, kst_authenticator_set_revocation_list(a, list, NOW_US + 60 * SECOND, &e));
  o = decide(a, v3_token, NULL, NULL);
  CHECK(header_is(o, "X-Identity-Status", "Confirmed"));
  kst_outcome_free(o);
  static const char by_audit[] =
      "{\"revoked\": [{\"audit_id\": \"VcxU2JYqT8OzfUVvrjEITQ\", \"expires\": "
      "\"2038-01-18T21:14:07Z\"}]}";
  const kst_revocation_list *revoking = NULL, *merged = NULL;
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(by_audit), strlen(by_audit), NULL, &revoking, &e));
  /* merge: an empty newer list keeps the older revocation until its token expires. */
  size_t carried = 9;
  CHECK_CODE(KST_OK, kst_revocation_list_merge(list, revoking, NOW_S, &merged, &carried, &e));
  CHECK(carried == 1);
  CHECK_CODE(KST_OK, kst_revocation_list_len(merged, &n, &e));
  CHECK(n == 1);
  const kst_revocation_list *after = NULL;
  CHECK_CODE(KST_OK, kst_revocation_list_merge(list, revoking, INT64_C(2200000000), &after, NULL, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_len(after, &n, &e));
  CHECK(n == 0);
  kst_revocation_list_free(after);
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_merge(list, NULL, NOW_S, &after, &carried, &e));
  CHECK(after == NULL && carried == 0);
  CHECK_CODE(KST_OK, kst_authenticator_set_revocation_list(a, merged, NOW_US + 60 * SECOND, &e));
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_CACHE);
  CHECK(refused_for(o, KST_TOKEN_USER, "revoked_by_audit_id"));
  CHECK(header_is(o, "X-Identity-Status", "Invalid"));
  /* Delayed: passed on as Invalid. */
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  /* Past the deadline with a delayed decision: passed on as Invalid, not a 503. */
  o = decide_with(a, v2_token, NULL, NULL, NOW_US + 61 * SECOND, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(refused_for(o, KST_TOKEN_USER, "no_revocation_list"));
  kst_outcome_free(o);
  CHECK_CODE(KST_OK, kst_authenticator_set_revocation_list(a, NULL, 0, &e));
  CHECK_CODE(KST_OK, kst_authenticator_revocation_list(a, &got, NULL, &e));
  CHECK(got == NULL);
  kst_revocation_list_free(merged);
  kst_revocation_list_free(revoking);
  kst_revocation_list_free(list);
  kst_authenticator_free(a);
}

/* One shared-cache round: a cold authenticator asks for keys, is given `values`, decides. */
static kst_outcome *shared_round(const kst_authenticator *a, const char *token, const char *key,
                                 const uint8_t *value, size_t value_len) {
  kst_outcome *o = decide(a, token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_NEED_SHARED);
  CHECK(kst_outcome_header_count(o) == 0);
  CHECK(kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_ABSENT);
  CHECK(kst_outcome_shared_key_count(o) == 1);
  CHECK(key == NULL || strcmp(kst_outcome_shared_key(o, 0), key) == 0);
  kst_shared_value found = {kst_outcome_shared_key(o, 0), value, value_len};
  kst_shared_values shared = {&found, value ? 1 : 0};
  kst_outcome *decided = decide_with(a, token, NULL, NULL, NOW_US, &shared);
  kst_outcome_free(o);
  return decided;
}

static void test_shared_cache(void) {
  const struct {
    uint32_t format;
    const char *prefix;
  } formats[] = {{KST_SHARED_CACHE_PLAIN, "tokens/"},
                 {KST_SHARED_CACHE_MAC, "tokens/b'"},
                 {KST_SHARED_CACHE_ENCRYPT, "tokens/b'"}};
  for (size_t f = 0; f < 3; f++) {
    kst_auth_config_builder *b = builder();
    CHECK_CODE(KST_OK, kst_auth_config_builder_set_shared_cache(b, formats[f].format, U8("sekrit"), 6, &e));
    CHECK_CODE(KST_OK, kst_auth_config_builder_set_token_cache(b, 120, 100, 1 << 20, &e));
    const kst_auth_config *config = build(b);
    const kst_authenticator *writer = NULL, *reader = NULL;
    CHECK_CODE(KST_OK, kst_authenticator_new(config, &writer, &e));
    CHECK_CODE(KST_OK, kst_authenticator_new(config, &reader, &e));
    kst_auth_config_free(config);
    CHECK_CODE(KST_OK, kst_authenticator_set_verifier(writer, verifier, &e));
    CHECK_CODE(KST_OK, kst_authenticator_set_verifier(reader, verifier, &e));
    /* The writer finds nothing, validates, and lists the entry to store. */
    kst_outcome *o = shared_round(writer, v3_token, NULL, NULL, 0);
    CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED);
    CHECK(kst_outcome_shared_store_count(o) == 1);
    const char *key = NULL;
    const uint8_t *value = NULL;
    size_t value_len = 0;
    int64_t ttl = -1;
    CHECK(kst_outcome_shared_store(o, 0, &key, &value, &value_len, &ttl));
    CHECK(key && strncmp(key, formats[f].prefix, strlen(formats[f].prefix)) == 0);
    CHECK(f != 0 || strlen(key) == 7 + 64);
    CHECK(ttl == 120);
    /* Plain is the JSON itself; MAC keeps it readable (base64); ENCRYPT does not. */
    CHECK(f != 0 || (value_len > 0 && value[0] == '{'));
    char *stored_key = strdup(key);
    uint8_t *stored = malloc(value_len);
    memcpy(stored, value, value_len);
    kst_outcome_free(o);
    /* The writer's next request is a process-cache hit: nothing to fetch. */
    o = decide(writer, v3_token, NULL, NULL);
    CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_CACHE);
    kst_outcome_free(o);
    /* The reader asks for the same key and takes the value: a shared-cache hit. */
    o = shared_round(reader, v3_token, stored_key, stored, value_len);
    CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_SHARED_CACHE);
    CHECK(kst_outcome_shared_store_count(o) == 0);
    CHECK(header_is(o, "X-User-Name", "user_name1"));
    kst_outcome_free(o);
    CHECK_CODE(KST_OK, kst_authenticator_clear_cache(reader, &e));
    /* A value that does not check out is a miss: validated, and stored anew. */
    stored[value_len - 2] ^= 1;
    o = shared_round(reader, v3_token, stored_key, stored, value_len);
    CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED);
    CHECK(kst_outcome_shared_store_count(o) == 1);
    kst_outcome_free(o);
    /* A refused token is stored as refused, and read back as refused. */
    CHECK_CODE(KST_OK, kst_authenticator_clear_cache(writer, &e));
    CHECK_CODE(KST_OK, kst_authenticator_clear_cache(reader, &e));
    o = shared_round(writer, expired_token, NULL, NULL, 0);
    CHECK(refused_for(o, KST_TOKEN_USER, "expiry"));
    kst_outcome_free(o);
    o = shared_round(writer, "MIIbroken", NULL, NULL, 0);
    CHECK(kst_outcome_shared_store_count(o) == 1);
    CHECK(kst_outcome_shared_store(o, 0, &key, &value, &value_len, NULL));
    char *invalid_key = strdup(key);
    uint8_t *invalid = malloc(value_len);
    size_t invalid_len = value_len;
    memcpy(invalid, value, value_len);
    CHECK(f != 0 || (value_len == 9 && memcmp(value, "\"invalid\"", 9) == 0));
    kst_outcome_free(o);
    o = shared_round(reader, "MIIbroken", invalid_key, invalid, invalid_len);
    CHECK(kst_outcome_decision(o) == KST_DECISION_REJECT);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_SHARED_CACHE);
    kst_outcome_free(o);
    /* Values too long to be token data are ignored unread; a NULL value is not found. */
    kst_outcome *first = decide(reader, v2_token, NULL, NULL);
    kst_shared_value huge = {kst_outcome_shared_key(first, 0), stored, SIZE_MAX};
    kst_shared_values shared = {&huge, 1};
    o = decide_with(reader, v2_token, NULL, NULL, NOW_US, &shared);
    CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED);
    kst_outcome_free(o);
    kst_outcome_free(first);
    kst_shared_value no_key = {NULL, stored, 1};
    shared.values = &no_key;
    o = (kst_outcome *)1;
    CHECK_CODE(KST_NULL_PARAMETER, kst_authenticate(reader, U8(v2_pkiz), v2_pkiz_len, NULL, 0, NULL,
                                                    NOW_US, &shared, &o, &e));
    CHECK(o == NULL);
    shared.values = NULL;
    CHECK_CODE(KST_NULL_PARAMETER, kst_authenticate(reader, U8(v2_pkiz), v2_pkiz_len, NULL, 0, NULL,
                                                    NOW_US, &shared, &o, &e));
    shared.count = 0;
    CHECK_CODE(KST_OK, kst_authenticate(reader, U8(v2_pkiz), v2_pkiz_len, NULL, 0, NULL, NOW_US,
                                        &shared, &o, &e));
    CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
    kst_outcome_free(o);
    free(invalid_key);
    free(invalid);
    free(stored_key);
    free(stored);
    kst_authenticator_free(writer);
    kst_authenticator_free(reader);
  }
  /* Without a process cache there is no shared cache either. */
  kst_auth_config_builder *b = builder();
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_token_cache(b, -1, 0, 0, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_PLAIN, NULL, 0, &e));
  CHECK_CODE(KST_OK, kst_auth_config_builder_set_shared_cache(b, KST_SHARED_CACHE_NONE, NULL, 0, &e));
  const kst_authenticator *a = authenticator(b, 0);
  kst_outcome *o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED);
  kst_outcome_free(o);
  size_t entries = 1;
  CHECK_CODE(KST_OK, kst_authenticator_cache_usage(a, &entries, NULL, &e));
  CHECK(entries == 0);
  kst_authenticator_free(a);
}

static void test_rotation(void) {
  const kst_verifier *rotated = NULL;
  /* The same signing certificate under the same CA: accepted. */
  CHECK_CODE(KST_OK, kst_verifier_rotate(verifier, U8(signing_cert), signing_cert_len, NOW_S,
                                         &rotated, &e));
  const kst_authenticator *a = authenticator(builder(), 1);
  CHECK_CODE(KST_OK, kst_authenticator_set_verifier(a, rotated, &e));
  kst_verifier_free(rotated);
  kst_outcome *o = decide(a, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  kst_outcome_free(o);
  kst_authenticator_free(a);
  /* A certificate of another CA, or no certificate at all: refused. */
  CHECK_CODE(KST_CERTIFICATE_CONFIG, kst_verifier_rotate(verifier, U8(old_signing_cert),
                                                         old_signing_cert_len, NOW_S, &rotated, &e));
  CHECK(rotated == NULL);
  CHECK_CODE(KST_CERTIFICATE_CONFIG, kst_verifier_rotate(verifier, U8("junk"), 4, NOW_S, &rotated, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_verifier_rotate(verifier, U8(signing_cert), signing_cert_len,
                                                       INT64_MAX, &rotated, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_verifier_rotate(verifier, U8(signing_cert), SIZE_MAX, NOW_S,
                                                     &rotated, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_verifier_rotate(NULL, U8(signing_cert), signing_cert_len,
                                                     NOW_S, &rotated, &e));
}

static void test_misuse(void) {
  const kst_authenticator *a = authenticator(builder(), 0);
  kst_outcome *o = (kst_outcome *)1;
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticate(NULL, U8(v3_token), strlen(v3_token), NULL, 0,
                                                  NULL, NOW_US, NULL, &o, &e));
  CHECK(o == NULL);
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticate(a, U8(v3_token), strlen(v3_token), NULL, 0, NULL,
                                                  NOW_US, NULL, NULL, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_authenticate(a, U8(v3_token), SIZE_MAX, NULL, 0, NULL, NOW_US,
                                                  NULL, &o, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_set_verifier(NULL, verifier, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_set_revocation_list(NULL, NULL, 0, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_verifier(a, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_revocation_list(a, NULL, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_cache_usage(NULL, NULL, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_authenticator_clear_cache(NULL, &e));
  /* Accessors of a NULL outcome give their neutral values. */
  CHECK(kst_outcome_decision(NULL) == KST_DECISION_REJECT);
  CHECK(kst_outcome_token_status(NULL, KST_TOKEN_USER) == KST_TOKEN_ABSENT);
  CHECK(kst_outcome_refusal(NULL, KST_TOKEN_USER) == NULL);
  CHECK(kst_outcome_reason(NULL, KST_TOKEN_USER) == NULL);
  CHECK(kst_outcome_source(NULL, KST_TOKEN_USER) == KST_SOURCE_NONE);
  CHECK(kst_outcome_token_info(NULL, KST_TOKEN_USER, NULL) == NULL);
  CHECK(kst_outcome_service_role_check(NULL) == -1);
  CHECK(kst_outcome_wants(NULL) == 0);
  CHECK(kst_outcome_header_count(NULL) == 0);
  CHECK(!kst_outcome_header(NULL, 0, NULL, NULL, NULL, NULL));
  CHECK(kst_outcome_header_row(NULL, 0) == -1);
  CHECK(kst_outcome_shared_key_count(NULL) == 0);
  CHECK(kst_outcome_shared_store_count(NULL) == 0);
  kst_outcome_free(NULL);
  const kst_authenticator *again = kst_authenticator_clone(a);
  CHECK(again == a);
  kst_authenticator_free(a);
  /* The clone keeps it alive. */
  o = decide(again, v3_token, NULL, NULL);
  CHECK(kst_outcome_decision(o) == KST_DECISION_PASS);
  CHECK(kst_outcome_token_status(o, 9) == KST_TOKEN_ABSENT);
  kst_outcome_free(o);
  kst_authenticator_free(again);
  kst_authenticator_free(NULL);
  CHECK(kst_authenticator_clone(NULL) == NULL);
  CHECK(kst_unix_now_us() / SECOND - kst_unix_now() <= 1);
}

int main(void) {
  signing_cert = read_vector(KC6 "certs/signing_cert.pem", &signing_cert_len);
  ca_cert = read_vector(KC6 "certs/cacert.pem", &ca_cert_len);
  ssl_cert = read_vector(KC6 "certs/ssl_cert.pem", &ssl_cert_len);
  signing_key = read_vector(KC6 "private/signing_key.pem", &signing_key_len);
  old_signing_cert = read_vector(KC5 "certs/signing_cert.pem", &old_signing_cert_len);
  v3_token = pem_file_token(KC6 "cms/auth_v3_token_scoped.pem");
  v2_token = pem_file_token(KC6 "cms/auth_token_scoped.pem");
  expired_token = pem_file_token(KC6 "cms/auth_token_scoped_expired.pem");
  /* The list names it by hash (its .pkiz was signed by the old key: the hash is checked first). */
  revoked_token = read_vector(KC6 "cms/auth_v3_token_revoked.pkiz", NULL);
  rl_pem = read_vector(KC6 "cms/revocation_list.pem", &rl_pem_len);
  rl_json = read_vector(KC6 "cms/revocation_list.json", &rl_json_len);
  CHECK(kst_verifier_new(U8(signing_cert), signing_cert_len, U8(ca_cert), ca_cert_len, &verifier,
                         NULL) == KST_OK);
  CHECK(kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key), signing_key_len,
                       "sha256", false, &signer, NULL) == KST_OK);
  /* The example v2 body as a PKIZ token (the example .pkiz files were signed by an older key). */
  char *v2_json = read_vector(KC6 "cms/auth_token_scoped.json", NULL);
  v2_pkiz = sign(v2_json, 1);
  v2_pkiz_len = strlen(v2_pkiz);
  free(v2_json);

  test_identity_headers();
  test_config_builder();
  test_without_certificates();
  test_valid_tokens();
  test_refused_tokens();
  test_binds();
  test_service_tokens();
  test_revocation();
  test_shared_cache();
  test_rotation();
  test_misuse();

  kst_signer_free(signer);
  kst_verifier_free(verifier);
  free(signing_cert);
  free(ca_cert);
  free(ssl_cert);
  free(signing_key);
  free(old_signing_cert);
  free(v3_token);
  free(v2_token);
  free(v2_pkiz);
  free(expired_token);
  free(revoked_token);
  free(rl_pem);
  free(rl_json);
  return finish();
}
