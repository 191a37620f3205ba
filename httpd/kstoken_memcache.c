/*
 * memcached for mod_kstoken: the text protocol's `get` (several keys at once) and `set ...
 * noreply`, with every wait bounded (KstokenMemcacheSocketTimeout covers the connection, each send
 * and each read) and every length checked before anything is allocated.
 *
 * Why not APR-util's apr_memcache: after connecting it sets its sockets to block without a timeout
 * (a memcached that stops answering holds the request's thread for good), a multi-get that times
 * out leaks its connections out of the pool (then every request waits for one), and a value's
 * length is taken from the server and allocated as is. Its hash is used: the server for a key is
 * python-memcached's (kstoken.middleware's and keystonemiddleware's client), `(crc32(key) >> 16) &
 * 0x7fff` (apr_memcache_hash_default), 1 for 0, modulo the number of servers; a server found failing
 * is left alone for KstokenMemcacheDeadRetry and its keys go where python-memcached sends them
 * then (the hash of the decimal hash and the attempt's number, up to 10 attempts).
 *
 * Values are stored with flags 0, as kstoken.middleware (pymemcache, bytes) stores them; the flags
 * of a value read are ignored (keystonemiddleware's python-memcached marks text with 16): what is
 * not token data in keystonemiddleware's format is a miss for libkstoken.
 *
 * Connections: a fixed number of slots per server, made at child_init (each with its own pool,
 * cleared when its connection closes); a request that finds every slot of a server busy reads a
 * miss instead of waiting. A connection memcached closed (a restart makes every idle one stale) is
 * retried once on a new one before the server counts as failing.
 */
#include <string.h>

#include "mod_kstoken.h"

#include "http_log.h"
#include "apr_memcache.h"
#include "apr_network_io.h"
#include "apr_strings.h"

APLOG_USE_MODULE(kstoken);

/* memcached's longest key. */
#define MAX_KEY 250
/* The longest value read: token data in the ENCRYPT format (the core's bound, twice the JSON limit
 * of 1 MiB, plus room). */
#define MAX_VALUE ((2u << 20) + 4096u)
/* The largest value stored: memcached's default item limit is 1 MiB, and a value it refuses gets
 * an error reply even with noreply, which would then be read as the next get's reply. */
#define MAX_STORED ((1u << 20) - 4096u)
/* The read buffer of a connection (a reply line, and values in pieces). */
#define BUF_SIZE 16384
/* python-memcached's attempts at finding a live server for a key. */
#define SERVER_RETRIES 10

typedef struct {
    const char *host;
    apr_port_t port;
    const char *name;
    apr_time_t dead_until;
} mc_server;

typedef struct {
    apr_pool_t *pool;
    apr_socket_t *sock;
    char *buf;
    apr_size_t start, end;
    int busy;
} mc_conn;

struct kstoken_memcache {
    /* Guards the slots' `busy` and the servers' `dead_until`. */
    apr_thread_mutex_t *lock;
    mc_server *servers;
    int n;
    mc_conn *conns;
    int slots;
    apr_interval_time_t timeout;
    apr_interval_time_t dead_retry;
    server_rec *s;
};

static apr_uint32_t server_hash(const char *data, apr_size_t len)
{
    apr_uint32_t h = apr_memcache_hash_default(NULL, data, len);
    return h ? h : 1;
}

int kstoken_memcache_server_for(const char *key, int n)
{
    return n > 0 ? (int)(server_hash(key, strlen(key)) % (apr_uint32_t)n) : -1;
}

/* The live server for `key` as python-memcached finds it; -1 when none is. Caller holds lock. */
static int choose(kstoken_memcache *mc, const char *key, apr_time_t now)
{
    apr_uint32_t h = server_hash(key, strlen(key));
    int i;
    for (i = 0; i < SERVER_RETRIES; i++) {
        int server = (int)(h % (apr_uint32_t)mc->n);
        char next[48];
        if (mc->servers[server].dead_until <= now) {
            return server;
        }
        apr_snprintf(next, sizeof next, "%u%d", h, i);
        h = server_hash(next, strlen(next));
    }
    return -1;
}

static apr_status_t close_all(void *data)
{
    kstoken_memcache *mc = data;
    int i;
    for (i = 0; i < mc->n * mc->slots; i++) {
        if (mc->conns[i].sock) {
            apr_socket_close(mc->conns[i].sock);
            mc->conns[i].sock = NULL;
        }
    }
    return APR_SUCCESS;
}

