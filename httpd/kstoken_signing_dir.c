/*
 * The signing directory in keystonemiddleware's layout, as `kstoken sync` keeps it: the signing
 * certificate(s) (signing_cert.pem), the CA (cacert.pem, the trust anchor), keystone's signed
 * revocation list (revoked.signed.pem, its modification time its age) and the revocations held
 * from earlier lists (revoked.held.json, kstoken.middleware's). One per directory per child,
 * loaded at child_init and re-read when a file is replaced, with kstoken's file-change rule (the
 * ctime is part of a file's key, and a file changed less than 2 s ago is compared by content).
 *
 * Nothing is used before it is verified, and the last good state is kept: a signing certificate
 * must chain to the CA in force (a rotation); a new CA from the file is the operator's (or sync's
 * first run); a list must verify with the certificates in force and is merged with the list in
 * force (a revocation once seen holds until its token expires). No keystone I/O happens here.
 */
#include <string.h>

#include "mod_kstoken.h"

#include "http_log.h"
#include "apr_atomic.h"
#include "apr_file_io.h"
#include "apr_sha1.h"
#include "apr_strings.h"

APLOG_USE_MODULE(kstoken);

#define SIGNING_CERT "signing_cert.pem"
#define CA_CERT "cacert.pem"
#define REVOCATION_LIST "revoked.signed.pem"
#define HELD_REVOCATIONS "revoked.held.json"
/* Files are read with their size checked first: certificates up to libkstoken's credential
 * limit, lists up to its list limit. */
#define MAX_CERT_FILE (16 << 20)
#define MAX_LIST_FILE (64 << 20)
/* How long after its last change a file may still change without a new ctime. */
#define SETTLE apr_time_from_sec(2)

/* A file's key: what tells one version from another. */
typedef struct {
    int present;
    apr_ino_t inode;
    apr_dev_t device;
    apr_off_t size;
    apr_time_t mtime;
    apr_time_t ctime;
} file_stamp;

struct kstoken_sdir {
    const char *path;
    /* Guards everything below; held while files are read, never by a request that already has
     * certificates (those skip a check another thread is making). */
    apr_thread_mutex_t *lock;
    /* Cleared after each reload: file contents live here while they are read. */
    apr_pool_t *scratch;
    apr_time_t next_check;
    file_stamp cert_stamp, ca_stamp, list_stamp;
    int cert_settled, list_settled;
    unsigned char certs_digest[APR_SHA1_DIGESTSIZE];
    unsigned char ca_digest[APR_SHA1_DIGESTSIZE];
    unsigned char list_digest[APR_SHA1_DIGESTSIZE];
    const kst_verifier *verifier;
    const kst_revocation_list *list;
    apr_time_t list_time;
    int held_read;
    /* Bumped (atomically) when the verifier or the list (or its time) is replaced. */
    volatile apr_uint32_t cert_gen, list_gen;
    /* What was last logged about missing files, to say it once. */
    int missing_logged;
};

const char *kstoken_sdir_path(const kstoken_sdir *d)
{
    return d->path;
}

static apr_status_t release(void *data)
{
    kstoken_sdir *d = data;
    kst_verifier_free(d->verifier);
    kst_revocation_list_free(d->list);
    d->verifier = NULL;
    d->list = NULL;
    return APR_SUCCESS;
}

static void stamp_of(kstoken_sdir *d, const char *name, file_stamp *out)
{
    apr_finfo_t info;
    const char *file = apr_pstrcat(d->scratch, d->path, "/", name, NULL);
    memset(out, 0, sizeof *out);
    if (apr_stat(&info, file, APR_FINFO_IDENT | APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_CTIME,
                 d->scratch) == APR_SUCCESS &&
        info.filetype == APR_REG) {
        out->present = 1;
        out->inode = info.inode;
        out->device = info.device;
        out->size = info.size;
        out->mtime = info.mtime;
        out->ctime = info.ctime;
    }
}

static int same_stamp(const file_stamp *a, const file_stamp *b)
{
    return a->present == b->present && a->inode == b->inode && a->device == b->device &&
           a->size == b->size && a->mtime == b->mtime && a->ctime == b->ctime;
}

/* The file's contents (NUL-terminated) in the scratch pool, its size checked against `limit`
 * before anything is read; NULL with *why set when it cannot be read. */
