/*
 * mod_kstoken: keystone PKI/PKIZ tokens validated in Apache httpd through libkstoken.
 *
 * SKELETON. This file builds with apxs against an installed libkstoken (pkg-config kstoken), loads,
 * and reads its directives, named after keystonemiddleware's [keystone_authtoken] options and
 * checked at startup with a message naming the directive. It makes NO decision: it validates no
 * token, sets no header and refuses nothing. The decision comes with the C ABI of the auth_token
 * decision (issue 20, item 1).
 *
 * Directives are valid in the server configuration, virtual hosts, <Location> and <Directory>;
 * a location inherits what it does not set. Values that libkstoken parses (bind mode, hash
 * algorithms) are checked by libkstoken itself, so httpd refuses exactly what the Python
 * middleware refuses.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* httpd.h first: the other headers use its types */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include <kstoken.h>

module AP_MODULE_DECLARE_DATA kstoken_module;

/* Unset values: a location inherits them from the enclosing configuration. */
#define UNSET_FLAG (-1)
#define UNSET_INT (-2)

/* One configuration (server default or a location); strings point into the config pool. */
typedef struct {
    const char *signing_dir;          /* KstokenSigningDir (signing_dir) */
    const char *enforce_token_bind;   /* KstokenEnforceTokenBind (enforce_token_bind) */
    const char *hash_algorithms;      /* KstokenHashAlgorithms (hash_algorithms) */
    int delay_auth_decision;          /* KstokenDelayAuthDecision (delay_auth_decision) */
    int include_service_catalog;      /* KstokenIncludeServiceCatalog (include_service_catalog) */
    apr_array_header_t *service_token_roles; /* KstokenServiceTokenRoles (service_token_roles) */
    int service_token_roles_required; /* KstokenServiceTokenRolesRequired */
    long token_cache_time;            /* KstokenTokenCacheTime (token_cache_time; -1 disables) */
    const char *www_authenticate_uri; /* KstokenWWWAuthenticateURI (www_authenticate_uri) */
    const char *revocation;           /* KstokenRevocation enforce|off (kstoken_revocation) */
    long revocation_stale_time;       /* KstokenRevocationStaleTime (kstoken_revocation_stale_time) */
} kstoken_config;

