/*
 * mod_kstoken: keystone PKI/PKIZ tokens validated in Apache httpd through libkstoken's auth_token
 * decision (the decision kstoken.middleware makes, from the same core code).
 *
 * What the module's files share: the configuration (kstoken_config.c), the signing directory
 * (kstoken_signing_dir.c), the second-level cache (kstoken_cache.c over httpd's socache or the
 * bounded memcached client of kstoken_memcache.c), the per-child registry of authenticators and
 * the per-request decision (kstoken_request.c), the authorization providers (kstoken_authz.c) and
 * the module record with its hooks (mod_kstoken.c). docs/httpd.md describes what it does.
 */
#ifndef MOD_KSTOKEN_H
#define MOD_KSTOKEN_H

#include "httpd.h"
#include "http_config.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"
#include "apr_thread_mutex.h"
#include "apr_thread_rwlock.h"

#include <kstoken.h>

extern module AP_MODULE_DECLARE_DATA kstoken_module;

/* Unset values: a location inherits them from the enclosing configuration. */
#define KSTOKEN_UNSET_FLAG (-1)
#define KSTOKEN_UNSET_INT (-2)

/* One configuration (a server's default, a <Location>, a <Directory>); strings in the config
 * pool. Each field is a keystonemiddleware option (docs/httpd.md names them). */
typedef struct {
    int enabled;                      /* Kstoken On|Off */
    const char *signing_dir;          /* KstokenSigningDir (signing_dir) */
    const char *enforce_token_bind;   /* KstokenEnforceTokenBind */
    const char *hash_algorithms;      /* KstokenHashAlgorithms */
    int delay_auth_decision;          /* KstokenDelayAuthDecision */
    int include_service_catalog;      /* KstokenIncludeServiceCatalog */
    apr_array_header_t *service_token_roles; /* KstokenServiceTokenRoles */
    int service_token_roles_required; /* KstokenServiceTokenRolesRequired */
    long token_cache_time;            /* KstokenTokenCacheTime (-1: no cache at all) */
    long cache_max_entries;           /* KstokenCacheMaxEntries (kstoken_cache_max_entries) */
    long cache_max_bytes;             /* KstokenCacheMaxBytes (kstoken_cache_max_bytes) */
    const char *www_authenticate_uri; /* KstokenWWWAuthenticateURI */
    const char *revocation;           /* KstokenRevocation enforce|off (kstoken_revocation) */
    int check_revocations_for_cached; /* KstokenCheckRevocationsForCached */
    long revocation_cache_time;       /* KstokenRevocationCacheTime (revocation_cache_time) */
    long revocation_stale_time;       /* KstokenRevocationStaleTime */
    /* Where the section is, for the startup checks' messages (set by its first directive). */
    server_rec *server;
    const char *section;
} kstoken_dir;

/* The server-wide settings and what post_config made of them: one per configuration generation,
 * allocated in pconf by pre_config (a graceful restart reads a new one). */
typedef struct {
    /* KstokenCache: NULL (the default, shmcb), "none", or "provider[:argument]". */
    const char *cache;
    /* KstokenMemcachedServers (memcached_servers): "host:port" strings, NULL without. */
    apr_array_header_t *memcached_servers;
    /* KstokenMemcacheSecurityStrategy / KstokenMemcacheSecretKey. */
    kst_shared_cache memcache_format;
    const char *memcache_secret;
    /* KstokenMemcacheSocketTimeout / KstokenMemcacheDeadRetry. */
    apr_interval_time_t memcache_timeout;
    apr_interval_time_t memcache_dead_retry;
    /* Every KstokenSigningDir value (each loaded once per child). */
    apr_array_header_t *signing_dirs;
    /* Every section a directive of the module was used in, for the startup checks. */
    apr_array_header_t *sections;
    /* The socache instance (post_config), its provider and, when it needs one, its mutex. */
    const ap_socache_provider_t *socache;
    ap_socache_instance_t *socache_instance;
    apr_global_mutex_t *socache_mutex;
    const char *socache_description;
} kstoken_global;

/* The server's: whether a directive of the module applies to it, so that identity headers sent
 * by clients are stripped from every one of its requests. */
typedef struct {
    int configured;
} kstoken_server;

/* What a request was decided to be: memoised in the request's config. */
typedef struct {
    int decided;
    /* OK to pass; HTTP_UNAUTHORIZED or HTTP_SERVICE_UNAVAILABLE when the module refuses it. */
    int status;
    /* Whether the module answers the refusal itself (its body, WWW-Authenticate). */
    int refused;
    /* Whether the user token, and the service token when one was sent, are valid. */
    int valid;
    /* The identity headers to set (name, value; value NULL: unset), in order. */
    apr_array_header_t *headers;
    /* X-Roles, X-Project-Id and X-Project-Name of a valid user token, for the providers. */
    const char *roles;
    const char *project_id;
    const char *project_name;
    /* Named in WWW-Authenticate: Keystone uri="..." */
    const char *www_authenticate_uri;
    /* Whether the headers were set on the request (fixups). */
    int applied;
} kstoken_req;

/* One header of a decision. */
typedef struct {
    const char *name;
    const char *environ_key;
    const char *value;
} kstoken_header;