static char *read_file(kstoken_sdir *d, const char *name, apr_size_t limit, apr_size_t *len,
                       const char **why)
{
    apr_file_t *f = NULL;
    apr_finfo_t info;
    apr_size_t want, got = 0;
    char *buf;
    apr_status_t rv;
    const char *file = apr_pstrcat(d->scratch, d->path, "/", name, NULL);
    char err[120];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, d->scratch);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&info, APR_FINFO_SIZE, f);
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(d->scratch, "cannot read %s: %s", file,
                            apr_strerror(rv, err, sizeof err));
        if (f) {
            apr_file_close(f);
        }
        return NULL;
    }
    if (info.size < 0 || (apr_uint64_t)info.size > limit) {
        *why = apr_psprintf(d->scratch, "%s has %" APR_OFF_T_FMT " bytes, more than %" APR_SIZE_T_FMT,
                            file, info.size, limit);
        apr_file_close(f);
        return NULL;
    }
    /* One byte more than the size: a file that grew meanwhile is seen, and refused. */
    want = (apr_size_t)info.size + 1;
    buf = apr_palloc(d->scratch, want + 1);
    while (got < want) {
        apr_size_t n = want - got;
        rv = apr_file_read(f, buf + got, &n);
        got += n;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        *why = apr_psprintf(d->scratch, "cannot read %s: %s", file,
                            apr_strerror(rv, err, sizeof err));
        return NULL;
    }
    if (got != (apr_size_t)info.size) {
        *why = apr_psprintf(d->scratch, "%s changed while it was read", file);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

static void digest(const char *a, apr_size_t a_len, const char *b, apr_size_t b_len,
                   unsigned char out[APR_SHA1_DIGESTSIZE])
{
    apr_sha1_ctx_t ctx;
    char sep[32];
    apr_size_t n = (apr_size_t)apr_snprintf(sep, sizeof sep, "%" APR_SIZE_T_FMT ":", a_len);
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)sep, (unsigned int)n);
    apr_sha1_update_binary(&ctx, (const unsigned char *)a, (unsigned int)a_len);
    if (b) {
        apr_sha1_update_binary(&ctx, (const unsigned char *)b, (unsigned int)b_len);
    }
    apr_sha1_final(out, &ctx);
}

static const char *kst_why(apr_pool_t *p, kst_error *err, kst_result rc)
{
    const char *msg = apr_pstrdup(p, err ? kst_error_message(err) : kst_result_message(rc));
    kst_error_free(err);
    return msg;
}

/* Reloads the certificates when their files changed. */
static void reload_certificates(kstoken_sdir *d, server_rec *s, apr_time_t now)
{
    file_stamp cert, ca;
    char *signing_pem, *ca_pem;
    apr_size_t signing_len = 0, ca_len = 0;
    unsigned char certs_digest[APR_SHA1_DIGESTSIZE], ca_digest[APR_SHA1_DIGESTSIZE];
    const char *why = NULL;
    const kst_verifier *next = NULL, *checked = NULL;
    kst_error *err = NULL;
    kst_result rc;
    apr_int64_t now_s = apr_time_sec(now);

    stamp_of(d, SIGNING_CERT, &cert);
    stamp_of(d, CA_CERT, &ca);
    if (same_stamp(&cert, &d->cert_stamp) && same_stamp(&ca, &d->ca_stamp) && d->cert_settled) {
        return;
    }
    d->cert_settled = now - cert.ctime >= SETTLE && now - ca.ctime >= SETTLE;
    if (!cert.present || !ca.present) {
        d->cert_stamp = cert;
        d->ca_stamp = ca;
        if (!d->missing_logged) {
            d->missing_logged = 1;
            ap_log_error(APLOG_MARK, d->verifier ? APLOG_WARNING : APLOG_ERR, 0, s,
                         "mod_kstoken: %s/%s or %s is missing: %s (run `kstoken sync "
                         "--signing-dir %s`)",
                         d->path, SIGNING_CERT, CA_CERT,
                         d->verifier ? "the certificates read before stay in force"
                                     : "PKI tokens are answered 503 until they are there",
                         d->path);
        }
        return;
    }
    d->missing_logged = 0;
    signing_pem = read_file(d, SIGNING_CERT, MAX_CERT_FILE, &signing_len, &why);
    ca_pem = signing_pem ? read_file(d, CA_CERT, MAX_CERT_FILE, &ca_len, &why) : NULL;
    if (ca_pem == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_kstoken: %s%s", why,
                     d->verifier ? "; the certificates read before stay in force" : "");
        /* Tried again at the next check (the stamps are not taken). */
        d->cert_settled = 0;
        return;
    }
    digest(signing_pem, signing_len, ca_pem, ca_len, certs_digest);
    digest(ca_pem, ca_len, NULL, 0, ca_digest);
    d->cert_stamp = cert;
    d->ca_stamp = ca;
    if (d->verifier && memcmp(certs_digest, d->certs_digest, sizeof certs_digest) == 0) {
        return;
    }
    if (d->verifier && memcmp(ca_digest, d->ca_digest, sizeof ca_digest) == 0) {
        /* The same CA: a new signing certificate must chain to it (a rotation). */
        rc = kst_verifier_rotate(d->verifier, (const uint8_t *)signing_pem, signing_len, now_s,
                                 &next, &err);
    }
    else {
        /* A first load, or a CA the operator replaced: every signing certificate must chain to
         * it. */
        rc = kst_verifier_new((const uint8_t *)signing_pem, signing_len, (const uint8_t *)ca_pem,
                              ca_len, &next, &err);
        if (rc == KST_OK) {
            rc = kst_verifier_rotate(next, (const uint8_t *)signing_pem, signing_len, now_s,
                                     &checked, &err);
            kst_verifier_free(checked);
        }
    }
    if (rc != KST_OK) {
        kst_verifier_free(next);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_kstoken: the certificates in %s are not used: %s%s", d->path,
                     kst_why(d->scratch, err, rc),
                     d->verifier ? "; the certificates in force stay" : "");
        /* Remember this version as seen: it is tried again only once its files change. */
        memcpy(d->certs_digest, certs_digest, sizeof certs_digest);
        return;
    }
    kst_verifier_free(d->verifier);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "mod_kstoken: %s the signing and CA certificates of %s",
                 d->verifier ? "reloaded" : "loaded", d->path);
    d->verifier = next;
    memcpy(d->certs_digest, certs_digest, sizeof certs_digest);
    memcpy(d->ca_digest, ca_digest, sizeof ca_digest);
    apr_atomic_inc32(&d->cert_gen);
}

