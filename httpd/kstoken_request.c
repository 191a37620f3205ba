/*
 * The per-request decision: keystonemiddleware's auth_token, as kstoken.middleware makes it, from
 * libkstoken's kst_authenticate.
 *
 * 1. Every identity header a client sent is removed, in every spelling (`X_Roles` as `X-Roles`):
 *    in post_read_request for every request of a server the module is configured in (so a spoofed
 *    header never reaches mod_proxy, mod_wsgi or CGI, whatever is decided, also where the module is
 *    off), and again before each decision (internal redirects, subrequests).
 * 2. The decision is made once per request, lazily, and memoised in the request's config: at the
 *    first of
 *      - access_checker_ex (first), in a location without AuthType: r->user cannot be set;
 *      - auth_checker (first), after httpd's authentication (mod_auth_gssapi's r->user);
 *      - an authorization provider (Require kstoken-*), which asks for authentication first
 *        (AUTHZ_DENIED_NO_USER) where an AuthType will set r->user;
 *      - fixups, for locations where none of the above ran.
 *    A refused token is answered there, before the Require tree (unless delay_auth_decision):
 *    401 with keystonemiddleware's JSON body and `WWW-Authenticate: Keystone uri="..."`, or 503
 *    when keystone's certificates or a current revocation list are missing.
 * 3. In fixups the identity headers are set on r->headers_in (mod_proxy forwards them, mod_wsgi and
 *    CGI see them as HTTP_*) and in r->subprocess_env under their environ keys; a 401 from the
 *    application gets `WWW-Authenticate: Keystone uri="..."` too, as keystonemiddleware adds it.
 *
 * Per child: one authenticator per distinct effective configuration (created on first use, in a
 * registry made at child_init), each fed the certificates and list of its signing directory
 * (kstoken_signing_dir.c) whenever they change; no request ever talks to keystone.
 */
#include <string.h>

#include "mod_kstoken.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_ssl.h"
#include "util_filter.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_strings.h"

APLOG_USE_MODULE(kstoken);

/* keystonemiddleware's bodies (kstoken.middleware's, byte for byte). */
static const char UNAUTHORIZED_BODY[] =
    "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \"message\": \"The request you "
    "have made requires authentication.\"}}";
static const char UNAVAILABLE_BODY[] =
    "503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later "
    "time.\n\n The Keystone service is temporarily unavailable.  ";

#define REFUSAL_FILTER "KSTOKEN_REFUSAL"
#define CHALLENGE_FILTER "KSTOKEN_CHALLENGE"

static ap_filter_rec_t *refusal_filter_handle;
static ap_filter_rec_t *challenge_filter_handle;

/* One authenticator of the registry. */
typedef struct {
    const kst_authenticator *auth;
    kstoken_sdir *sdir;
    /* The generations of the signing directory installed in `auth`. */
    volatile apr_uint32_t cert_gen, list_gen;
    /* Serialises installing a new generation. */
    apr_thread_mutex_t *sync;
    /* How long a list is enforced after it was written (revocation_cache_time + stale time). */
    apr_interval_time_t list_allowance;
    apr_interval_time_t list_fresh;
    /* Whether the list in force was said to be stale (once per list). */
    volatile apr_uint32_t stale_logged;
} kstoken_auth;

/* Per child: the signing directories and the authenticators. */
typedef struct {
    apr_pool_t *pool;
    apr_thread_rwlock_t *lock;
    apr_hash_t *auths;
    apr_hash_t *sdirs;
} kstoken_child;

static kstoken_child *child;
/* The identity-header table's rows of the headers the authorization providers read. */
static ptrdiff_t row_roles = -1, row_project_id = -1, row_project_name = -1;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *ssl_var_lookup;

static apr_status_t free_authenticators(void *data)
{
    kstoken_child *c = data;
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, c->auths); hi; hi = apr_hash_next(hi)) {
        kstoken_auth *a = apr_hash_this_val(hi);
        kst_authenticator_free(a->auth);
        a->auth = NULL;
    }
    return APR_SUCCESS;
}

