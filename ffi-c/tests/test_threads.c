/* Shared handles used from 8 threads at once: verifier, signer, revocation list and policy. */
#include "common.h"

#include <pthread.h>
#include <stdint.h>

#define THREADS 8
#define U8(s) ((const uint8_t *)(s))

static int iterations = 25;

typedef struct {
  const kst_verifier *verifier;
  const kst_signer *signer;
  const kst_revocation_list *list;
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
  for (int i = 0; i < iterations; i++) {
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

    /* Validate it through the pipeline with the shared list and policy. */
    kst_validated *v = NULL;
    kst_error *e = NULL;
    if (kst_validate(U8(j->token), strlen(j->token), j->verifier, j->list, j->policy, NULL, &v,
                     &e) == KST_OK)
      j->ok++;
    else
      j->bad++;
    kst_validated_free(v);
    kst_error_free(e);

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
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) iterations = atoi(argv[1]);
  size_t cert_len, ca_len, key_len, pem_len, rl_len;
  char *cert = read_vector(KC6 "certs/signing_cert.pem", &cert_len);
  char *ca = read_vector(KC6 "certs/cacert.pem", &ca_len);
  char *key = read_vector(KC6 "private/signing_key.pem", &key_len);
  char *pem = read_vector(KC6 "cms/auth_token_scoped.pem", &pem_len);
  char *rl = read_vector(KC6 "cms/revocation_list.json", &rl_len);
  char *token = pem_to_token(pem);

  kst_verifier *verifier = NULL;
  kst_signer *signer = NULL;
  kst_revocation_list *list = NULL;
  kst_policy *policy = NULL;
  CHECK(kst_verifier_new(U8(cert), cert_len, U8(ca), ca_len, &verifier, NULL) == KST_OK);
  CHECK(kst_signer_new(U8(cert), cert_len, U8(key), key_len, "sha256", false, &signer, NULL) ==
        KST_OK);
  CHECK(kst_revocation_list_from_json(U8(rl), rl_len, &list, NULL) == KST_OK);
  CHECK(kst_policy_new(&policy, NULL) == KST_OK);
  CHECK(kst_policy_set_hash_algorithms(policy, "sha256,md5", NULL) == KST_OK);

  pthread_t threads[THREADS];
  job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){verifier, signer, list, policy, token, 3121, t, 0, 0};
    CHECK(pthread_create(&threads[t], NULL, worker, &jobs[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) {
    CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(jobs[t].bad == 0);
    CHECK(jobs[t].ok == 4 * iterations);
    passed += jobs[t].ok;
    failed += jobs[t].bad;
  }

  kst_policy_free(policy);
  kst_revocation_list_free(list);
  kst_signer_free(signer);
  kst_verifier_free(verifier);
  free(token);
  free(rl);
  free(pem);
  free(key);
  free(ca);
  free(cert);
  return finish();
}
