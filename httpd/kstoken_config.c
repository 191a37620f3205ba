/*
 * mod_kstoken's configuration: directives named after keystonemiddleware's [keystone_authtoken]
 * options, valid per server and per location (a location inherits what it does not set), the
 * server-wide cache settings, and the startup checks. Values that libkstoken parses (bind mode,
 * hash algorithms, the memcached strategy) are checked by libkstoken itself, so httpd refuses
 * exactly what kstoken.middleware refuses; every refusal names the directive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mod_kstoken.h"

#include "http_log.h"
#include "apr_strings.h"
#include "apr_uri.h"

/* keystonemiddleware's defaults (6.1.0), and kstoken.middleware's for its own options. */
#define DEFAULT_BIND_MODE "permissive"
#define DEFAULT_HASH_ALGORITHMS "md5"
#define DEFAULT_TOKEN_CACHE_TIME 300
#define DEFAULT_CACHE_MAX_ENTRIES 10000
#define DEFAULT_CACHE_MAX_BYTES (64L << 20)
#define DEFAULT_REVOCATION_CACHE_TIME 10
#define DEFAULT_REVOCATION_STALE_TIME 300
#define MAX_SECONDS (86400L * 366)

static kstoken_global *global;

kstoken_global *kstoken_global_get(void)
{
    return global;
}

void kstoken_global_reset(apr_pool_t *pconf)
{
    global = apr_pcalloc(pconf, sizeof *global);
    global->memcache_format = KST_SHARED_CACHE_PLAIN;
    global->memcache_timeout = apr_time_from_msec(500);
    global->memcache_dead_retry = apr_time_from_sec(30);
    global->signing_dirs = apr_array_make(pconf, 2, sizeof(const char *));
    global->sections = apr_array_make(pconf, 4, sizeof(kstoken_dir *));
}

void *kstoken_create_dir(apr_pool_t *p, char *dir)
{
    kstoken_dir *c = apr_pcalloc(p, sizeof *c);
    c->enabled = KSTOKEN_UNSET_FLAG;
    c->delay_auth_decision = KSTOKEN_UNSET_FLAG;
    c->include_service_catalog = KSTOKEN_UNSET_FLAG;
    c->service_token_roles_required = KSTOKEN_UNSET_FLAG;
    c->check_revocations_for_cached = KSTOKEN_UNSET_FLAG;
    c->token_cache_time = KSTOKEN_UNSET_INT;
    c->cache_max_entries = KSTOKEN_UNSET_INT;
    c->cache_max_bytes = KSTOKEN_UNSET_INT;
    c->revocation_cache_time = KSTOKEN_UNSET_INT;
    c->revocation_stale_time = KSTOKEN_UNSET_INT;
    c->section = dir;
    return c;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_FLAG(f) m->f = add->f != KSTOKEN_UNSET_FLAG ? add->f : base->f
#define MERGE_INT(f) m->f = add->f != KSTOKEN_UNSET_INT ? add->f : base->f

void *kstoken_merge_dir(apr_pool_t *p, void *base_v, void *add_v)
{
    const kstoken_dir *base = base_v, *add = add_v;
    kstoken_dir *m = apr_palloc(p, sizeof *m);
    MERGE_FLAG(enabled);
    MERGE_PTR(signing_dir);
    MERGE_PTR(enforce_token_bind);
    MERGE_PTR(hash_algorithms);
    MERGE_FLAG(delay_auth_decision);
    MERGE_FLAG(include_service_catalog);
    MERGE_PTR(service_token_roles);
    MERGE_FLAG(service_token_roles_required);
    MERGE_INT(token_cache_time);
    MERGE_INT(cache_max_entries);
    MERGE_INT(cache_max_bytes);
    MERGE_PTR(www_authenticate_uri);
    MERGE_PTR(revocation);
    MERGE_FLAG(check_revocations_for_cached);
    MERGE_INT(revocation_cache_time);
    MERGE_INT(revocation_stale_time);
    MERGE_PTR(server);
    MERGE_PTR(section);
    return m;
}

void *kstoken_create_server(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(kstoken_server));
}