void kstoken_child_init(apr_pool_t *pchild, server_rec *s)
{
    const kstoken_global *g = kstoken_global_get();
    int i;
    ssl_var_lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
    row_roles = kst_identity_header_find((const uint8_t *)"X-Roles", 7);
    row_project_id = kst_identity_header_find((const uint8_t *)"X-Project-Id", 12);
    row_project_name = kst_identity_header_find((const uint8_t *)"X-Project-Name", 14);
    kstoken_cache_child_init(pchild, s);
    child = apr_pcalloc(pchild, sizeof *child);
    if (apr_pool_create(&child->pool, pchild) != APR_SUCCESS ||
        apr_thread_rwlock_create(&child->lock, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_kstoken: cannot set up the child");
        child = NULL;
        return;
    }
    apr_pool_tag(child->pool, "kstoken-registry");
    child->auths = apr_hash_make(child->pool);
    child->sdirs = apr_hash_make(pchild);
    apr_pool_cleanup_register(child->pool, child, free_authenticators, apr_pool_cleanup_null);
    /* Every signing directory is read now, before the first request. */
    for (i = 0; i < g->signing_dirs->nelts; i++) {
        const char *path = APR_ARRAY_IDX(g->signing_dirs, i, const char *);
        kstoken_sdir *d = kstoken_sdir_create(pchild, path, s);
        if (d) {
            apr_hash_set(child->sdirs, kstoken_sdir_path(d), APR_HASH_KEY_STRING, d);
        }
    }
}

/* Removes every identity header from `t` (request headers), in every spelling. */
static int strip_one(void *rec, const char *key, const char *value)
{
    apr_array_header_t *names = rec;
    (void)value;
    if (kst_identity_header_find((const uint8_t *)key, strlen(key)) >= 0) {
        APR_ARRAY_PUSH(names, const char *) = key;
    }
    return 1;
}

static int strip(request_rec *r)
{
    apr_array_header_t *names = apr_array_make(r->pool, 4, sizeof(const char *));
    int i;
    apr_table_do(strip_one, names, r->headers_in, NULL);
    for (i = 0; i < names->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(names, i, const char *));
    }
    return names->nelts;
}

int kstoken_post_read_request(request_rec *r)
{
    const kstoken_server *sc = ap_get_module_config(r->server->module_config, &kstoken_module);
    int n;
    if (!sc || !sc->configured) {
        return DECLINED;
    }
    n = strip(r);
    if (n > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "mod_kstoken: removed %d identity header(s) the client sent", n);
    }
    return DECLINED;
}

/* The effective configuration where the module is on; NULL elsewhere. */
static const kstoken_dir *enabled_config(request_rec *r)
{
    const kstoken_dir *c = ap_get_module_config(r->per_dir_config, &kstoken_module);
    return c && c->enabled == 1 ? c : NULL;
}

static const char *why(apr_pool_t *p, kst_error *err, kst_result rc)
{
    const char *msg = apr_pstrdup(p, err ? kst_error_message(err) : kst_result_message(rc));
    kst_error_free(err);
    return msg;
}

