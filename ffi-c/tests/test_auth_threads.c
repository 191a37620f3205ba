/* One kst_authenticator used by 8 threads at once while two more replace what it holds: one swaps
 * the revocation list (a list that revokes the shared token, one that does not), the other swaps
 * the verifier (the original and a rotation of it). Each worker authenticates the shared token
 * (cached after its first use; revocation is checked for cached tokens too) and a token of its own
 * made for each iteration (validated every time, through a cache small enough to evict). Every
 * outcome must be one the state at some moment allows: the shared token passes or is revoked by
 * hash, never anything else; each fresh token passes with its own user's headers. Both lists must
 * have been in force while workers authenticated.
 *
 *   test_auth_threads [ITERATIONS [SWAP_EVERY]]
 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define THREADS 8
#define U8(s) ((const uint8_t *)(s))
/* 2030-01-01: the example certificates are valid from 2022, its tokens until 2038. */
#define NOW_US INT64_C(1893456000000000)

static int iterations = 20;
static int swap_every = 5;

/* The md5 hash of the shared token (auth_token_scoped.pem): list B revokes it. */
static const char LIST_B[] =
    "{\"revoked\": [{\"id\": \"4ab116d14dec63f1e59ce78e26664a2a\", "
    "\"expires\": \"2038-01-18T21:14:07Z\"}]}";
static const char LIST_A[] = "{\"revoked\": []}";

static const kst_authenticator *auth;
static kst_signer *signer;
static const char *shared_token;
/* Outcomes of the shared token: passed (0), revoked (1). */
static atomic_int seen[2];
static atomic_int workers_running;
/* Lists installed by the swapper, and workers waiting for the first or second one: workers start
 * once list B is in force and wait half-way for list A, so both are used however the threads are
 * scheduled (valgrind runs one at a time). */
static atomic_int swaps;
static atomic_int waiting_for[3];

static void wait_for_swaps(int n) {
  atomic_fetch_add(&waiting_for[n], 1);
  while (atomic_load(&swaps) < n) sched_yield();
  atomic_fetch_sub(&waiting_for[n], 1);
}

/* Whether every running worker waits for the swapper's next list. */
static int workers_wait_for_next(void) {
  int next = atomic_load(&swaps) + 1;
  return next < 3 && atomic_load(&waiting_for[next]) == atomic_load(&workers_running);
}

typedef struct {
  int index;
  int ok;
  int bad;
} job;

static int header_is(const kst_outcome *o, const char *name, const char *expected) {
  int match = 0;
  for (size_t i = 0; i < kst_outcome_header_count(o); i++) {
    const char *h = NULL, *v = NULL;
    size_t len = 0;
    kst_outcome_header(o, i, &h, NULL, &v, &len);
    if (strcmp(h, name) == 0)
      match = v != NULL && len == strlen(expected) && memcmp(v, expected, len) == 0;
  }
  return match;
}

static void *worker(void *arg) {
  job *j = arg;
  char body[512], user[32];
  snprintf(user, sizeof user, "user-%d", j->index);
  wait_for_swaps(1);
  for (int i = 0; i < iterations; i++) {
    if (i == iterations / 2) wait_for_swaps(2);
    kst_outcome *o = NULL;
    if (kst_authenticate(auth, U8(shared_token), strlen(shared_token), NULL, 0, NULL, NOW_US, NULL,
                         &o, NULL) != KST_OK) {
      j->bad++;
      continue;
    }
    const char *refusal = kst_outcome_refusal(o, KST_TOKEN_USER);
    if (kst_outcome_decision(o) == KST_DECISION_PASS && header_is(o, "X-User-Name", "user_name1")) {
      atomic_fetch_add(&seen[0], 1);
      j->ok++;
    } else if (kst_outcome_decision(o) == KST_DECISION_REJECT && refusal &&
               strcmp(refusal, "revoked_by_hash") == 0) {
      atomic_fetch_add(&seen[1], 1);
      j->ok++;
    } else {
      j->bad++;
    }
    kst_outcome_free(o);

    /* A token of this thread's own, new at every iteration. */
    snprintf(body, sizeof body,
             "{\"token\": {\"methods\": [\"password\"], \"roles\": [{\"id\": \"r\", \"name\": "
             "\"member\"}], \"expires_at\": \"2035-01-01T00:00:00.000000Z\", \"project\": "
             "{\"domain\": {\"id\": \"default\", \"name\": \"Default\"}, \"id\": \"p\", \"name\": "
             "\"demo\"}, \"user\": {\"domain\": {\"id\": \"default\", \"name\": \"Default\"}, "
             "\"id\": \"%s-%d\", \"name\": \"%s\"}, \"audit_ids\": [\"a-%d-%d\"], \"issued_at\": "
             "\"2029-12-31T23:00:00.000000Z\"}}",
             user, i, user, j->index, i);
    uint8_t *token = NULL;
    size_t token_len = 0;
    if (kst_signer_sign_pkiz(signer, U8(body), strlen(body), &token, &token_len, NULL) != KST_OK) {
      j->bad++;
      continue;
    }
    o = NULL;
    if (kst_authenticate(auth, token, token_len, NULL, 0, NULL, NOW_US, NULL, &o, NULL) == KST_OK &&
        kst_outcome_decision(o) == KST_DECISION_PASS &&
        kst_outcome_source(o, KST_TOKEN_USER) == KST_SOURCE_VALIDATED &&
        header_is(o, "X-User-Name", user))
      j->ok++;
    else
      j->bad++;
    kst_outcome_free(o);
    kst_bytes_free(token);
  }
  atomic_fetch_sub(&workers_running, 1);
  return NULL;
}

typedef struct {
  int lists;
  int bad;
} swapper;

