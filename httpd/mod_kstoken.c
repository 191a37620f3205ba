/*
 * mod_kstoken: keystone PKI/PKIZ tokens validated in Apache httpd through libkstoken, bound to the
 * connection's Kerberos principal (mod_auth_gssapi) or client certificate (mod_ssl), with the
 * identity headers keystonemiddleware's auth_token sets, for a reverse-proxied API service or a
 * WSGI/CGI application behind it. docs/httpd.md is the manual.
 *
 * This file is the module record and its hooks; the work is in kstoken_config.c (directives and
 * startup checks), kstoken_request.c (the decision per request), kstoken_authz.c (Require
 * kstoken-*), kstoken_signing_dir.c (certificates and lists from the signing directory),
 * kstoken_cache.c and kstoken_memcache.c (the second-level token cache).
 *
 * Processes: per-child state (the registry of authenticators, the signing directories, memcached
 * connections) is made in child_init from the child's pool and released by its cleanups, so the
 * module works under the prefork, worker and event MPMs and across graceful restarts (a new
 * configuration, new children, a new shared cache). Nothing is allocated outside the request and
 * configuration pools but by libkstoken.
 */
#include "mod_kstoken.h"

#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

static int kstoken_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    kstoken_global_reset(pconf);
    return kstoken_cache_register_mutex(pconf) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int kstoken_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    const kstoken_global *g = kstoken_global_get();
    (void)plog;
    if (kstoken_cache_post_config(pconf, ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "mod_kstoken %d.%d.%d (libkstoken %s): validates keystone tokens in %d "
                 "section(s) from %d signing director%s; second-level token cache: %s",
                 KSTOKEN_VERSION_MAJOR, KSTOKEN_VERSION_MINOR, KSTOKEN_VERSION_PATCH,
                 kst_version(), g->sections->nelts, g->signing_dirs->nelts,
                 g->signing_dirs->nelts == 1 ? "y" : "ies", kstoken_cache_describe());
    return OK;
}

static void kstoken_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(kstoken_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(kstoken_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(kstoken_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(kstoken_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before any other module reads the request's headers. */
    ap_hook_post_read_request(kstoken_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* After mod_ssl's access_checker (a per-location client certificate), before
     * mod_authz_core's Require lines (APR_HOOK_LAST). */
    ap_hook_check_access_ex(kstoken_gate_access, NULL, NULL, APR_HOOK_FIRST,
                            AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(kstoken_gate_authz, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(kstoken_fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_insert_error_filter(kstoken_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(kstoken_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    kstoken_register_filters();
    kstoken_register_authz(p);
}

module AP_MODULE_DECLARE_DATA kstoken_module = {
    STANDARD20_MODULE_STUFF,
    kstoken_create_dir,    /* per-directory (and per-location) configuration */
    kstoken_merge_dir,
    kstoken_create_server, /* per server: whether identity headers are stripped */
    kstoken_merge_server,
    kstoken_cmds,
    kstoken_hooks,
    AP_MODULE_FLAG_NONE,
};