/* The authenticator of an effective configuration: found, or made (once per child). */
static kstoken_auth *authenticator(request_rec *r, const kstoken_dir *c)
{
    kstoken_key key;
    kstoken_auth *a;
    const kst_auth_config *config;
    const char *failure = NULL;
    kst_error *err = NULL;
    kst_result rc;

    kstoken_auth_key(c, &key);
    apr_thread_rwlock_rdlock(child->lock);
    a = apr_hash_get(child->auths, &key, sizeof key);
    apr_thread_rwlock_unlock(child->lock);
    if (a) {
        return a;
    }
    apr_thread_rwlock_wrlock(child->lock);
    a = apr_hash_get(child->auths, &key, sizeof key);
    if (a) {
        apr_thread_rwlock_unlock(child->lock);
        return a;
    }
    config = kstoken_auth_config(c, r->pool, &failure);
    if (!config) {
        apr_thread_rwlock_unlock(child->lock);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_kstoken: %s", failure);
        return NULL;
    }
    /* The registry's pool is only used under the write lock. */
    a = apr_pcalloc(child->pool, sizeof *a);
    rc = kst_authenticator_new(config, &a->auth, &err);
    kst_auth_config_free(config);
    if (rc != KST_OK || apr_thread_mutex_create(&a->sync, APR_THREAD_MUTEX_DEFAULT,
                                                child->pool) != APR_SUCCESS) {
        apr_thread_rwlock_unlock(child->lock);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_kstoken: %s", why(r->pool, err, rc));
        return NULL;
    }
    a->sdir = c->signing_dir ? apr_hash_get(child->sdirs, c->signing_dir, APR_HASH_KEY_STRING)
                             : NULL;
    if (!a->sdir) {
        /* The startup checks cover the usual nesting; a deeper one may still lack it. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_kstoken: Kstoken On for %s without a KstokenSigningDir: PKI tokens are "
                      "answered 503",
                      r->uri);
    }
    a->list_fresh = apr_time_from_sec(c->revocation_cache_time == KSTOKEN_UNSET_INT
                                          ? 10
                                          : c->revocation_cache_time);
    a->list_allowance =
        a->list_fresh + apr_time_from_sec(c->revocation_stale_time == KSTOKEN_UNSET_INT
                                              ? 300
                                              : c->revocation_stale_time);
    apr_hash_set(child->auths, apr_pmemdup(child->pool, &key, sizeof key), sizeof key, a);
    apr_thread_rwlock_unlock(child->lock);
    return a;
}

/* Gives the authenticator what its signing directory holds now, when that changed. */
static void feed(request_rec *r, kstoken_auth *a, apr_time_t now)
{
    const kst_verifier *verifier = NULL;
    const kst_revocation_list *list = NULL;
    apr_time_t list_time = 0;
    apr_uint32_t cert_gen, list_gen;
    if (!a->sdir) {
        return;
    }
    kstoken_sdir_refresh(a->sdir, r->server, now);
    if (kstoken_sdir_cert_gen(a->sdir) == apr_atomic_read32(&a->cert_gen) &&
        kstoken_sdir_list_gen(a->sdir) == apr_atomic_read32(&a->list_gen)) {
        return;
    }
    apr_thread_mutex_lock(a->sync);
    kstoken_sdir_current(a->sdir, &verifier, &list, &list_time, &cert_gen, &list_gen);
    if (cert_gen != apr_atomic_read32(&a->cert_gen)) {
        kst_authenticator_set_verifier(a->auth, verifier, NULL);
        apr_atomic_set32(&a->cert_gen, cert_gen);
    }
    if (list_gen != apr_atomic_read32(&a->list_gen)) {
        kst_authenticator_set_revocation_list(a->auth, list, list ? list_time + a->list_allowance : 0,
                                              NULL);
        apr_atomic_set32(&a->list_gen, list_gen);
        apr_atomic_set32(&a->stale_logged, 0);
    }
    apr_thread_mutex_unlock(a->sync);
    kst_verifier_free(verifier);
    kst_revocation_list_free(list);
}

/* Says once per list that the list in force is past revocation_cache_time (sync not running?). */
static void check_list_age(request_rec *r, kstoken_auth *a, const kstoken_dir *c, apr_time_t now)
{
    int64_t until = 0;
    const kst_revocation_list *list = NULL;
    if (!kstoken_revocation_enforced(c) || apr_atomic_read32(&a->stale_logged)) {
        return;
    }
    if (kst_authenticator_revocation_list(a->auth, &list, &until, NULL) != KST_OK || !list) {
        return;
    }
    kst_revocation_list_free(list);
    if (now > until - a->list_allowance + a->list_fresh &&
        apr_atomic_cas32(&a->stale_logged, 1, 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "mod_kstoken: the revocation list in %s is stale (written %" APR_TIME_T_FMT
                      " s ago; is `kstoken sync` running?): still enforced for %" APR_TIME_T_FMT
                      " s, then 503",
                      c->signing_dir,
                      apr_time_sec(now - (until - a->list_allowance)),
                      until > now ? apr_time_sec(until - now) : 0);
    }
}

/* The request's TLS client certificate (PEM), when mod_ssl verified one. */
static const char *client_cert(request_rec *r)
{
    const char *pem;
    if (!ssl_var_lookup) {
        return NULL;
    }
    pem = ssl_var_lookup(r->pool, r->server, r->connection, r, (char *)"SSL_CLIENT_CERT");
    return pem && *pem ? pem : NULL;
}

/* Whether a header value can be carried in an HTTP header field: no control character but tab.
 * Eight bytes at a time (the catalog is kilobytes long): a word with a byte below 0x20 or equal to
 * 0x7f is looked at byte by byte, for the tab it may hold. */
static int carriable_byte(unsigned char ch)
{
    return (ch >= 0x20 || ch == '\t') && ch != 0x7f;
}

static int carriable(const char *v, size_t len)
{
    const apr_uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0, k;
    for (; i + 8 <= len; i += 8) {
        apr_uint64_t w, del;
        memcpy(&w, v + i, 8);
        del = w ^ (0x7f * ones);
        /* A high bit per byte below 0x20 (for bytes below 0x80; 0x80 and up are never flagged
         * alone, as ~w clears their high bit), or equal to 0x7f (zero after the xor). */
        if (((w - 0x20 * ones) & ~w & highs) | ((del - ones) & ~del & highs)) {
            for (k = 0; k < 8; k++) {
                if (!carriable_byte((unsigned char)v[i + k])) {
                    return 0;
                }
            }
        }
    }
    for (; i < len; i++) {
        if (!carriable_byte((unsigned char)v[i])) {
            return 0;
        }
    }
    return 1;
}

/* The request state of `r`, made on first use. */
static kstoken_req *state(request_rec *r)
{
    kstoken_req *q = ap_get_module_config(r->request_config, &kstoken_module);
    if (!q) {
        q = apr_pcalloc(r->pool, sizeof *q);
        ap_set_module_config(r->request_config, &kstoken_module, q);
    }
    return q;
}

static void log_outcome(request_rec *r, const kst_outcome *o, kst_decision decision)
{
    static const struct {
        kst_token_kind kind;
        const char *who;
    } tokens[] = {{KST_TOKEN_SERVICE, "service"}, {KST_TOKEN_USER, "user"}};
    static const char *const sources[] = {NULL, "from the process cache", "from the shared cache",
                                          "validated"};
    int i;
    for (i = 0; i < 2 && APLOGrdebug(r); i++) {
        kst_token_source source = kst_outcome_source(o, tokens[i].kind);
        if (source > 0 && source < 4) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "mod_kstoken: %s token %s",
                          tokens[i].who, sources[source]);
        }
    }
    if (decision == KST_DECISION_UNAVAILABLE) {
        const char *reason = kst_outcome_reason(o, KST_TOKEN_USER);
        if (!reason) {
            reason = kst_outcome_reason(o, KST_TOKEN_SERVICE);
        }
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, "mod_kstoken: Unable to validate token: %s",
                      reason ? reason : "keystone unavailable");
        return;
    }
    for (i = 0; i < 2; i++) {
        const char *reason = kst_outcome_reason(o, tokens[i].kind);
        if (reason) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "mod_kstoken: Invalid %s token: %s",
                          tokens[i].who, reason);
        }
    }
    if (decision == KST_DECISION_REJECT) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "mod_kstoken: Rejecting request");
    }
}