/* Installs `list` (taking the reference) merged with the list in force. */
static void install_list(kstoken_sdir *d, server_rec *s, const kst_revocation_list *list,
                         apr_time_t now, const char *what)
{
    const kst_revocation_list *merged = NULL;
    size_t carried = 0;
    kst_error *err = NULL;
    if (d->list) {
        kst_result rc = kst_revocation_list_merge(list, d->list, apr_time_sec(now), &merged,
                                                  &carried, &err);
        if (rc != KST_OK) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_kstoken: merging %s: %s", what,
                         kst_why(d->scratch, err, rc));
            kst_revocation_list_free(list);
            return;
        }
        kst_revocation_list_free(list);
        list = merged;
        if (carried > 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "mod_kstoken: %s lacks %" APR_SIZE_T_FMT " revocation(s) seen in an "
                         "earlier list whose tokens have not expired (an older list: a replay, a "
                         "keystone restored from a backup, a replica behind?): they stay enforced "
                         "until their tokens expire",
                         what, (apr_size_t)carried);
        }
    }
    kst_revocation_list_free(d->list);
    d->list = list;
}

/* Reloads the revocation list when its file changed (or was touched: its time is its age). */
static void reload_list(kstoken_sdir *d, server_rec *s, apr_time_t now)
{
    file_stamp st;
    char *body;
    apr_size_t len = 0;
    unsigned char list_digest[APR_SHA1_DIGESTSIZE];
    const char *why = NULL;
    const kst_revocation_list *list = NULL;
    kst_error *err = NULL;
    kst_result rc;
    const char *what = apr_pstrcat(d->scratch, d->path, "/" REVOCATION_LIST, NULL);

    stamp_of(d, REVOCATION_LIST, &st);
    if (!st.present || (same_stamp(&st, &d->list_stamp) && d->list_settled) || !d->verifier) {
        return;
    }
    d->list_settled = now - st.ctime >= SETTLE;
    body = read_file(d, REVOCATION_LIST, MAX_LIST_FILE, &len, &why);
    if (body == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_kstoken: %s", why);
        d->list_settled = 0;
        return;
    }
    digest(body, len, NULL, 0, list_digest);
    d->list_stamp = st;
    if (d->list && memcmp(list_digest, d->list_digest, sizeof list_digest) == 0) {
        /* The same list, fetched again (sync sets its time to the fetch's). */
        if (st.mtime != d->list_time) {
            d->list_time = st.mtime;
            apr_atomic_inc32(&d->list_gen);
        }
        return;
    }
    rc = kst_revocation_list_from_signed_at((const uint8_t *)body, len, d->verifier,
                                            apr_time_sec(now), &list, &err);
    if (rc != KST_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "mod_kstoken: %s is not used: %s%s", what, kst_why(d->scratch, err, rc),
                     d->list ? "; the list in force stays, as old as it is" : "");
        memcpy(d->list_digest, list_digest, sizeof list_digest);
        return;
    }
    install_list(d, s, list, now, what);
    if (!d->held_read) {
        /* kstoken.middleware's revocations held from earlier lists (unsigned: they can only
         * add refusals). */
        file_stamp held;
        d->held_read = 1;
        stamp_of(d, HELD_REVOCATIONS, &held);
        if (held.present) {
            const char *json = read_file(d, HELD_REVOCATIONS, MAX_LIST_FILE, &len, &why);
            const kst_revocation_list *carried = NULL;
            if (json && kst_revocation_list_from_json((const uint8_t *)json, len, NULL, &carried,
                                                      &err) == KST_OK) {
                const kst_revocation_list *merged = NULL;
                if (kst_revocation_list_merge(d->list, carried, apr_time_sec(now), &merged, NULL,
                                              NULL) == KST_OK) {
                    kst_revocation_list_free(d->list);
                    d->list = merged;
                }
                kst_revocation_list_free(carried);
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_kstoken: %s/%s ignored: %s",
                             d->path, HELD_REVOCATIONS,
                             json ? kst_why(d->scratch, err, KST_MALFORMED) : why);
            }
        }
    }
    memcpy(d->list_digest, list_digest, sizeof list_digest);
    d->list_time = st.mtime;
    apr_atomic_inc32(&d->list_gen);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_kstoken: loaded %s (written %" APR_TIME_T_FMT
                 " s ago)", what, apr_time_sec(now - st.mtime));
}

