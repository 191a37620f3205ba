/* Shared handles used from 8 threads at once (verifier, signer, policy), while another thread
 * replaces the shared revocation list again and again: the pattern the header documents for
 * kst_revocation_list (a mutex-guarded slot; readers clone under the lock, the refresher swaps
 * under the lock and frees the old reference, which readers may still hold).
 *
 *   test_threads [ITERATIONS [SWAP_EVERY]]
 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define THREADS 8
#define U8(s) ((const uint8_t *)(s))

static int iterations = 25;
/* The refresher installs the next list once this many validations have used the current one. */
static int swap_every = 5;

/* The md5 hash of the scoped token: list B revokes it, list A (the upstream example) does not. */
static const char LIST_B[] =
    "{\"revoked\": [{\"id\": \"4ab116d14dec63f1e59ce78e26664a2a\", "
    "\"expires\": \"2038-01-18T21:14:07Z\"}]}";
#define LIST_A_LEN 4
#define LIST_B_LEN 1

/* The current revocation list, replaced by the refresher. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static const kst_revocation_list *slot = NULL;
/* Validations done with a list that revokes the token (1) or not (0). */
static atomic_int seen[2];
static atomic_int workers_running;
/* Lists installed by the refresher, and workers waiting for the second one. The workers start after
 * the first swap and wait half-way for the second, so that both lists are used and replaced while
 * in use however the threads are scheduled (valgrind runs one thread at a time and may not run the
 * refresher at all before the workers finish). */
static atomic_int swaps;
static atomic_int waiting_for[3];

/* Blocks the calling worker until the refresher has installed `n` (1 or 2) lists. */
static void wait_for_swaps(int n) {
  atomic_fetch_add(&waiting_for[n], 1);
  while (atomic_load(&swaps) < n)
    sched_yield();
  atomic_fetch_sub(&waiting_for[n], 1);
}

/* Whether every running worker waits for the refresher's next list. */
static int workers_wait_for_next(void) {
  int next = atomic_load(&swaps) + 1;
  return next < 3 && atomic_load(&waiting_for[next]) == atomic_load(&workers_running);
}

/* A new reference to the current list. */
static const kst_revocation_list *current_list(void) {
  pthread_mutex_lock(&slot_lock);
  const kst_revocation_list *list = kst_revocation_list_clone(slot);
  pthread_mutex_unlock(&slot_lock);
  return list;
}

/* Installs `list` (taking over the caller's reference) and drops the slot's reference to the old
 * one; threads still validating with the old list keep it alive until they free it. */
static void replace_list(const kst_revocation_list *list) {
  pthread_mutex_lock(&slot_lock);
  const kst_revocation_list *old = slot;
  slot = list;
  pthread_mutex_unlock(&slot_lock);
  kst_revocation_list_free(old);
}

typedef struct {
  const kst_verifier *verifier;
  const kst_signer *signer;
  const kst_policy *policy;
  const char *token;
  size_t content_len;
  int index;
  int ok;
  int bad;
} job;

static void *worker(void *arg) {
  job *j = arg;
  char body[128];
  wait_for_swaps(1);
  for (int i = 0; i < iterations; i++) {
    if (i == iterations / 2) wait_for_swaps(2);
    uint8_t *out = NULL;
    size_t out_len = 0;
    /* Verify the shared token. */
    if (kst_verifier_verify(j->verifier, U8(j->token), strlen(j->token), &out, &out_len, NULL) ==
            KST_OK &&
        out_len == j->content_len)
      j->ok++;
    else
      j->bad++;
    kst_bytes_free(out);

    /* Validate it with the current list: revoked exactly when that list is list B. */
    const kst_revocation_list *list = current_list();
    size_t entries = 0;
    kst_validated *v = NULL;
    kst_result rc = kst_validate(U8(j->token), strlen(j->token), j->verifier, list, j->policy,
                                 NULL, &v, NULL);
    int revoking = kst_revocation_list_len(list, &entries, NULL) == KST_OK &&
                   entries == LIST_B_LEN;
    if ((revoking && rc == KST_REVOKED && v == NULL) ||
        (!revoking && entries == LIST_A_LEN && rc == KST_OK && v != NULL))
      j->ok++;
    else
      j->bad++;
    kst_validated_free(v);
    kst_revocation_list_free(list);
    atomic_fetch_add(&seen[revoking], 1);

    /* Sign a per-thread body with the shared signer and verify it back. */
    snprintf(body, sizeof body, "{\"thread\": %d, \"i\": %d}", j->index, i);
    uint8_t *token = NULL;
    size_t token_len = 0;
    if (kst_signer_sign_pkiz(j->signer, U8(body), strlen(body), &token, &token_len, NULL) ==
            KST_OK &&
        kst_verifier_verify(j->verifier, token, token_len, &out, &out_len, NULL) == KST_OK &&
        out_len == strlen(body) && memcmp(out, body, out_len) == 0)
      j->ok++;
    else
      j->bad++;
    kst_bytes_free(out);
    kst_bytes_free(token);

    /* A tampered token fails the same way in every thread. */
    if (kst_verifier_verify(j->verifier, U8("MIIbroken"), 9, &out, &out_len, NULL) ==
        KST_MALFORMED)
      j->ok++;
    else
      j->bad++;
  }
  atomic_fetch_sub(&workers_running, 1);
  return NULL;
}