/* Copies the outcome's headers into the request state, the last value of each name only (a later
 * one replaces an earlier one: the service token's OpenStack-System-Scope); false when one cannot
 * be carried. */
static int take_headers(request_rec *r, kstoken_req *q, const kst_outcome *o)
{
    size_t n = kst_outcome_header_count(o), i;
    /* Which of the 32 identity headers were taken already (walking from the last). */
    apr_uint64_t seen = 0;
    q->headers = apr_array_make(r->pool, (int)n, sizeof(kstoken_header));
    q->roles = q->project_id = q->project_name = NULL;
    for (i = n; i-- > 0;) {
        const char *name = NULL, *key = NULL, *value = NULL;
        size_t len = 0;
        ptrdiff_t row = kst_outcome_header_row(o, i);
        kstoken_header *h;
        if (row < 0 || row >= 64 || (seen & ((apr_uint64_t)1 << row)) ||
            !kst_outcome_header(o, i, &name, &key, &value, &len)) {
            continue;
        }
        seen |= (apr_uint64_t)1 << row;
        if (value && !carriable(value, len)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "mod_kstoken: the token's %s holds a control character, which an HTTP "
                          "header cannot carry: the token is refused",
                          name);
            return 0;
        }
        h = apr_array_push(q->headers);
        h->name = name;
        h->environ_key = key;
        h->value = value ? apr_pstrmemdup(r->pool, value, len) : NULL;
        if (row == row_roles) {
            q->roles = h->value;
        }
        else if (row == row_project_id) {
            q->project_id = h->value;
        }
        else if (row == row_project_name) {
            q->project_name = h->value;
        }
    }
    return 1;
}

