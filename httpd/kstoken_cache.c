/*
 * The second-level token cache, between each child's process cache (libkstoken's, inside the
 * authenticator) and validation: what libkstoken's exchange asks for (keys to fetch, entries to
 * store, in keystonemiddleware's memcached format) carried to one of
 *
 * - httpd's socache (KstokenCache, shmcb by default): one cache shared by the children of the
 *   server, created at post_config (a new one at each restart), behind a global mutex when the
 *   provider needs one; keys are prefixed by the signing directory, so locations trusting different
 *   keystones never share an entry;
 * - memcached (KstokenMemcachedServers), in keystonemiddleware's format to the byte, so
 *   kstoken.middleware and keystonemiddleware processes on the same memcached share the entries
 *   (kstoken_memcache.c: bounded waits).
 *
 * A failing cache is a miss: the token is validated.
 */
#include <string.h>

#include "mod_kstoken.h"

#include "ap_mpm.h"
#include "ap_provider.h"
#include "http_log.h"
#include "util_mutex.h"
#include "apr_strings.h"

APLOG_USE_MODULE(kstoken);

/* The mutex type (Mutex directive) of a socache that needs one. */
#define MUTEX_TYPE "kstoken-cache"
/* socache's default: 16 MiB (about 1,500 tokens of 9 KB with a 12-service catalog). */
#define DEFAULT_SHMCB_SIZE (16 << 20)
/* The largest value read from or written to a socache: token data for a token of 64 KiB (a
 * LimitRequestFieldSize of 65536) fits; a larger one is validated by each child. */
#define MAX_SOCACHE_VALUE (96 << 10)

static kstoken_memcache *memcache;