kstoken_memcache *kstoken_memcache_create(apr_pool_t *pchild, const apr_array_header_t *servers,
                                          apr_interval_time_t timeout,
                                          apr_interval_time_t dead_retry, int slots, server_rec *s)
{
    kstoken_memcache *mc = apr_pcalloc(pchild, sizeof *mc);
    int i;
    mc->n = servers->nelts;
    mc->slots = slots < 1 ? 1 : slots;
    mc->timeout = timeout;
    mc->dead_retry = dead_retry;
    mc->s = s;
    mc->servers = apr_pcalloc(pchild, sizeof(mc_server) * (apr_size_t)mc->n);
    mc->conns = apr_pcalloc(pchild, sizeof(mc_conn) * (apr_size_t)(mc->n * mc->slots));
    if (apr_thread_mutex_create(&mc->lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 0; i < mc->n; i++) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        const char *name = APR_ARRAY_IDX(servers, i, const char *);
        if (apr_parse_addr_port(&host, &scope, &port, name, pchild) != APR_SUCCESS || !host) {
            return NULL;
        }
        mc->servers[i].host = host;
        mc->servers[i].port = port ? port : 11211;
        mc->servers[i].name = name;
    }
    for (i = 0; i < mc->n * mc->slots; i++) {
        if (apr_pool_create(&mc->conns[i].pool, pchild) != APR_SUCCESS) {
            return NULL;
        }
        apr_pool_tag(mc->conns[i].pool, "kstoken-memcached");
        mc->conns[i].buf = apr_palloc(pchild, BUF_SIZE);
    }
    apr_pool_cleanup_register(pchild, mc, close_all, apr_pool_cleanup_null);
    return mc;
}

static void conn_close(mc_conn *c)
{
    if (c->sock) {
        apr_socket_close(c->sock);
        c->sock = NULL;
    }
    apr_pool_clear(c->pool);
    c->start = c->end = 0;
}

/* A free slot of `server` (a connected one first); NULL when all are busy. */
static mc_conn *acquire(kstoken_memcache *mc, int server)
{
    mc_conn *free_slot = NULL;
    int k;
    apr_thread_mutex_lock(mc->lock);
    for (k = 0; k < mc->slots; k++) {
        mc_conn *c = &mc->conns[server * mc->slots + k];
        if (c->busy) {
            continue;
        }
        if (c->sock) {
            free_slot = c;
            break;
        }
        if (!free_slot) {
            free_slot = c;
        }
    }
    if (free_slot) {
        free_slot->busy = 1;
    }
    apr_thread_mutex_unlock(mc->lock);
    return free_slot;
}

static void release(kstoken_memcache *mc, mc_conn *c)
{
    apr_thread_mutex_lock(mc->lock);
    c->busy = 0;
    apr_thread_mutex_unlock(mc->lock);
}

static void failed(kstoken_memcache *mc, int server, request_rec *r, const char *what,
                   apr_status_t rv)
{
    char err[120];
    apr_thread_mutex_lock(mc->lock);
    mc->servers[server].dead_until = apr_time_now() + mc->dead_retry;
    apr_thread_mutex_unlock(mc->lock);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                  "mod_kstoken: memcached %s at %s failed (%s); not using that server for %"
                  APR_TIME_T_FMT " ms",
                  what, mc->servers[server].name,
                  rv ? apr_strerror(rv, err, sizeof err) : "protocol error",
                  apr_time_as_msec(mc->dead_retry));
}

static apr_status_t conn_open(kstoken_memcache *mc, mc_conn *c, int server)
{
    apr_sockaddr_t *sa = NULL;
    apr_status_t rv;
    const mc_server *sv = &mc->servers[server];
    rv = apr_sockaddr_info_get(&sa, sv->host, APR_UNSPEC, sv->port, 0, c->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_socket_create(&c->sock, sa->family, SOCK_STREAM, APR_PROTO_TCP, c->pool);
    }
    if (rv == APR_SUCCESS) {
        apr_socket_opt_set(c->sock, APR_TCP_NODELAY, 1);
        /* Every wait on this socket, the connection included, lasts at most this long. */
        rv = apr_socket_timeout_set(c->sock, mc->timeout);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_connect(c->sock, sa);
    }
    if (rv != APR_SUCCESS) {
        conn_close(c);
    }
    return rv;
}

static apr_status_t send_all(mc_conn *c, struct iovec *vec, int n)
{
    while (n > 0) {
        apr_size_t written = 0;
        apr_status_t rv = apr_socket_sendv(c->sock, vec, n, &written);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        while (n > 0 && written >= vec->iov_len) {
            written -= vec->iov_len;
            vec++;
            n--;
        }
        if (n > 0) {
            vec->iov_base = (char *)vec->iov_base + written;
            vec->iov_len -= written;
        }
    }
    return APR_SUCCESS;
}