/* Installs list B, then A, then B, ...; each stays until `swap_every` outcomes of its kind have
 * been seen (or the workers are done). */
static void *list_swapper(void *arg) {
  swapper *s = arg;
  for (int n = 0; atomic_load(&workers_running) > 0; n++) {
    int revoking = n % 2 == 0;
    const char *json = revoking ? LIST_B : LIST_A;
    const kst_revocation_list *list = NULL;
    if (kst_revocation_list_from_json(U8(json), strlen(json), NULL, &list, NULL) != KST_OK ||
        kst_authenticator_set_revocation_list(auth, list, INT64_MAX, NULL) != KST_OK)
      s->bad++;
    /* The authenticator holds its own reference: ours goes at once. */
    kst_revocation_list_free(list);
    s->lists++;
    int before = atomic_load(&seen[revoking]);
    atomic_fetch_add(&swaps, 1);
    while (atomic_load(&seen[revoking]) - before < swap_every && atomic_load(&workers_running) > 0 &&
           !workers_wait_for_next())
      sched_yield();
  }
  return NULL;
}

typedef struct {
  const kst_verifier *original;
  const char *cert;
  size_t cert_len;
  int swaps;
  int bad;
} verifier_swapper;

static void *verifier_swap(void *arg) {
  verifier_swapper *v = arg;
  while (atomic_load(&workers_running) > 0) {
    const kst_verifier *rotated = NULL, *current = NULL;
    if (kst_authenticator_verifier(auth, &current, NULL) != KST_OK || current == NULL ||
        kst_verifier_rotate(current, U8(v->cert), v->cert_len, NOW_US / 1000000, &rotated, NULL) !=
            KST_OK ||
        kst_authenticator_set_verifier(auth, v->swaps % 2 ? v->original : rotated, NULL) != KST_OK)
      v->bad++;
    kst_verifier_free(current);
    kst_verifier_free(rotated);
    v->swaps++;
    sched_yield();
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) iterations = atoi(argv[1]);
  if (argc > 2) swap_every = atoi(argv[2]);
  CHECK(iterations >= 2 && swap_every >= 1);
  size_t cert_len, ca_len, key_len;
  char *cert = read_vector(KC6 "certs/signing_cert.pem", &cert_len);
  char *ca = read_vector(KC6 "certs/cacert.pem", &ca_len);
  char *key = read_vector(KC6 "private/signing_key.pem", &key_len);
  char *pem = read_vector(KC6 "cms/auth_token_scoped.pem", NULL);
  char *token = pem_to_token(pem);
  shared_token = token;

  const kst_verifier *verifier = NULL;
  kst_auth_config_builder *b = NULL;
  const kst_auth_config *config = NULL;
  CHECK(kst_verifier_new(U8(cert), cert_len, U8(ca), ca_len, &verifier, NULL) == KST_OK);
  CHECK(kst_signer_new(U8(cert), cert_len, U8(key), key_len, "sha256", false, &signer, NULL) ==
        KST_OK);
  CHECK(kst_auth_config_builder_new(&b, NULL) == KST_OK);
  CHECK(kst_auth_config_builder_set_revocation(b, KST_REVOCATION_ENFORCE_CACHED, NULL) == KST_OK);
  /* Small enough that the fresh tokens evict each other (and the shared one) all along. */
  CHECK(kst_auth_config_builder_set_token_cache(b, 300, 16, 1 << 20, NULL) == KST_OK);
  CHECK(kst_auth_config_builder_build(b, &config, NULL) == KST_OK);
  kst_auth_config_builder_free(b);
  CHECK(kst_authenticator_new(config, &auth, NULL) == KST_OK);
  kst_auth_config_free(config);
  CHECK(kst_authenticator_set_verifier(auth, verifier, NULL) == KST_OK);
  const kst_revocation_list *first = NULL;
  CHECK(kst_revocation_list_from_json(U8(LIST_A), strlen(LIST_A), NULL, &first, NULL) == KST_OK);
  CHECK(kst_authenticator_set_revocation_list(auth, first, INT64_MAX, NULL) == KST_OK);
  kst_revocation_list_free(first);

  atomic_store(&workers_running, THREADS);
  pthread_t threads[THREADS], lists_thread, verifier_thread;
  job jobs[THREADS];
  swapper s = {0, 0};
  verifier_swapper v = {verifier, cert, cert_len, 0, 0};
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){t, 0, 0};
    CHECK(pthread_create(&threads[t], NULL, worker, &jobs[t]) == 0);
  }
  CHECK(pthread_create(&lists_thread, NULL, list_swapper, &s) == 0);
  CHECK(pthread_create(&verifier_thread, NULL, verifier_swap, &v) == 0);
  for (int t = 0; t < THREADS; t++) {
    CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(jobs[t].bad == 0);
    CHECK(jobs[t].ok == 2 * iterations);
    passed += jobs[t].ok;
    failed += jobs[t].bad;
  }
  CHECK(pthread_join(lists_thread, NULL) == 0);
  CHECK(pthread_join(verifier_thread, NULL) == 0);
  CHECK(s.bad == 0 && v.bad == 0);
  CHECK(s.lists >= 2 && v.swaps >= 1);
  /* Both lists were in force while workers authenticated. */
  CHECK(atomic_load(&seen[0]) > 0 && atomic_load(&seen[1]) > 0);
  CHECK(atomic_load(&seen[0]) + atomic_load(&seen[1]) == THREADS * iterations);

  kst_authenticator_free(auth);
  kst_signer_free(signer);
  kst_verifier_free(verifier);
  free(token);
  free(pem);
  free(key);
  free(ca);
  free(cert);
  return finish();
}