apr_status_t kstoken_cache_register_mutex(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

kst_shared_cache kstoken_cache_format(void)
{
    const kstoken_global *g = kstoken_global_get();
    if (g->memcached_servers) {
        return g->memcache_format;
    }
    return g->socache_instance ? KST_SHARED_CACHE_PLAIN : KST_SHARED_CACHE_NONE;
}

const char *kstoken_cache_describe(void)
{
    const kstoken_global *g = kstoken_global_get();
    if (g->memcached_servers) {
        return g->socache_description;
    }
    return g->socache_description ? g->socache_description : "none";
}

static apr_status_t destroy_socache(void *data)
{
    kstoken_global *g = data;
    if (g->socache_instance) {
        g->socache->destroy(g->socache_instance, NULL);
        g->socache_instance = NULL;
    }
    return APR_SUCCESS;
}

/* The socache provider and argument KstokenCache names (shmcb by default), or none; NULL provider
 * with *why set when it cannot be used. */
static const ap_socache_provider_t *socache_of(apr_pool_t *ptemp, const char **name_out,
                                                const char **arg_out, const char **why)
{
    const kstoken_global *g = kstoken_global_get();
    const char *spec = g->cache ? g->cache : "shmcb";
    const char *arg = ap_strchr_c(spec, ':');
    const char *name = arg ? apr_pstrmemdup(ptemp, spec, (apr_size_t)(arg - spec)) : spec;
    const ap_socache_provider_t *provider;
    arg = arg ? arg + 1 : NULL;
    if (strcasecmp(name, "shmcb") == 0 && (arg == NULL || *arg == '\0')) {
        arg = apr_psprintf(ptemp, "%s(%d)", ap_runtime_dir_relative(ptemp, "kstoken-tokens"),
                           DEFAULT_SHMCB_SIZE);
    }
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (provider == NULL) {
        *why = apr_psprintf(ptemp,
                            "KstokenCache: %s is no socache provider httpd knows (LoadModule "
                            "socache_%s_module)",
                            name, name);
    }
    *name_out = name;
    *arg_out = arg;
    return provider;
}

/* Whether the second level is a socache (not memcached, not none). */
static int wants_socache(void)
{
    const kstoken_global *g = kstoken_global_get();
    return !g->memcached_servers && !(g->cache && strcasecmp(g->cache, "none") == 0);
}

apr_status_t kstoken_cache_check(apr_pool_t *ptemp, server_rec *s)
{
    const kstoken_global *g = kstoken_global_get();
    const char *name, *arg, *why = NULL, *err;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *probe = NULL;
    if (!wants_socache()) {
        return APR_SUCCESS;
    }
    provider = socache_of(ptemp, &name, &arg, &why);
    if (provider == NULL) {
        /* The default is shmcb when httpd has it: without, there is no second level. */
        if (g->cache == NULL) {
            return APR_SUCCESS;
        }
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, "%s", why);
        return APR_EGENERAL;
    }
    /* The argument is checked now (httpd -t), the cache made at post_config. */
    err = provider->create(&probe, arg, ptemp, ptemp);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, "KstokenCache: %s", err);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t kstoken_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    kstoken_global *g = kstoken_global_get();
    const char *name, *arg, *why = NULL, *err;
    const ap_socache_provider_t *provider;
    struct ap_socache_hints hints = {64, 16384, 300};
    apr_status_t rv;

    if (g->memcached_servers) {
        g->socache_description = apr_psprintf(
            pconf, "memcached %s (%s)", apr_array_pstrcat(ptemp, g->memcached_servers, ','),
            g->memcache_format == KST_SHARED_CACHE_MAC       ? "MAC"
            : g->memcache_format == KST_SHARED_CACHE_ENCRYPT ? "ENCRYPT"
                                                             : "None");
        return APR_SUCCESS;
    }
    if (!wants_socache()) {
        return APR_SUCCESS;
    }
    provider = socache_of(ptemp, &name, &arg, &why);
    if (provider == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "mod_kstoken: no second-level token cache (%s): each child validates the "
                     "tokens it has not seen",
                     why);
        return APR_SUCCESS;
    }
    err = provider->create(&g->socache_instance, arg, ptemp, pconf);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, "KstokenCache: %s", err);
        g->socache_instance = NULL;
        return APR_EGENERAL;
    }
    g->socache = provider;
    if (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&g->socache_mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                         "mod_kstoken: cannot create the %s mutex", MUTEX_TYPE);
            g->socache_instance = NULL;
            return rv;
        }
    }
    rv = provider->init(g->socache_instance, "kstoken", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     "KstokenCache: cannot initialise %s%s%s", name, arg ? ":" : "",
                     arg ? arg : "");
        g->socache_instance = NULL;
        return rv;
    }
    apr_pool_cleanup_register(pconf, g, destroy_socache, apr_pool_cleanup_null);
    g->socache_description =
        apr_psprintf(pconf, "socache %s%s%s", name, arg ? ":" : "", arg ? arg : "");
    return APR_SUCCESS;
}

void kstoken_cache_child_init(apr_pool_t *pchild, server_rec *s)
{
    kstoken_global *g = kstoken_global_get();
    if (g->socache_mutex) {
        apr_status_t rv = apr_global_mutex_child_init(
            &g->socache_mutex, apr_global_mutex_lockfile(g->socache_mutex), pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "mod_kstoken: the %s mutex cannot be used in this child: no "
                         "second-level cache",
                         MUTEX_TYPE);
            g->socache_instance = NULL;
        }
    }
    if (g->memcached_servers) {
        int threads = 1;
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
        memcache = kstoken_memcache_create(pchild, g->memcached_servers, g->memcache_timeout,
                                           g->memcache_dead_retry,
                                           threads < 1 ? 1 : threads > 64 ? 64 : threads, s);
        if (!memcache) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "mod_kstoken: cannot set up the memcached client: no second-level cache");
        }
    }
}

/* The socache key of a libkstoken key: the signing directory, then the key. */
static const char *socache_key(apr_pool_t *p, const char *ns, const char *key, unsigned int *len)
{
    const char *k = apr_pstrcat(p, ns, "\n", key, NULL);
    *len = (unsigned int)strlen(k);
    return k;
}