/* kstoken_config.c */
extern const command_rec kstoken_cmds[];
kstoken_global *kstoken_global_get(void);
void kstoken_global_reset(apr_pool_t *pconf);
void *kstoken_create_dir(apr_pool_t *p, char *dir);
void *kstoken_merge_dir(apr_pool_t *p, void *base, void *add);
void *kstoken_create_server(apr_pool_t *p, server_rec *s);
void *kstoken_merge_server(apr_pool_t *p, void *base, void *add);
int kstoken_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
/* Marks `cfg` (the section of `cmd`) as using the module, for the startup checks. */
void kstoken_note_section(cmd_parms *cmd, kstoken_dir *cfg);
/* The effective value of each option, defaults applied. */
const char *kstoken_bind_mode(const kstoken_dir *c);
const char *kstoken_hash_algorithms(const kstoken_dir *c);
int kstoken_delay(const kstoken_dir *c);
int kstoken_revocation_enforced(const kstoken_dir *c);
long kstoken_token_cache_time(const kstoken_dir *c);
/* Builds the libkstoken configuration of `c`; NULL with *why set on failure. */
const kst_auth_config *kstoken_auth_config(const kstoken_dir *c, apr_pool_t *p, const char **why);
/* What the authenticator of a configuration depends on: equal keys, one authenticator. Binary,
 * for apr_hash (zeroed first, so padding compares equal). */
typedef struct {
    const char *signing_dir;
    const char *enforce_token_bind;
    const char *hash_algorithms;
    const apr_array_header_t *service_token_roles;
    const char *revocation;
    long numbers[9];
} kstoken_key;
void kstoken_auth_key(const kstoken_dir *c, kstoken_key *key);

/* kstoken_signing_dir.c: one per signing directory per child. */
typedef struct kstoken_sdir kstoken_sdir;
kstoken_sdir *kstoken_sdir_create(apr_pool_t *pchild, const char *path, server_rec *s);
/* Re-reads the files when they changed (at most once a second); never waits on another thread
 * once certificates are loaded. */
void kstoken_sdir_refresh(kstoken_sdir *d, server_rec *s, apr_time_t now);
/* The generation of the certificates and of the list (changes when either is replaced). */
apr_uint32_t kstoken_sdir_cert_gen(kstoken_sdir *d);
apr_uint32_t kstoken_sdir_list_gen(kstoken_sdir *d);
/* New references to the verifier and the list in force (either may be NULL; free them), and the
 * list's time (its file's modification time). */
void kstoken_sdir_current(kstoken_sdir *d, const kst_verifier **verifier,
                          const kst_revocation_list **list, apr_time_t *list_time,
                          apr_uint32_t *cert_gen, apr_uint32_t *list_gen);
const char *kstoken_sdir_path(const kstoken_sdir *d);

/* kstoken_memcache.c: a memcached client with bounded waits, per child. */
typedef struct kstoken_memcache kstoken_memcache;
kstoken_memcache *kstoken_memcache_create(apr_pool_t *pchild, const apr_array_header_t *servers,
                                          apr_interval_time_t timeout,
                                          apr_interval_time_t dead_retry, int slots,
                                          server_rec *s);
/* Fetches `keys[0..n)`: values[i] set (in `p`) for each found, NULL otherwise. */
void kstoken_memcache_get(kstoken_memcache *mc, request_rec *r, const char *const *keys, int n,
                          const char **values, apr_size_t *lens);
void kstoken_memcache_set(kstoken_memcache *mc, request_rec *r, const char *key,
                          const char *value, apr_size_t len, apr_int64_t ttl);
/* python-memcached's choice of server for `key` among `n` (before any is found dead). */
int kstoken_memcache_server_for(const char *key, int n);

/* kstoken_cache.c: the second-level cache (socache or memcached). */
apr_status_t kstoken_cache_register_mutex(apr_pool_t *pconf);
/* Checks KstokenCache (httpd -t included); the cache itself is made at post_config. */
apr_status_t kstoken_cache_check(apr_pool_t *ptemp, server_rec *s);
apr_status_t kstoken_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void kstoken_cache_child_init(apr_pool_t *pchild, server_rec *s);
/* The shared-cache format authenticators use for it. */
kst_shared_cache kstoken_cache_format(void);
/* Fetches the keys a NEED_SHARED outcome names; the values found go to `found`. */
void kstoken_cache_fetch(request_rec *r, const char *ns, const kst_outcome *o,
                         kst_shared_values *found);
/* Stores the entries an outcome lists. */
void kstoken_cache_store(request_rec *r, const char *ns, const kst_outcome *o);
const char *kstoken_cache_describe(void);

/* kstoken_request.c */
void kstoken_child_init(apr_pool_t *pchild, server_rec *s);
int kstoken_post_read_request(request_rec *r);
int kstoken_gate_access(request_rec *r);
int kstoken_gate_authz(request_rec *r);
int kstoken_fixups(request_rec *r);
void kstoken_insert_error_filter(request_rec *r);
void kstoken_insert_filter(request_rec *r);
void kstoken_register_filters(void);
/* The decision for `r` (memoised); NULL where the module is off. */
kstoken_req *kstoken_decide(request_rec *r);

/* kstoken_authz.c */
void kstoken_register_authz(apr_pool_t *p);

#endif