void *kstoken_merge_server(apr_pool_t *p, void *base_v, void *add_v)
{
    const kstoken_server *base = base_v, *add = add_v;
    kstoken_server *m = apr_palloc(p, sizeof *m);
    m->configured = base->configured || add->configured;
    return m;
}

const char *kstoken_bind_mode(const kstoken_dir *c)
{
    return c->enforce_token_bind ? c->enforce_token_bind : DEFAULT_BIND_MODE;
}

const char *kstoken_hash_algorithms(const kstoken_dir *c)
{
    return c->hash_algorithms ? c->hash_algorithms : DEFAULT_HASH_ALGORITHMS;
}

int kstoken_delay(const kstoken_dir *c)
{
    return c->delay_auth_decision == 1;
}

int kstoken_revocation_enforced(const kstoken_dir *c)
{
    return c->revocation && strcmp(c->revocation, "enforce") == 0;
}

long kstoken_token_cache_time(const kstoken_dir *c)
{
    return c->token_cache_time == KSTOKEN_UNSET_INT ? DEFAULT_TOKEN_CACHE_TIME
                                                     : c->token_cache_time;
}

static long value_or(long v, long fallback)
{
    return v == KSTOKEN_UNSET_INT ? fallback : v;
}

void kstoken_note_section(cmd_parms *cmd, kstoken_dir *cfg)
{
    kstoken_server *sc = ap_get_module_config(cmd->server->module_config, &kstoken_module);
    sc->configured = 1;
    if (cfg->server == NULL) {
        cfg->server = cmd->server;
        if (cfg->section == NULL) {
            cfg->section = cmd->path;
        }
        APR_ARRAY_PUSH(global->sections, kstoken_dir *) = cfg;
    }
}

/* "Directive: message", for httpd's "Syntax error on line N of FILE" report. */
static const char *refuse(cmd_parms *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *refuse(cmd_parms *cmd, const char *fmt, ...)
{
    va_list ap;
    const char *msg;
    va_start(ap, fmt);
    msg = apr_pvsprintf(cmd->temp_pool, fmt, ap);
    va_end(ap);
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, msg);
}

/* The libkstoken error's message (copied into `p`) and the error released. */
static const char *kst_message(apr_pool_t *p, kst_error *err, kst_result rc)
{
    const char *msg = apr_pstrdup(p, err ? kst_error_message(err) : kst_result_message(rc));
    kst_error_free(err);
    return msg;
}

/* Checks a value with a config builder setter: libkstoken owns the parsing rule. */
static const char *check_with_builder(cmd_parms *cmd, const char *value,
                                      kst_result (*set)(kst_auth_config_builder *, const char *,
                                                        kst_error **))
{
    kst_auth_config_builder *builder = NULL;
    kst_error *err = NULL;
    kst_result rc = kst_auth_config_builder_new(&builder, &err);
    if (rc == KST_OK) {
        rc = set(builder, value, &err);
    }
    kst_auth_config_builder_free(builder);
    if (rc != KST_OK) {
        return refuse(cmd, "%s is refused: %s", value, kst_message(cmd->temp_pool, err, rc));
    }
    return NULL;
}

static const char *set_enabled(cmd_parms *cmd, void *cfg, int on)
{
    ((kstoken_dir *)cfg)->enabled = on;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *cfg, int on)
{
    kstoken_note_section(cmd, cfg);
    return ap_set_flag_slot(cmd, cfg, on);
}

static const char *set_signing_dir(cmd_parms *cmd, void *cfg, const char *value)
{
    apr_finfo_t info;
    const char *path = ap_server_root_relative(cmd->pool, value);
    int i;
    if (path == NULL) {
        return refuse(cmd, "%s is not a valid path", value);
    }
    if (apr_stat(&info, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS ||
        info.filetype != APR_DIR) {
        return refuse(cmd,
                      "%s is not a directory: create it (mode 0700, owned by the server's user) "
                      "and fill it with `kstoken sync --signing-dir`",
                      path);
    }
    ((kstoken_dir *)cfg)->signing_dir = path;
    kstoken_note_section(cmd, cfg);
    for (i = 0; i < global->signing_dirs->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(global->signing_dirs, i, const char *), path) == 0) {
            return NULL;
        }
    }
    APR_ARRAY_PUSH(global->signing_dirs, const char *) = path;
    return NULL;
}