/* Fills the buffer with what the server sent (at least one byte more). */
static apr_status_t fill(mc_conn *c)
{
    apr_size_t n;
    apr_status_t rv;
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == BUF_SIZE) {
        return APR_ENOSPC;
    }
    n = BUF_SIZE - c->end;
    rv = apr_socket_recv(c->sock, c->buf + c->end, &n);
    if (rv == APR_SUCCESS && n == 0) {
        rv = APR_EOF;
    }
    if (n > 0) {
        c->end += n;
        return APR_SUCCESS;
    }
    return rv;
}

/* A reply line (without CRLF), NUL-terminated in the buffer; APR_ENOSPC if longer than it. */
static apr_status_t read_line(mc_conn *c, char **line)
{
    for (;;) {
        char *crlf = NULL;
        apr_size_t i;
        for (i = c->start; i + 1 < c->end; i++) {
            if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') {
                crlf = c->buf + i;
                break;
            }
        }
        if (crlf) {
            *crlf = '\0';
            *line = c->buf + c->start;
            c->start = (apr_size_t)(crlf - c->buf) + 2;
            return APR_SUCCESS;
        }
        if (c->end - c->start >= BUF_SIZE) {
            return APR_ENOSPC;
        }
        {
            apr_status_t rv = fill(c);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
}

/* Exactly `len` bytes into `out`. */
static apr_status_t read_exact(mc_conn *c, char *out, apr_size_t len)
{
    apr_size_t got = 0;
    while (got < len) {
        apr_size_t have = c->end - c->start;
        if (have == 0) {
            apr_status_t rv = fill(c);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        if (have > len - got) {
            have = len - got;
        }
        memcpy(out + got, c->buf + c->start, have);
        c->start += have;
        got += have;
    }
    return APR_SUCCESS;
}

/* Whether `key` can be sent as a memcached key. */
static int valid_key(const char *key)
{
    apr_size_t n = strlen(key), i;
    if (n == 0 || n > MAX_KEY) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch <= ' ' || ch == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* One `get` of the keys `idx[0..m)` on a connection; APR_EGENERAL for a reply that breaks the
 * protocol. */
static apr_status_t get_on(mc_conn *c, request_rec *r, const char *const *keys, const int *idx,
                           int m, const char **values, apr_size_t *lens)
{
    struct iovec *vec = apr_palloc(r->pool, sizeof(struct iovec) * (apr_size_t)(2 * m + 1));
    int v = 0, i;
    apr_status_t rv;
    char *line;
    vec[v].iov_base = (void *)"get";
    vec[v++].iov_len = 3;
    for (i = 0; i < m; i++) {
        vec[v].iov_base = (void *)" ";
        vec[v++].iov_len = 1;
        vec[v].iov_base = (void *)keys[idx[i]];
        vec[v++].iov_len = strlen(keys[idx[i]]);
    }
    vec[v].iov_base = (void *)"\r\n";
    vec[v++].iov_len = 2;
    rv = send_all(c, vec, v);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        char *last = NULL, *word, *key;
        apr_int64_t bytes;
        char *end = NULL;
        int found = -1;
        rv = read_line(c, &line);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (strcmp(line, "END") == 0) {
            return APR_SUCCESS;
        }
        if (strncmp(line, "SERVER_ERROR", 12) == 0 || strncmp(line, "CLIENT_ERROR", 12) == 0) {
            /* A `set ... noreply` memcached refused anyway: a reply to an earlier command. */
            continue;
        }
        word = apr_strtok(line, " ", &last);
        if (!word || strcmp(word, "VALUE") != 0) {
            return APR_EGENERAL;
        }
        key = apr_strtok(NULL, " ", &last);
        (void)apr_strtok(NULL, " ", &last); /* the flags: ignored */
        word = apr_strtok(NULL, " ", &last);
        if (!key || !word) {
            return APR_EGENERAL;
        }
        bytes = apr_strtoi64(word, &end, 10);
        if (*end != '\0' || bytes < 0 || (apr_uint64_t)bytes > MAX_VALUE) {
            return APR_EGENERAL;
        }
        for (i = 0; i < m; i++) {
            if (strcmp(keys[idx[i]], key) == 0) {
                found = idx[i];
                break;
            }
        }
        if (found < 0) {
            return APR_EGENERAL;
        }
        {
            char *value = apr_palloc(r->pool, (apr_size_t)bytes + 2);
            rv = read_exact(c, value, (apr_size_t)bytes + 2);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            if (value[bytes] != '\r' || value[bytes + 1] != '\n') {
                return APR_EGENERAL;
            }
            values[found] = value;
            lens[found] = (apr_size_t)bytes;
        }
    }
}

/* Runs `op` on a connection to `server`: on a reused connection that memcached closed, once more
 * on a new one. Returns whether it succeeded; a failure leaves the server alone for a while. */
static int with_connection(kstoken_memcache *mc, request_rec *r, int server, const char *what,
                           apr_status_t (*op)(mc_conn *, request_rec *, void *), void *arg)
{
    mc_conn *c = acquire(mc, server);
    apr_status_t rv = APR_SUCCESS;
    int attempt;
    if (!c) {
        return 0;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        int reused = c->sock != NULL;
        if (!reused) {
            rv = conn_open(mc, c, server);
            if (rv != APR_SUCCESS) {
                break;
            }
        }
        rv = op(c, r, arg);
        if (rv == APR_SUCCESS) {
            release(mc, c);
            return 1;
        }
        conn_close(c);
        if (!(reused && (APR_STATUS_IS_EOF(rv) || APR_STATUS_IS_ECONNRESET(rv) ||
                         APR_STATUS_IS_EPIPE(rv)))) {
            break;
        }
    }
    release(mc, c);
    failed(mc, server, r, what, rv == APR_EGENERAL ? 0 : rv);
    return 0;
}

typedef struct {
    const char *const *keys;
    const int *idx;
    int m;
    const char **values;
    apr_size_t *lens;
} get_args;

static apr_status_t get_op(mc_conn *c, request_rec *r, void *arg)
{
    get_args *a = arg;
    int i;
    for (i = 0; i < a->m; i++) {
        a->values[a->idx[i]] = NULL;
        a->lens[a->idx[i]] = 0;
    }
    return get_on(c, r, a->keys, a->idx, a->m, a->values, a->lens);
}

void kstoken_memcache_get(kstoken_memcache *mc, request_rec *r, const char *const *keys, int n,
                          const char **values, apr_size_t *lens)
{
    int *server_of = apr_palloc(r->pool, sizeof(int) * (apr_size_t)n);
    int *idx = apr_palloc(r->pool, sizeof(int) * (apr_size_t)n);
    apr_time_t now = apr_time_now();
    int i, s;
    apr_thread_mutex_lock(mc->lock);
    for (i = 0; i < n; i++) {
        values[i] = NULL;
        lens[i] = 0;
        server_of[i] = valid_key(keys[i]) ? choose(mc, keys[i], now) : -1;
    }
    apr_thread_mutex_unlock(mc->lock);
    /* One `get` per server, for all of its keys. */
    for (s = 0; s < mc->n; s++) {
        get_args a = {keys, idx, 0, values, lens};
        for (i = 0; i < n; i++) {
            if (server_of[i] == s) {
                idx[a.m++] = i;
            }
        }
        if (a.m > 0 && !with_connection(mc, r, s, "get", get_op, &a)) {
            for (i = 0; i < a.m; i++) {
                values[idx[i]] = NULL;
                lens[idx[i]] = 0;
            }
        }
    }
}

typedef struct {
    const char *key;
    const char *value;
    apr_size_t len;
    apr_int64_t ttl;
} set_args;

static apr_status_t set_op(mc_conn *c, request_rec *r, void *arg)
{
    set_args *a = arg;
    struct iovec vec[3];
    char *head = apr_psprintf(r->pool, "set %s 0 %" APR_INT64_T_FMT " %" APR_SIZE_T_FMT
                                       " noreply\r\n",
                              a->key, a->ttl, a->len);
    vec[0].iov_base = head;
    vec[0].iov_len = strlen(head);
    vec[1].iov_base = (void *)a->value;
    vec[1].iov_len = a->len;
    vec[2].iov_base = (void *)"\r\n";
    vec[2].iov_len = 2;
    return send_all(c, vec, 3);
}

void kstoken_memcache_set(kstoken_memcache *mc, request_rec *r, const char *key,
                          const char *value, apr_size_t len, apr_int64_t ttl)
{
    set_args a = {key, value, len, ttl < 0 ? 0 : ttl};
    int server;
    if (!valid_key(key) || len > MAX_STORED) {
        return;
    }
    apr_thread_mutex_lock(mc->lock);
    server = choose(mc, key, apr_time_now());
    apr_thread_mutex_unlock(mc->lock);
    if (server >= 0) {
        with_connection(mc, r, server, "set", set_op, &a);
    }
}