/* The headers of a refused request passed on (delay_auth_decision): the statuses only. */
static void invalid_headers(request_rec *r, kstoken_req *q, int service_sent)
{
    kstoken_header *h;
    q->headers = apr_array_make(r->pool, 2, sizeof(kstoken_header));
    if (service_sent) {
        h = apr_array_push(q->headers);
        h->name = "X-Service-Identity-Status";
        h->environ_key = "HTTP_X_SERVICE_IDENTITY_STATUS";
        h->value = "Invalid";
    }
    h = apr_array_push(q->headers);
    h->name = "X-Identity-Status";
    h->environ_key = "HTTP_X_IDENTITY_STATUS";
    h->value = "Invalid";
    q->roles = q->project_id = q->project_name = NULL;
}

kstoken_req *kstoken_decide(request_rec *r)
{
    const kstoken_dir *c = enabled_config(r);
    kstoken_req *q;
    kstoken_auth *a;
    const char *user, *service, *cert;
    kst_auth_context ctx;
    kst_outcome *o = NULL;
    kst_error *err = NULL;
    kst_result rc;
    kst_decision decision;
    apr_time_t now = apr_time_now();

    if (!c) {
        return NULL;
    }
    q = state(r);
    if (q->decided) {
        return q;
    }
    q->decided = 1;
    q->status = OK;
    q->www_authenticate_uri = c->www_authenticate_uri;
    if (!child || !(a = authenticator(r, c))) {
        /* Misconfigured or out of memory: fail closed. */
        q->status = HTTP_SERVICE_UNAVAILABLE;
        q->refused = 1;
        return q;
    }
    feed(r, a, now);
    check_list_age(r, a, c, now);

    /* As kstoken.middleware reads the environ: X-Auth-Token when sent (even empty), else
     * X-Storage-Token; AUTH_TYPE and REMOTE_USER as mod_wsgi and CGI set them. */
    user = apr_table_get(r->headers_in, "X-Auth-Token");
    if (!user) {
        user = apr_table_get(r->headers_in, "X-Storage-Token");
    }
    service = apr_table_get(r->headers_in, "X-Service-Token");
    cert = client_cert(r);
    ctx.auth_type = r->ap_auth_type;
    ctx.remote_user = r->user;
    ctx.client_cert = (const uint8_t *)cert;
    ctx.client_cert_len = cert ? strlen(cert) : 0;

    rc = kst_authenticate(a->auth, (const uint8_t *)user, user ? strlen(user) : 0,
                          (const uint8_t *)service, service ? strlen(service) : 0, &ctx, now,
                          NULL, &o, &err);
    if (rc == KST_OK && kst_outcome_decision(o) == KST_DECISION_NEED_SHARED) {
        kst_shared_values found;
        kst_outcome *decided = NULL;
        kstoken_cache_fetch(r, c->signing_dir, o, &found);
        rc = kst_authenticate(a->auth, (const uint8_t *)user, user ? strlen(user) : 0,
                              (const uint8_t *)service, service ? strlen(service) : 0, &ctx, now,
                              &found, &decided, &err);
        kst_outcome_free(o);
        o = decided;
    }
    if (rc != KST_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_kstoken: %s", why(r->pool, err, rc));
        q->status = HTTP_SERVICE_UNAVAILABLE;
        q->refused = 1;
        return q;
    }
    kstoken_cache_store(r, c->signing_dir, o);
    decision = kst_outcome_decision(o);
    log_outcome(r, o, decision);
    q->valid = kst_outcome_token_status(o, KST_TOKEN_USER) == KST_TOKEN_VALID &&
               kst_outcome_token_status(o, KST_TOKEN_SERVICE) != KST_TOKEN_INVALID;
    if (decision == KST_DECISION_PASS && !take_headers(r, q, o)) {
        q->valid = 0;
        if (kstoken_delay(c)) {
            invalid_headers(r, q, service != NULL && *service);
        }
        else {
            decision = KST_DECISION_REJECT;
        }
    }
    switch (decision) {
    case KST_DECISION_PASS:
        break;
    case KST_DECISION_UNAVAILABLE:
        q->status = HTTP_SERVICE_UNAVAILABLE;
        q->refused = 1;
        break;
    default:
        /* Reject, and Delegate (never configured: the module validates nothing online). */
        q->status = HTTP_UNAUTHORIZED;
        q->refused = 1;
        break;
    }
    kst_outcome_free(o);
    return q;
}