typedef struct {
  const kst_verifier *verifier;
  const char *list_a_json, *list_a_pem;
  size_t list_a_json_len, list_a_pem_len;
  int bad;
} refresher_job;

/* Replaces the list while the workers run: list A from JSON, list B, list A verified from its
 * signed PEM, list B, ...; each stays until `swap_every` validations have used it. */
static void *refresher(void *arg) {
  refresher_job *r = arg;
  for (int n = 0; atomic_load(&workers_running) > 0; n++) {
    const kst_revocation_list *list = NULL;
    kst_result rc;
    int revoking = n % 2 == 0;
    if (revoking)
      rc = kst_revocation_list_from_json(U8(LIST_B), strlen(LIST_B), NULL, &list, NULL);
    else if (n % 4 == 1)
      rc = kst_revocation_list_from_signed(U8(r->list_a_pem), r->list_a_pem_len, r->verifier,
                                           &list, NULL);
    else
      rc = kst_revocation_list_from_json(U8(r->list_a_json), r->list_a_json_len, NULL, &list,
                                         NULL);
    if (rc != KST_OK) {
      r->bad++;
      break;
    }
    int before = atomic_load(&seen[revoking]);
    replace_list(list);
    atomic_fetch_add(&swaps, 1);
    /* Until the list has been used enough, unless every running worker waits for the next one. */
    while (atomic_load(&seen[revoking]) - before < swap_every && atomic_load(&workers_running) > 0 &&
           !workers_wait_for_next())
      sched_yield();
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) iterations = atoi(argv[1]);
  if (argc > 2) swap_every = atoi(argv[2]);
  /* The workers use the first list for half their iterations: at least one. */
  CHECK(iterations >= 2);
  size_t cert_len, ca_len, key_len, pem_len, rl_len, rl_pem_len;
  char *cert = read_vector(KC6 "certs/signing_cert.pem", &cert_len);
  char *ca = read_vector(KC6 "certs/cacert.pem", &ca_len);
  char *key = read_vector(KC6 "private/signing_key.pem", &key_len);
  char *pem = read_vector(KC6 "cms/auth_token_scoped.pem", &pem_len);
  char *rl = read_vector(KC6 "cms/revocation_list.json", &rl_len);
  char *rl_pem = read_vector(KC6 "cms/revocation_list.pem", &rl_pem_len);
  char *token = pem_to_token(pem);

  const kst_verifier *verifier = NULL;
  kst_signer *signer = NULL;
  const kst_revocation_list *list = NULL;
  kst_policy_builder *builder = NULL;
  const kst_policy *policy = NULL;
  CHECK(kst_verifier_new(U8(cert), cert_len, U8(ca), ca_len, &verifier, NULL) == KST_OK);
  CHECK(kst_signer_new(U8(cert), cert_len, U8(key), key_len, "sha256", false, &signer, NULL) ==
        KST_OK);
  CHECK(kst_revocation_list_from_json(U8(rl), rl_len, NULL, &list, NULL) == KST_OK);
  CHECK(kst_policy_builder_new(&builder, NULL) == KST_OK);
  CHECK(kst_policy_builder_set_hash_algorithms(builder, "sha256,md5", NULL) == KST_OK);
  CHECK(kst_policy_builder_build(builder, &policy, NULL) == KST_OK);
  kst_policy_builder_free(builder);
  replace_list(list);

  atomic_store(&workers_running, THREADS);
  pthread_t threads[THREADS], refresher_thread;
  job jobs[THREADS];
  refresher_job r = {verifier, rl, rl_pem, rl_len, rl_pem_len, 0};
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){verifier, signer, policy, token, 3121, t, 0, 0};
    CHECK(pthread_create(&threads[t], NULL, worker, &jobs[t]) == 0);
  }
  CHECK(pthread_create(&refresher_thread, NULL, refresher, &r) == 0);
  for (int t = 0; t < THREADS; t++) {
    CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(jobs[t].bad == 0);
    CHECK(jobs[t].ok == 4 * iterations);
    passed += jobs[t].ok;
    failed += jobs[t].bad;
  }
  CHECK(pthread_join(refresher_thread, NULL) == 0);
  CHECK(r.bad == 0);
  /* Both kinds of list were in use, and replaced while in use. */
  CHECK(atomic_load(&swaps) >= 2);
  CHECK(atomic_load(&seen[0]) > 0 && atomic_load(&seen[1]) > 0);
  CHECK(atomic_load(&seen[0]) + atomic_load(&seen[1]) == THREADS * iterations);

  replace_list(NULL);
  kst_policy_free(policy);
  kst_signer_free(signer);
  kst_verifier_free(verifier);
  free(token);
  free(rl_pem);
  free(rl);
  free(pem);
  free(key);
  free(ca);
  free(cert);
  return finish();
}