static void *create_config(apr_pool_t *p, char *dir)
{
    kstoken_config *c = apr_pcalloc(p, sizeof *c);
    (void)dir;
    c->delay_auth_decision = UNSET_FLAG;
    c->include_service_catalog = UNSET_FLAG;
    c->service_token_roles_required = UNSET_FLAG;
    c->token_cache_time = UNSET_INT;
    c->revocation_stale_time = UNSET_INT;
    return c;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_FLAG(f) m->f = add->f != UNSET_FLAG ? add->f : base->f
#define MERGE_INT(f) m->f = add->f != UNSET_INT ? add->f : base->f

static void *merge_config(apr_pool_t *p, void *base_v, void *add_v)
{
    const kstoken_config *base = base_v, *add = add_v;
    kstoken_config *m = apr_pcalloc(p, sizeof *m);
    MERGE_PTR(signing_dir);
    MERGE_PTR(enforce_token_bind);
    MERGE_PTR(hash_algorithms);
    MERGE_FLAG(delay_auth_decision);
    MERGE_FLAG(include_service_catalog);
    MERGE_PTR(service_token_roles);
    MERGE_FLAG(service_token_roles_required);
    MERGE_INT(token_cache_time);
    MERGE_PTR(www_authenticate_uri);
    MERGE_PTR(revocation);
    MERGE_INT(revocation_stale_time);
    return m;
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

/* The libkstoken error's message (copied into the config pool) and the error released. */
static const char *kst_message(apr_pool_t *p, struct kst_error *err, kst_result rc)
{
    const char *msg = apr_pstrdup(p, err ? kst_error_message(err) : kst_result_message(rc));
    kst_error_free(err);
    return msg;
}

/* Checks a value with a policy builder setter: libkstoken owns the parsing rule. */
static const char *check_with_policy(cmd_parms *cmd, const char *value,
                                     kst_result (*set)(struct kst_policy_builder *, const char *,
                                                       struct kst_error **))
{
    struct kst_policy_builder *builder = NULL;
    struct kst_error *err = NULL;
    kst_result rc = kst_policy_builder_new(&builder, &err);
    if (rc == KST_OK) {
        rc = set(builder, value, &err);
    }
    kst_policy_builder_free(builder);
    if (rc != KST_OK) {
        return refuse(cmd, "%s is refused: %s", value, kst_message(cmd->temp_pool, err, rc));
    }
    return NULL;
}

static const char *set_signing_dir(cmd_parms *cmd, void *cfg, const char *value)
{
    apr_finfo_t info;
    const char *path = ap_server_root_relative(cmd->pool, value);
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
    ((kstoken_config *)cfg)->signing_dir = path;
    return NULL;
}

static const char *set_enforce_token_bind(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *refused = check_with_policy(cmd, value, kst_policy_builder_set_bind_mode);
    if (refused) {
        return refused;
    }
    ((kstoken_config *)cfg)->enforce_token_bind = value;
    return NULL;
}

static const char *set_hash_algorithms(cmd_parms *cmd, void *cfg, const char *value)
{
    const char *refused = check_with_policy(cmd, value, kst_policy_builder_set_hash_algorithms);
    if (refused) {
        return refused;
    }
    ((kstoken_config *)cfg)->hash_algorithms = value;
    return NULL;
}

/* An integer in [min, max], refused with the directive's name otherwise. */
static const char *parse_long(cmd_parms *cmd, const char *value, long min, long max, long *out)
{
    char *end = NULL;
    long n;
    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < min || n > max) {
        return refuse(cmd, "%s is not a whole number of seconds from %ld to %ld", value, min, max);
    }
    *out = n;
    return NULL;
}

static const char *set_token_cache_time(cmd_parms *cmd, void *cfg, const char *value)
{
    /* keystonemiddleware: -1 disables the cache */
    return parse_long(cmd, value, -1, 86400L * 366, &((kstoken_config *)cfg)->token_cache_time);
}

static const char *set_revocation_stale_time(cmd_parms *cmd, void *cfg, const char *value)
{
    return parse_long(cmd, value, 0, 86400L * 366, &((kstoken_config *)cfg)->revocation_stale_time);
}

static const char *set_www_authenticate_uri(cmd_parms *cmd, void *cfg, const char *value)
{
    apr_uri_t uri;
    if (apr_uri_parse(cmd->temp_pool, value, &uri) != APR_SUCCESS || uri.scheme == NULL ||
        (strcasecmp(uri.scheme, "http") != 0 && strcasecmp(uri.scheme, "https") != 0) ||
        uri.hostname == NULL || *uri.hostname == '\0') {
        return refuse(cmd, "%s is not an http:// or https:// URL (keystone's public endpoint)", value);
    }
    ((kstoken_config *)cfg)->www_authenticate_uri = value;
    return NULL;
}

static const char *set_revocation(cmd_parms *cmd, void *cfg, const char *value)
{
    if (strcmp(value, "enforce") != 0 && strcmp(value, "off") != 0) {
        return refuse(cmd, "%s is neither enforce nor off", value);
    }
    ((kstoken_config *)cfg)->revocation = value;
    return NULL;
}

static const char *add_service_token_role(cmd_parms *cmd, void *cfg_v, const char *value)
{
    kstoken_config *cfg = cfg_v;
    if (*value == '\0') {
        return refuse(cmd, "%s", "an empty role name");
    }
    if (cfg->service_token_roles == NULL) {
        cfg->service_token_roles = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(cfg->service_token_roles, const char *) = value;
    return NULL;
}

#define WHERE (RSRC_CONF | ACCESS_CONF)

static const command_rec kstoken_cmds[] = {
    AP_INIT_TAKE1("KstokenSigningDir", set_signing_dir, NULL, WHERE,
                  "signing_dir: the directory with signing_cert.pem, cacert.pem and revoked.signed.pem"),
    AP_INIT_TAKE1("KstokenEnforceTokenBind", set_enforce_token_bind, NULL, WHERE,
                  "enforce_token_bind: disabled, permissive, strict, required or a bind type"),
    AP_INIT_TAKE1("KstokenHashAlgorithms", set_hash_algorithms, NULL, WHERE,
                  "hash_algorithms: comma-separated token hash algorithms (md5, sha256, ...)"),
    AP_INIT_FLAG("KstokenDelayAuthDecision", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(kstoken_config, delay_auth_decision), WHERE,
                 "delay_auth_decision: pass invalid tokens on as X-Identity-Status: Invalid"),
    AP_INIT_FLAG("KstokenIncludeServiceCatalog", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(kstoken_config, include_service_catalog), WHERE,
                 "include_service_catalog: set X-Service-Catalog"),
    AP_INIT_ITERATE("KstokenServiceTokenRoles", add_service_token_role, NULL, WHERE,
                    "service_token_roles: roles a service token must have one of"),
    AP_INIT_FLAG("KstokenServiceTokenRolesRequired", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(kstoken_config, service_token_roles_required), WHERE,
                 "service_token_roles_required: refuse service tokens without those roles"),
    AP_INIT_TAKE1("KstokenTokenCacheTime", set_token_cache_time, NULL, WHERE,
                  "token_cache_time: seconds a validated token is cached; -1 disables the cache"),
    AP_INIT_TAKE1("KstokenWWWAuthenticateURI", set_www_authenticate_uri, NULL, WHERE,
                  "www_authenticate_uri: keystone's URL in WWW-Authenticate: Keystone uri=..."),
    AP_INIT_TAKE1("KstokenRevocation", set_revocation, NULL, WHERE,
                  "kstoken_revocation: enforce (the signed list in KstokenSigningDir) or off"),
    AP_INIT_TAKE1("KstokenRevocationStaleTime", set_revocation_stale_time, NULL, WHERE,
                  "kstoken_revocation_stale_time: seconds a list is enforced past its refresh time"),
    {NULL},
};

/* Checks across directives, for every server's configuration (also run by `httpd -t`). */
static int kstoken_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    for (; s != NULL; s = s->next) {
        const kstoken_config *c = ap_get_module_config(s->lookup_defaults, &kstoken_module);
        if (c && c->revocation && strcmp(c->revocation, "enforce") == 0 && c->signing_dir == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         "KstokenRevocation enforce needs KstokenSigningDir (the directory "
                         "`kstoken sync` keeps the signed revocation list in) for %s:%u",
                         s->server_hostname ? s->server_hostname : "the main server", s->port);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static int kstoken_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "mod_kstoken %d.%d.%d (libkstoken %s) loaded: a skeleton that reads its "
                 "directives and validates no token",
                 KSTOKEN_VERSION_MAJOR, KSTOKEN_VERSION_MINOR, KSTOKEN_VERSION_PATCH, kst_version());
    return OK;
}

static void kstoken_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(kstoken_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(kstoken_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA kstoken_module = {
    STANDARD20_MODULE_STUFF,
    create_config,        /* per-directory (and per-location) configuration */
    merge_config,
    NULL,                 /* no per-server configuration: the server's per-directory one is */
    NULL,                 /* the default of its locations */
    kstoken_cmds,
    kstoken_hooks,
    AP_MODULE_FLAG_NONE,
};