static int lock(kstoken_global *g, request_rec *r)
{
    apr_status_t rv;
    if (!g->socache_mutex) {
        return 1;
    }
    rv = apr_global_mutex_lock(g->socache_mutex);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "mod_kstoken: cannot lock the cache");
        return 0;
    }
    return 1;
}

static void unlock(kstoken_global *g)
{
    if (g->socache_mutex) {
        apr_global_mutex_unlock(g->socache_mutex);
    }
}

void kstoken_cache_fetch(request_rec *r, const char *ns, const kst_outcome *o,
                         kst_shared_values *found)
{
    kstoken_global *g = kstoken_global_get();
    int n = (int)kst_outcome_shared_key_count(o), i, k = 0;
    kst_shared_value *values = apr_pcalloc(r->pool, sizeof(kst_shared_value) * (apr_size_t)(n + 1));
    const char **keys = apr_palloc(r->pool, sizeof(char *) * (apr_size_t)(n + 1));
    for (i = 0; i < n; i++) {
        keys[i] = kst_outcome_shared_key(o, (size_t)i);
    }
    found->values = values;
    found->count = 0;
    if (g->memcached_servers) {
        const char **got = apr_palloc(r->pool, sizeof(char *) * (apr_size_t)(n + 1));
        apr_size_t *lens = apr_palloc(r->pool, sizeof(apr_size_t) * (apr_size_t)(n + 1));
        if (!memcache) {
            return;
        }
        kstoken_memcache_get(memcache, r, keys, n, got, lens);
        for (i = 0; i < n; i++) {
            if (got[i]) {
                values[k].key = keys[i];
                values[k].value = (const uint8_t *)got[i];
                values[k].value_len = lens[i];
                k++;
            }
        }
        found->count = (size_t)k;
        return;
    }
    if (!g->socache_instance) {
        return;
    }
    for (i = 0; i < n; i++) {
        unsigned int id_len, len = MAX_SOCACHE_VALUE;
        const char *id = socache_key(r->pool, ns, keys[i], &id_len);
        unsigned char *buf = apr_palloc(r->pool, MAX_SOCACHE_VALUE);
        apr_status_t rv;
        if (!lock(g, r)) {
            return;
        }
        rv = g->socache->retrieve(g->socache_instance, r->server, (const unsigned char *)id,
                                  id_len, buf, &len, r->pool);
        unlock(g);
        if (rv == APR_SUCCESS) {
            values[k].key = keys[i];
            values[k].value = buf;
            values[k].value_len = len;
            k++;
        }
    }
    found->count = (size_t)k;
}

void kstoken_cache_store(request_rec *r, const char *ns, const kst_outcome *o)
{
    kstoken_global *g = kstoken_global_get();
    size_t i, n = kst_outcome_shared_store_count(o);
    for (i = 0; i < n; i++) {
        const char *key = NULL;
        const uint8_t *value = NULL;
        size_t len = 0;
        int64_t ttl = 0;
        if (!kst_outcome_shared_store(o, i, &key, &value, &len, &ttl)) {
            continue;
        }
        if (g->memcached_servers) {
            if (memcache) {
                kstoken_memcache_set(memcache, r, key, (const char *)value, len, ttl);
            }
        }
        else if (g->socache_instance && len <= MAX_SOCACHE_VALUE) {
            unsigned int id_len;
            const char *id = socache_key(r->pool, ns, key, &id_len);
            /* 0 is "no time limit", as memcached reads it: a year here. */
            apr_time_t expiry = apr_time_now() + apr_time_from_sec(ttl > 0 ? ttl : 366 * 86400);
            if (!lock(g, r)) {
                return;
            }
            g->socache->store(g->socache_instance, r->server, (const unsigned char *)id, id_len,
                              expiry, (unsigned char *)apr_pmemdup(r->pool, value, len),
                              (unsigned int)len, r->pool);
            unlock(g);
        }
    }
}