/* WWW-Authenticate: Keystone uri="..." */
static const char *challenge(request_rec *r, const kstoken_req *q)
{
    return apr_psprintf(r->pool, "Keystone uri=\"%s\"", q->www_authenticate_uri);
}

/* Answers a refused request with the module's response (the refusal filter writes it). */
static int refuse(request_rec *r, kstoken_req *q)
{
    if (q->status == HTTP_UNAUTHORIZED) {
        apr_table_add(r->err_headers_out, "WWW-Authenticate", challenge(r, q));
    }
    return q->status;
}

/* The gates: where a refused token is answered, before the Require tree. */
static int gate(request_rec *r)
{
    kstoken_req *q = kstoken_decide(r);
    if (!q || q->status == OK) {
        return DECLINED;
    }
    return refuse(r, q);
}

int kstoken_gate_access(request_rec *r)
{
    /* Without an AuthType, nothing will set r->user: decide now. */
    if (ap_auth_type(r) != NULL) {
        return DECLINED;
    }
    return gate(r);
}

int kstoken_gate_authz(request_rec *r)
{
    return gate(r);
}

/* Whether an environment variable is an identity header's environ key (HTTP_X_ROLES). */
static int identity_env(void *rec, const char *key, const char *value)
{
    apr_array_header_t *names = rec;
    (void)value;
    if (strncmp(key, "HTTP_", 5) == 0 &&
        kst_identity_header_find((const uint8_t *)key + 5, strlen(key) - 5) >= 0) {
        APR_ARRAY_PUSH(names, const char *) = key;
    }
    return 1;
}