/* One check of the files; the caller holds the lock. */
static void check(kstoken_sdir *d, server_rec *s, apr_time_t now)
{
    d->next_check = now + apr_time_from_sec(1);
    reload_certificates(d, s, now);
    reload_list(d, s, now);
    apr_pool_clear(d->scratch);
}

kstoken_sdir *kstoken_sdir_create(apr_pool_t *pchild, const char *path, server_rec *s)
{
    kstoken_sdir *d = apr_pcalloc(pchild, sizeof *d);
    d->path = apr_pstrdup(pchild, path);
    if (apr_thread_mutex_create(&d->lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS ||
        apr_pool_create(&d->scratch, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_kstoken: cannot set up %s", path);
        return NULL;
    }
    apr_pool_tag(d->scratch, "kstoken-signing-dir");
    apr_pool_cleanup_register(pchild, d, release, apr_pool_cleanup_null);
    check(d, s, apr_time_now());
    return d;
}

void kstoken_sdir_refresh(kstoken_sdir *d, server_rec *s, apr_time_t now)
{
    apr_status_t rv;
    if (now < d->next_check) {
        return;
    }
    /* With certificates loaded, a request never waits for another thread's check; without,
     * it waits for the files (local reads: no keystone). */
    rv = apr_atomic_read32(&d->cert_gen) ? apr_thread_mutex_trylock(d->lock)
                                         : apr_thread_mutex_lock(d->lock);
    if (rv != APR_SUCCESS) {
        return;
    }
    if (now >= d->next_check) {
        check(d, s, now);
    }
    apr_thread_mutex_unlock(d->lock);
}

apr_uint32_t kstoken_sdir_cert_gen(kstoken_sdir *d)
{
    return apr_atomic_read32(&d->cert_gen);
}

apr_uint32_t kstoken_sdir_list_gen(kstoken_sdir *d)
{
    return apr_atomic_read32(&d->list_gen);
}

void kstoken_sdir_current(kstoken_sdir *d, const kst_verifier **verifier,
                          const kst_revocation_list **list, apr_time_t *list_time,
                          apr_uint32_t *cert_gen, apr_uint32_t *list_gen)
{
    apr_thread_mutex_lock(d->lock);
    *verifier = kst_verifier_clone(d->verifier);
    *list = kst_revocation_list_clone(d->list);
    *list_time = d->list_time;
    *cert_gen = apr_atomic_read32(&d->cert_gen);
    *list_gen = apr_atomic_read32(&d->list_gen);
    apr_thread_mutex_unlock(d->lock);
}