static const char *set_enforce_token_bind(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *refused = check_with_builder(cmd, value, kst_auth_config_builder_set_bind_mode);
    if (refused) {
        return refused;
    }
    ((kstoken_dir *)cfg)->enforce_token_bind = value;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

static const char *set_hash_algorithms(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *refused =
        check_with_builder(cmd, value, kst_auth_config_builder_set_hash_algorithms);
    if (refused) {
        return refused;
    }
    ((kstoken_dir *)cfg)->hash_algorithms = value;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

/* An integer in [min, max], refused with the directive's name otherwise. */
static const char *parse_long(cmd_parms *cmd, const char *value, long min, long max,
                              const char *what, long *out)
{
    char *end = NULL;
    long n;
    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < min || n > max) {
        return refuse(cmd, "%s is not a whole number of %s from %ld to %ld", value, what, min, max);
    }
    *out = n;
    return NULL;
}

static const char *set_seconds(cmd_parms *cmd, void *cfg, const char *value, long min, long *out)
{
    kstoken_note_section(cmd, cfg);
    return parse_long(cmd, value, min, MAX_SECONDS, "seconds", out);
}

static const char *set_token_cache_time(cmd_parms *cmd, void *cfg, const char *value)
{
    /* keystonemiddleware: -1 disables the cache */
    return set_seconds(cmd, cfg, value, -1, &((kstoken_dir *)cfg)->token_cache_time);
}

static const char *set_revocation_stale_time(cmd_parms *cmd, void *cfg, const char *value)
{
    return set_seconds(cmd, cfg, value, 0, &((kstoken_dir *)cfg)->revocation_stale_time);
}

static const char *set_revocation_cache_time(cmd_parms *cmd, void *cfg, const char *value)
{
    return set_seconds(cmd, cfg, value, 1, &((kstoken_dir *)cfg)->revocation_cache_time);
}

static const char *set_cache_max_entries(cmd_parms *cmd, void *cfg, const char *value)
{
    kstoken_note_section(cmd, cfg);
    return parse_long(cmd, value, 1, 100000000L, "entries",
                      &((kstoken_dir *)cfg)->cache_max_entries);
}

static const char *set_cache_max_bytes(cmd_parms *cmd, void *cfg, const char *value)
{
    kstoken_note_section(cmd, cfg);
    return parse_long(cmd, value, 1, 1L << 40, "bytes", &((kstoken_dir *)cfg)->cache_max_bytes);
}

static const char *set_www_authenticate_uri(cmd_parms *cmd, void *cfg, const char *value)
{
    apr_uri_t uri;
    if (apr_uri_parse(cmd->temp_pool, value, &uri) != APR_SUCCESS || uri.scheme == NULL ||
        (strcasecmp(uri.scheme, "http") != 0 && strcasecmp(uri.scheme, "https") != 0) ||
        uri.hostname == NULL || *uri.hostname == '\0' || strchr(value, '"') != NULL) {
        return refuse(cmd, "%s is not an http:// or https:// URL (keystone's public endpoint)",
                      value);
    }
    ((kstoken_dir *)cfg)->www_authenticate_uri = value;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

static const char *set_revocation(cmd_parms *cmd, void *cfg, const char *value)
{
    if (strcmp(value, "enforce") != 0 && strcmp(value, "off") != 0) {
        return refuse(cmd, "%s is neither enforce nor off", value);
    }
    ((kstoken_dir *)cfg)->revocation = value;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

static const char *add_service_token_role(cmd_parms *cmd, void *cfg_v, const char *value)
{
    kstoken_dir *cfg = cfg_v;
    if (*value == '\0') {
        return refuse(cmd, "%s", "an empty role name");
    }
    /* A section's list replaces the one it would inherit (merging happens per request). */
    if (cfg->service_token_roles == NULL) {
        cfg->service_token_roles = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(cfg->service_token_roles, const char *) = value;
    kstoken_note_section(cmd, cfg);
    return NULL;
}

/* Server-wide directives: in the main server only. */
static const char *global_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return err ? refuse(cmd, "%s", "set it once, in the main server configuration") : NULL;
}

static const char *set_cache(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    (void)cfg;
    if (err) {
        return err;
    }
    if (*value == '\0') {
        return refuse(cmd, "%s", "an empty value: none, shmcb, or a socache provider[:argument]");
    }
    if (strncasecmp(value, "memcache", 8) == 0 && (value[8] == '\0' || value[8] == ':')) {
        return refuse(cmd, "%s",
                      "mod_socache_memcache changes every key (a namespace and a hex digest), so "
                      "kstoken.middleware and keystonemiddleware could not read its entries: use "
                      "KstokenMemcachedServers for memcached");
    }
    global->cache = value;
    return NULL;
}

static const char *add_memcached_server(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    char *list, *item, *state = NULL;
    (void)cfg;
    if (err) {
        return err;
    }
    /* keystonemiddleware's memcached_servers is a comma-separated list: both forms are read. */
    list = apr_pstrdup(cmd->temp_pool, value);
    for (item = apr_strtok(list, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        const char *colon = strrchr(item, ':');
        /* host:port, [v6]:port or host; apr_parse_addr_port alone would read "host:word" as a
         * host name. */
        if ((colon && item[0] != '[' && strchr(item, ':') == colon &&
             strspn(colon + 1, "0123456789") != strlen(colon + 1)) ||
            apr_parse_addr_port(&host, &scope, &port, item, cmd->temp_pool) != APR_SUCCESS ||
            host == NULL || scope != NULL) {
            return refuse(cmd, "%s is not host:port", item);
        }
        if (global->memcached_servers == NULL) {
            global->memcached_servers = apr_array_make(cmd->pool, 2, sizeof(const char *));
        }
        APR_ARRAY_PUSH(global->memcached_servers, const char *) =
            apr_psprintf(cmd->pool, "%s:%u", host, port ? (unsigned)port : 11211u);
    }
    return NULL;
}

static const char *set_memcache_strategy(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    (void)cfg;
    if (err) {
        return err;
    }
    /* kstoken.middleware's rule: None, MAC or ENCRYPT, spelt so (docs/middleware.md). */
    if (strcmp(value, "None") == 0) {
        global->memcache_format = KST_SHARED_CACHE_PLAIN;
    }
    else if (strcmp(value, "MAC") == 0) {
        global->memcache_format = KST_SHARED_CACHE_MAC;
    }
    else if (strcmp(value, "ENCRYPT") == 0) {
        global->memcache_format = KST_SHARED_CACHE_ENCRYPT;
    }
    else {
        return refuse(cmd, "%s is none of None, MAC and ENCRYPT (spelt so)", value);
    }
    return NULL;
}

static const char *set_memcache_secret(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    (void)cfg;
    if (err) {
        return err;
    }
    if (*value == '\0') {
        return refuse(cmd, "%s", "an empty secret");
    }
    global->memcache_secret = value;
    return NULL;
}

/* A duration in seconds with up to 3 decimals (0.5), in [min, max] seconds. */
static const char *set_duration(cmd_parms *cmd, const char *value, double min, double max,
                                apr_interval_time_t *out)
{
    char *end = NULL;
    double v;
    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(v >= min && v <= max)) {
        return refuse(cmd, "%s is not a number of seconds from %g to %g", value, min, max);
    }
    *out = (apr_interval_time_t)(v * APR_USEC_PER_SEC);
    return NULL;
}

static const char *set_memcache_timeout(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    (void)cfg;
    return err ? err : set_duration(cmd, value, 0.001, 60, &global->memcache_timeout);
}

static const char *set_memcache_dead_retry(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *err = global_only(cmd);
    (void)cfg;
    return err ? err : set_duration(cmd, value, 0, 3600, &global->memcache_dead_retry);
}

#define WHERE (RSRC_CONF | ACCESS_CONF)
#define FLAG_SLOT(f) ((void *)APR_OFFSETOF(kstoken_dir, f))

const command_rec kstoken_cmds[] = {
    AP_INIT_FLAG("Kstoken", set_enabled, NULL, WHERE,
                 "On: validate keystone tokens in this location (Require kstoken-* turns it on "
                 "too)"),
    AP_INIT_TAKE1("KstokenSigningDir", set_signing_dir, NULL, WHERE,
                  "signing_dir: the directory with signing_cert.pem, cacert.pem and "
                  "revoked.signed.pem"),
    AP_INIT_TAKE1("KstokenEnforceTokenBind", set_enforce_token_bind, NULL, WHERE,
                  "enforce_token_bind: disabled, permissive, strict, required or a bind type"),
    AP_INIT_TAKE1("KstokenHashAlgorithms", set_hash_algorithms, NULL, WHERE,
                  "hash_algorithms: comma-separated token hash algorithms (md5, sha256, ...)"),
    AP_INIT_FLAG("KstokenDelayAuthDecision", set_flag, FLAG_SLOT(delay_auth_decision), WHERE,
                 "delay_auth_decision: pass invalid tokens on as X-Identity-Status: Invalid"),
    AP_INIT_FLAG("KstokenIncludeServiceCatalog", set_flag, FLAG_SLOT(include_service_catalog),
                 WHERE, "include_service_catalog: set X-Service-Catalog"),
    AP_INIT_ITERATE("KstokenServiceTokenRoles", add_service_token_role, NULL, WHERE,
                    "service_token_roles: roles a service token must have one of"),
    AP_INIT_FLAG("KstokenServiceTokenRolesRequired", set_flag,
                 FLAG_SLOT(service_token_roles_required), WHERE,
                 "service_token_roles_required: refuse service tokens without those roles"),
    AP_INIT_TAKE1("KstokenTokenCacheTime", set_token_cache_time, NULL, WHERE,
                  "token_cache_time: seconds a validated token is cached; -1 disables caching"),
    AP_INIT_TAKE1("KstokenCacheMaxEntries", set_cache_max_entries, NULL, WHERE,
                  "kstoken_cache_max_entries: tokens each child's process cache holds at most"),
    AP_INIT_TAKE1("KstokenCacheMaxBytes", set_cache_max_bytes, NULL, WHERE,
                  "kstoken_cache_max_bytes: heap each child's process cache takes at most"),
    AP_INIT_TAKE1("KstokenWWWAuthenticateURI", set_www_authenticate_uri, NULL, WHERE,
                  "www_authenticate_uri: keystone's URL in WWW-Authenticate: Keystone uri=..."),
    AP_INIT_TAKE1("KstokenRevocation", set_revocation, NULL, WHERE,
                  "kstoken_revocation: enforce (the signed list in KstokenSigningDir) or off"),
    AP_INIT_FLAG("KstokenCheckRevocationsForCached", set_flag,
                 FLAG_SLOT(check_revocations_for_cached), WHERE,
                 "check_revocations_for_cached: check cached tokens against the list too"),
    AP_INIT_TAKE1("KstokenRevocationCacheTime", set_revocation_cache_time, NULL, WHERE,
                  "revocation_cache_time: seconds a list is current after kstoken sync wrote "
                  "it"),
    AP_INIT_TAKE1("KstokenRevocationStaleTime", set_revocation_stale_time, NULL, WHERE,
                  "kstoken_revocation_stale_time: seconds a list is still enforced once it is "
                  "no longer current (then 503)"),
    AP_INIT_TAKE1("KstokenCache", set_cache, NULL, RSRC_CONF,
                  "the second-level token cache, shared by the children: shmcb (the default), "
                  "none, or a socache provider[:argument]"),
    AP_INIT_ITERATE("KstokenMemcachedServers", add_memcached_server, NULL, RSRC_CONF,
                    "memcached_servers: host:port of memcached servers shared with "
                    "kstoken.middleware and keystonemiddleware (instead of KstokenCache)"),
    AP_INIT_TAKE1("KstokenMemcacheSecurityStrategy", set_memcache_strategy, NULL, RSRC_CONF,
                  "memcache_security_strategy: None, MAC or ENCRYPT"),
    AP_INIT_TAKE1("KstokenMemcacheSecretKey", set_memcache_secret, NULL, RSRC_CONF,
                  "memcache_secret_key: the secret of MAC and ENCRYPT"),
    AP_INIT_TAKE1("KstokenMemcacheSocketTimeout", set_memcache_timeout, NULL, RSRC_CONF,
                  "memcache_pool_socket_timeout: seconds any wait on memcached lasts at most"),
    AP_INIT_TAKE1("KstokenMemcacheDeadRetry", set_memcache_dead_retry, NULL, RSRC_CONF,
                  "memcache_pool_dead_retry: seconds a failing memcached server is left alone"),
    {NULL},
};

/* Builds the libkstoken configuration of an effective (merged) configuration. */
const kst_auth_config *kstoken_auth_config(const kstoken_dir *c, apr_pool_t *p, const char **why)
{
    kst_auth_config_builder *b = NULL;
    const kst_auth_config *config = NULL;
    kst_error *err = NULL;
    kst_result rc;
    long ttl = kstoken_token_cache_time(c);
    const char *what = "";
    kst_shared_cache format = kstoken_cache_format();
    kst_revocation_mode revocation = KST_REVOCATION_OFF;

    if (kstoken_revocation_enforced(c)) {
        revocation = c->check_revocations_for_cached == 1 ? KST_REVOCATION_ENFORCE_CACHED
                                                          : KST_REVOCATION_ENFORCE;
    }
    if (ttl < 0) {
        format = KST_SHARED_CACHE_NONE;
    }
    rc = kst_auth_config_builder_new(&b, &err);
#define STEP(name, call)                                                                         \
    if (rc == KST_OK) {                                                                          \
        what = name;                                                                             \
        rc = call;                                                                               \
    }
    STEP("KstokenHashAlgorithms",
         kst_auth_config_builder_set_hash_algorithms(b, kstoken_hash_algorithms(c), &err));
    STEP("KstokenEnforceTokenBind",
         kst_auth_config_builder_set_bind_mode(b, kstoken_bind_mode(c), &err));
    STEP("KstokenDelayAuthDecision",
         kst_auth_config_builder_set_delay_auth_decision(b, kstoken_delay(c), &err));
    STEP("KstokenIncludeServiceCatalog",
         kst_auth_config_builder_set_include_service_catalog(b, c->include_service_catalog != 0,
                                                            &err));
    if (c->service_token_roles) {
        STEP("KstokenServiceTokenRoles",
             kst_auth_config_builder_set_service_token_roles(
                 b, (const char *const *)c->service_token_roles->elts,
                 (size_t)c->service_token_roles->nelts, &err));
    }
    STEP("KstokenServiceTokenRolesRequired",
         kst_auth_config_builder_set_service_token_roles_required(
             b, c->service_token_roles_required == 1, &err));
    STEP("KstokenTokenCacheTime",
         kst_auth_config_builder_set_token_cache(
             b, ttl, (size_t)value_or(c->cache_max_entries, DEFAULT_CACHE_MAX_ENTRIES),
             (size_t)value_or(c->cache_max_bytes, DEFAULT_CACHE_MAX_BYTES), &err));
    STEP("KstokenRevocation", kst_auth_config_builder_set_revocation(b, revocation, &err));
    if (format == KST_SHARED_CACHE_MAC || format == KST_SHARED_CACHE_ENCRYPT) {
        const char *secret = kstoken_global_get()->memcache_secret;
        STEP("KstokenMemcacheSecretKey",
             kst_auth_config_builder_set_shared_cache(b, format, (const uint8_t *)secret,
                                                      secret ? strlen(secret) : 0, &err));
    }
    else {
        STEP("KstokenCache", kst_auth_config_builder_set_shared_cache(b, format, NULL, 0, &err));
    }
    STEP("the configuration", kst_auth_config_builder_build(b, &config, &err));
#undef STEP
    kst_auth_config_builder_free(b);
    if (rc != KST_OK) {
        *why = apr_psprintf(p, "%s: %s", what, kst_message(p, err, rc));
        return NULL;
    }
    return config;
}

void kstoken_auth_key(const kstoken_dir *c, kstoken_key *key)
{
    /* The values of the directives, by their place in the configuration pool: a section's values
     * are the same pointers in every request's merged configuration. */
    memset(key, 0, sizeof *key);
    key->signing_dir = c->signing_dir;
    key->enforce_token_bind = c->enforce_token_bind;
    key->hash_algorithms = c->hash_algorithms;
    key->service_token_roles = c->service_token_roles;
    key->revocation = c->revocation;
    key->numbers[0] = c->delay_auth_decision;
    key->numbers[1] = c->include_service_catalog;
    key->numbers[2] = c->service_token_roles_required;
    key->numbers[3] = c->token_cache_time;
    key->numbers[4] = c->cache_max_entries;
    key->numbers[5] = c->cache_max_bytes;
    key->numbers[6] = c->check_revocations_for_cached;
    key->numbers[7] = c->revocation_cache_time;
    key->numbers[8] = c->revocation_stale_time;
}

/* A section's place, for messages. */
static const char *where(apr_pool_t *p, const kstoken_dir *c)
{
    const server_rec *s = c->server;
    return apr_psprintf(p, "%s%s (server %s:%u)", c->section ? "section " : "the server default",
                        c->section ? c->section : "",
                        s && s->server_hostname ? s->server_hostname : "main",
                        s ? s->port : 0);
}

/* Checks across directives, for every section the module's directives are in, merged with its
 * server's default (also run by `httpd -t`). */
int kstoken_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int i;
    (void)pconf;
    (void)plog;
    for (i = 0; i < global->sections->nelts; i++) {
        const kstoken_dir *own = APR_ARRAY_IDX(global->sections, i, kstoken_dir *);
        const kstoken_dir *base =
            ap_get_module_config(own->server->lookup_defaults, &kstoken_module);
        const kstoken_dir *c = base == own ? own : kstoken_merge_dir(ptemp, (void *)base,
                                                                      (void *)own);
        const char *why = NULL;
        const kst_auth_config *config;
        if (kstoken_revocation_enforced(c) && c->signing_dir == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         "KstokenRevocation enforce needs KstokenSigningDir (the directory "
                         "`kstoken sync` keeps the signed revocation list in) in %s",
                         where(ptemp, c));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->enabled != 1) {
            continue;
        }
        if (c->signing_dir == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         "Kstoken On needs KstokenSigningDir (where `kstoken sync` keeps "
                         "keystone's certificates) in %s",
                         where(ptemp, c));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (c->www_authenticate_uri == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         "Kstoken On needs KstokenWWWAuthenticateURI (keystone's public "
                         "endpoint, which a refused client is sent to) in %s",
                         where(ptemp, c));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        config = kstoken_auth_config(c, ptemp, &why);
        if (config == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, "%s in %s", why,
                         where(ptemp, c));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        kst_auth_config_free(config);
    }
    if ((global->memcache_format == KST_SHARED_CACHE_MAC ||
         global->memcache_format == KST_SHARED_CACHE_ENCRYPT) &&
        global->memcache_secret == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "KstokenMemcacheSecurityStrategy MAC or ENCRYPT needs "
                     "KstokenMemcacheSecretKey");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (global->memcached_servers && global->cache) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "KstokenCache and KstokenMemcachedServers both name a second-level cache: "
                     "keep one");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((global->sections->nelts > 0 || global->cache) && kstoken_cache_check(ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