static void apply(request_rec *r, kstoken_req *q)
{
    apr_array_header_t *stale;
    int i;
    if (q->applied || !q->headers) {
        return;
    }
    q->applied = 1;
    /* Nothing else may have put one back since the request was read; the environment of a
     * subrequest or a redirect may hold an earlier decision's. Then each is added once: tables
     * are arrays, and adding does not scan them. */
    strip(r);
    stale = apr_array_make(r->pool, 1, sizeof(const char *));
    apr_table_do(identity_env, stale, r->subprocess_env, NULL);
    for (i = 0; i < stale->nelts; i++) {
        apr_table_unset(r->subprocess_env, APR_ARRAY_IDX(stale, i, const char *));
    }
    /* In keystonemiddleware's order (the state holds them last first); keystonemiddleware's None
     * is no header. */
    for (i = q->headers->nelts; i-- > 0;) {
        const kstoken_header *h = &APR_ARRAY_IDX(q->headers, i, kstoken_header);
        if (h->value) {
            apr_table_addn(r->headers_in, h->name, h->value);
            apr_table_addn(r->subprocess_env, h->environ_key, h->value);
        }
    }
}

int kstoken_fixups(request_rec *r)
{
    kstoken_req *q = kstoken_decide(r);
    if (!q) {
        return DECLINED;
    }
    if (q->status != OK) {
        return refuse(r, q);
    }
    apply(r, q);
    return DECLINED;
}

/* The refusal's response: keystonemiddleware's body and content type in place of httpd's. */
typedef struct {
    const kstoken_req *q;
    int started;
} refusal_ctx;

static apr_status_t refusal_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    refusal_ctx *ctx = f->ctx;
    apr_bucket *b, *next;
    int unauthorized = ctx->q->status == HTTP_UNAUTHORIZED;
    const char *body = unauthorized ? UNAUTHORIZED_BODY : UNAVAILABLE_BODY;
    apr_size_t len = unauthorized ? sizeof UNAUTHORIZED_BODY - 1 : sizeof UNAVAILABLE_BODY - 1;
    int eos = 0;

    if (!ctx->started) {
        ctx->started = 1;
        ap_set_content_type(r, unauthorized ? "application/json" : "text/plain; charset=UTF-8");
        ap_set_content_length(r, (apr_off_t)len);
    }
    /* httpd's error page goes; the body goes in before the end of the response. */
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        if (APR_BUCKET_IS_EOS(b)) {
            if (!r->header_only) {
                APR_BUCKET_INSERT_BEFORE(
                    b, apr_bucket_immortal_create(body, len, f->c->bucket_alloc));
            }
            eos = 1;
            break;
        }
        if (!APR_BUCKET_IS_METADATA(b)) {
            apr_bucket_delete(b);
        }
    }
    if (eos) {
        ap_remove_output_filter(f);
    }
    if (APR_BRIGADE_EMPTY(bb)) {
        return APR_SUCCESS;
    }
    return ap_pass_brigade(f->next, bb);
}

void kstoken_insert_error_filter(request_rec *r)
{
    kstoken_req *q = ap_get_module_config(r->request_config, &kstoken_module);
    if (q && q->refused && r->status == q->status) {
        refusal_ctx *ctx = apr_pcalloc(r->pool, sizeof *ctx);
        ctx->q = q;
        ap_add_output_filter_handle(refusal_filter_handle, ctx, r, r->connection);
    }
}

/* A 401 from the application gets keystonemiddleware's challenge too. */
static apr_status_t challenge_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    kstoken_req *q = f->ctx;
    if (f->r->status == HTTP_UNAUTHORIZED) {
        apr_table_add(f->r->headers_out, "WWW-Authenticate", challenge(f->r, q));
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void kstoken_insert_filter(request_rec *r)
{
    kstoken_req *q = ap_get_module_config(r->request_config, &kstoken_module);
    if (q && q->decided && q->status == OK) {
        ap_add_output_filter_handle(challenge_filter_handle, q, r, r->connection);
    }
}

void kstoken_register_filters(void)
{
    refusal_filter_handle =
        ap_register_output_filter(REFUSAL_FILTER, refusal_filter, NULL, AP_FTYPE_CONTENT_SET);
    challenge_filter_handle =
        ap_register_output_filter(CHALLENGE_FILTER, challenge_filter, NULL, AP_FTYPE_CONTENT_SET);
}
