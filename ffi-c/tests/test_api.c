/* Every function of the kstoken C ABI, with its success and error paths. */
#include "common.h"

#include <limits.h>
#include <stdint.h>

/* A client certificate and its DER SHA-256 (core/src/body/bind/tests.rs, CERT_A). */
static const char CLIENT_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDBzCCAe+gAwIBAgIUdrqver7zjkyl9bELPCWmubnK2GcwDQYJKoZIhvcNAQEL\n"
    "BQAwEzERMA8GA1UEAwwIY2xpZW50LWEwHhcNMjYxMTI0MDIwMDM2WhcNMzYxMTIx\n"
    "MDIwMDM2WjATMREwDwYDVQQDDAhjbGllbnQtYTCCASIwDQYJKoZIhvcNAQEBBQAD\n"
    "ggEPADCCAQoCggEBAJcnCcWTwapmwSWwtq1NB4jd/oKyabObWHzoTS4TuLmSVpzs\n"
    "8CywauwJOtkvhi9HiLU9VQa8sp/99vfyu/0IQhV1jNK0XWwv2oTxqU08FTn2C8Vm\n"
    "zTt3b0/1IPiRnGcqGAjVnxpKgqNQnQKoX2msH51vp8O3yii0IdFu1HUmfJ3LcfiF\n"
    "Jrq0etbF2SOK0LPqMH41GMY/yhttPU7xbiLsLtAvBuwz5g08C10cMrxp9YQ0hJjN\n"
    "GQSni2GgC7qxH0XV2Y8Cu667AU/2OHGPG+Px6CEwL5LpQZEpl2s35mmmWmte43fA\n"
    "6V3omLaRcPyYXFcVYgk9Jwh640Jyxs55Udq0PrMCAwEAAaNTMFEwHQYDVR0OBBYE\n"
    "FJb59m45YZG6CXvt9dUHqU/pUdFbMB8GA1UdIwQYMBaAFJb59m45YZG6CXvt9dUH\n"
    "qU/pUdFbMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAHxZfe2/\n"
    "aJWpYIcytznGWR4LGsf+ytGdIqiWrRSKFFJ3UVM5gUPxf7iRjLqtUPKahbzXKfNp\n"
    "scTCM7NDpu76ycvTCOgsxQbhjbkg8lMBH5XlMW9zr8wmnsluZHIa1en5WYXapK0N\n"
    "L10EjgrsyIh0BDPFPfyiUgJdZSg8/PxOLTgzn0T+ood/WnSkJcHfyUDk1RBlCr/A\n"
    "526OAIcMROuqtdQTuvPmDFz1PfWoMoL9sni7OlkhSn96G+ODPM248mMgPDiQ58Cy\n"
    "iXC++vDwzNqvlXrHtyG7yalukyRPYvGgUbbT1aLkwWAWKptAGoR1hp3Jugg2Yq8z\n"
    "2GR2WMkA+DB7STs=\n"
    "-----END CERTIFICATE-----\n";
static const char CLIENT_CERT_SHA256[] =
    "c273bc762bc38ed953a350c75c48df4c917329517f38a61ba613ea421f30db78";

#define U8(s) ((const uint8_t *)(s))
#define EXPIRES_2038 INT64_C(2147462047) /* 2038-01-18T21:14:07Z */
#define AFTER_NOT_AFTER INT64_C(4000000000) /* 2096: past every test certificate */
#define BEFORE_NOT_BEFORE INT64_C(1600000000) /* 2020: before the 2022 certificates */

static char *signing_cert, *ca_cert, *signing_key, *ssl_key, *old_signing_cert, *old_ca_cert;
static size_t signing_cert_len, ca_cert_len, signing_key_len, ssl_key_len, old_signing_cert_len,
    old_ca_cert_len;
static char *scoped_pem, *scoped_json, *scoped_token, *pkiz_token, *revoked_pkiz, *rl_pem, *rl_json;
static size_t scoped_pem_len, scoped_json_len, pkiz_token_len, revoked_pkiz_len, rl_pem_len,
    rl_json_len;

static void load_data(void) {
  signing_cert = read_vector(KC6 "certs/signing_cert.pem", &signing_cert_len);
  ca_cert = read_vector(KC6 "certs/cacert.pem", &ca_cert_len);
  signing_key = read_vector(KC6 "private/signing_key.pem", &signing_key_len);
  ssl_key = read_vector(KC6 "private/ssl_key.pem", &ssl_key_len);
  old_signing_cert = read_vector(KC5 "certs/signing_cert.pem", &old_signing_cert_len);
  old_ca_cert = read_vector(KC5 "certs/cacert.pem", &old_ca_cert_len);
  scoped_pem = read_vector(KC6 "cms/auth_token_scoped.pem", &scoped_pem_len);
  scoped_json = read_vector(KC6 "cms/auth_token_scoped.json", &scoped_json_len);
  scoped_token = pem_to_token(scoped_pem);
  /* The 6.0.0 PKIZ examples are signed with the 5.5.0 certificates. */
  pkiz_token = read_vector(KC6 "cms/auth_token_scoped.pkiz", &pkiz_token_len);
  revoked_pkiz = read_vector(KC6 "cms/auth_v3_token_revoked.pkiz", &revoked_pkiz_len);
  rl_pem = read_vector(KC6 "cms/revocation_list.pem", &rl_pem_len);
  rl_json = read_vector(KC6 "cms/revocation_list.json", &rl_json_len);
}

static void free_data(void) {
  char *all[] = {signing_cert, ca_cert,     signing_key,  ssl_key, old_signing_cert,
                 old_ca_cert,  scoped_pem,  scoped_json,  scoped_token, pkiz_token,
                 revoked_pkiz, rl_pem,      rl_json};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static const kst_verifier *new_verifier(const char *certs, size_t certs_len, const char *ca,
                                  size_t ca_len) {
  const kst_verifier *v = NULL;
  CHECK_CODE(KST_OK, kst_verifier_new(U8(certs), certs_len, U8(ca), ca_len, &v, &e));
  CHECK(v != NULL);
  return v;
}

static void test_version_and_results(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", KSTOKEN_VERSION_MAJOR, KSTOKEN_VERSION_MINOR,
           KSTOKEN_VERSION_PATCH);
  CHECK(strcmp(kst_version(), expected) == 0);
  CHECK(kst_unix_now() > INT64_C(1700000000));

  const kst_result codes[] = {
      KST_OK, KST_NULL_PARAMETER, KST_INVALID_ARGUMENT, KST_PANIC, KST_UNKNOWN_ERROR,
      KST_CERTIFICATE_CONFIG, KST_MALFORMED, KST_LIMIT_EXCEEDED, KST_SIGNING, KST_PKI_SETUP,
      KST_SIGNER_NOT_FOUND, KST_BAD_SIGNATURE, KST_CERT_EXPIRED, KST_CERT_NOT_YET_VALID,
      KST_UNTRUSTED_CHAIN, KST_UNSUITABLE_PURPOSE, KST_UNSUPPORTED_ALGORITHM,
      KST_VERIFICATION_FAILED, KST_NOT_PKI, KST_REVOKED, KST_EXPIRED, KST_BIND_REJECTED,
      KST_BODY_INVALID};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *m = kst_result_message(codes[i]);
    CHECK(m != NULL && strlen(m) > 0);
    CHECK(kst_result_is_verification_failure(codes[i]) ==
          (codes[i] >= 200 && codes[i] < 300));
  }
  CHECK(strcmp(kst_result_message(KST_OK), "success") == 0);
  CHECK(strcmp(kst_result_message(KST_BAD_SIGNATURE), "content verify error") == 0);
  CHECK(strcmp(kst_result_message(12345), "unknown error") == 0);

  /* kst_error accessors on NULL. */
  CHECK(kst_error_code(NULL) == KST_NULL_PARAMETER);
  CHECK(strcmp(kst_error_message(NULL), kst_result_message(KST_NULL_PARAMETER)) == 0);
  kst_error_free(NULL);
  kst_bytes_free(NULL);

  /* An error names the NULL argument. */
  kst_error *e = NULL;
  const kst_verifier *v = NULL;
  CHECK(kst_verifier_new(NULL, 0, U8(ca_cert), ca_cert_len, &v, &e) == KST_NULL_PARAMETER);
  CHECK(e != NULL && strstr(kst_error_message(e), "signing_certs") != NULL);
  kst_error_free(e);
  /* A NULL err is allowed: the code alone. */
  CHECK(kst_verifier_new(NULL, 0, U8(ca_cert), ca_cert_len, &v, NULL) == KST_NULL_PARAMETER);
  CHECK(v == NULL);
}

static void test_limits(void) {
  kst_limits limits;
  CHECK_CODE(KST_OK, kst_limits_default(&limits, &e));
  CHECK(limits.max_token_len == 1 << 20 && limits.max_inflated_len == 1 << 20 &&
        limits.max_json_len == 1 << 20 && limits.max_json_depth == 64 &&
        limits.max_credential_len == 16 << 20 && limits.max_content_len == 1 << 20);
  CHECK_CODE(KST_NULL_PARAMETER, kst_limits_default(NULL, &e));
  const kst_limits defaults = limits;

  /* Credentials: the signing bundle, the CA bundle, the certificate and the key. */
  limits.max_credential_len = signing_cert_len - 1;
  const kst_verifier *refused = NULL;
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len,
                                                              U8(ca_cert), ca_cert_len, &limits,
                                                              &refused, &e));
  CHECK(refused == NULL);
  limits.max_credential_len = signing_cert_len > ca_cert_len ? signing_cert_len : ca_cert_len;
  CHECK_CODE(KST_OK, kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len, U8(ca_cert),
                                                  ca_cert_len, &limits, &refused, &e));
  kst_verifier_free(refused);
  kst_signer *signer = NULL;
  limits.max_credential_len = signing_key_len - 1;
  CHECK_CODE(KST_LIMIT_EXCEEDED,
             kst_signer_new_with_limits(U8(signing_cert), signing_cert_len, U8(signing_key),
                                        signing_key_len, NULL, false, &limits, &signer, &e));
  CHECK(signer == NULL);

  /* Content: what a signer signs, refused before anything is allocated. */
  limits = defaults;
  limits.max_content_len = 10;
  CHECK_CODE(KST_OK,
             kst_signer_new_with_limits(U8(signing_cert), signing_cert_len, U8(signing_key),
                                        signing_key_len, NULL, false, &limits, &signer, &e));
  uint8_t *signed_out = NULL;
  size_t signed_len = 0;
  CHECK_CODE(KST_OK, kst_signer_sign_pki(signer, U8("0123456789"), 10, &signed_out, &signed_len,
                                         &e));
  kst_bytes_free(signed_out);
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_pki(signer, U8("0123456789a"), 11, &signed_out,
                                                     &signed_len, &e));
  CHECK(signed_out == NULL && signed_len == 0);
  kst_signer_free(signer);
  /* NULL limits: the defaults. */
  CHECK_CODE(KST_OK,
             kst_signer_new_with_limits(U8(signing_cert), signing_cert_len, U8(signing_key),
                                        signing_key_len, "sha512", false, NULL, &signer, &e));
  kst_signer_free(signer);
  limits = defaults;

  const kst_verifier *v = NULL;
  limits.max_token_len = 100;
  CHECK_CODE(KST_OK, kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len,
                                                  U8(ca_cert), ca_cert_len, &limits, &v, &e));
  uint8_t *out = (uint8_t *)"x";
  size_t out_len = 7;
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token),
                                                     &out, &out_len, &e));
  CHECK(out == NULL && out_len == 0);
  kst_verifier_free(v);

  /* NULL limits means the defaults. */
  v = NULL;
  CHECK_CODE(KST_OK, kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len,
                                                  U8(ca_cert), ca_cert_len, NULL, &v, &e));
  CHECK_CODE(KST_OK, kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token), &out,
                                         &out_len, &e));
  kst_bytes_free(out);
  kst_verifier_free(v);
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len, NULL, 0, NULL, &v,
                                          &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len, U8(ca_cert),
                                          ca_cert_len, NULL, NULL, &e));
}

static void test_verifier(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  uint8_t *out = NULL;
  size_t out_len = 0;

  /* CMS PEM and the PKI token made from it give the same content, the sibling JSON (CRLF). */
  CHECK_CODE(KST_OK, kst_verifier_verify(v, U8(scoped_pem), scoped_pem_len, &out, &out_len, &e));
  CHECK(out_len == 3121);
  CHECK(out != NULL && out[out_len] == '\0' && strstr((char *)out, "tenant_name1") != NULL);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token), &out,
                                         &out_len, &e));
  CHECK(out_len == 3121);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_verifier_verify_at(v, U8(scoped_token), strlen(scoped_token),
                                            INT64_C(1700000000), &out, &out_len, &e));
  CHECK(out_len == 3121);
  kst_bytes_free(out);

  /* Expired and not-yet-valid certificates. */
  CHECK_CODE(KST_CERT_EXPIRED, kst_verifier_verify_at(v, U8(scoped_token), strlen(scoped_token),
                                                      AFTER_NOT_AFTER, &out, &out_len, &e));
  CHECK(out == NULL && out_len == 0);
  CHECK_CODE(KST_CERT_NOT_YET_VALID,
             kst_verifier_verify_at(v, U8(scoped_token), strlen(scoped_token),
                                    BEFORE_NOT_BEFORE, &out, &out_len, &e));

  /* Tampered: one base64 character of the signed content changed. */
  char *tampered = strdup(scoped_token);
  tampered[200] = tampered[200] == 'A' ? 'B' : 'A';
  CHECK_CODE(KST_BAD_SIGNATURE,
             kst_verifier_verify(v, U8(tampered), strlen(tampered), &out, &out_len, &e));
  /* Tampered signature (the last base64 characters before the padding). */
  strcpy(tampered, scoped_token);
  size_t n = strlen(tampered);
  tampered[n - 10] = tampered[n - 10] == 'A' ? 'B' : 'A';
  CHECK_CODE(KST_BAD_SIGNATURE,
             kst_verifier_verify(v, U8(tampered), strlen(tampered), &out, &out_len, &e));
  free(tampered);

  /* Malformed tokens. */
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8("MIIgarbage"), 10, &out, &out_len, &e));
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8(""), 0, &out, &out_len, &e));
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8("PKIZ_!!!!"), 9, &out, &out_len, &e));
  CHECK_CODE(KST_MALFORMED,
             kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token) / 2, &out, &out_len,
                                 &e));
  CHECK_CODE(KST_MALFORMED,
             kst_verifier_verify(v, U8("-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n"), 42,
                                 &out, &out_len, &e));

  /* Wrong certificates: the 6.0.0 PKIZ example is signed by the 5.5.0 signing certificate. */
  CHECK_CODE(KST_BAD_SIGNATURE,
             kst_verifier_verify(v, U8(pkiz_token), pkiz_token_len, &out, &out_len, &e));
  const kst_verifier *old = new_verifier(old_signing_cert, old_signing_cert_len, old_ca_cert,
                                   old_ca_cert_len);
  CHECK_CODE(KST_OK, kst_verifier_verify(old, U8(pkiz_token), pkiz_token_len, &out, &out_len, &e));
  CHECK(out_len == 1588);
  kst_bytes_free(out);
  kst_verifier_free(old);
  /* The right signing certificate with the wrong CA: the chain is not trusted. */
  const kst_verifier *wrong_ca = new_verifier(signing_cert, signing_cert_len, old_ca_cert,
                                        old_ca_cert_len);
  CHECK_CODE(KST_UNTRUSTED_CHAIN, kst_verifier_verify(wrong_ca, U8(scoped_token),
                                                      strlen(scoped_token), &out, &out_len, &e));
  kst_verifier_free(wrong_ca);
  /* A signing bundle without the signer: the CA certificate alone. */
  const kst_verifier *no_signer = new_verifier(ca_cert, ca_cert_len, ca_cert, ca_cert_len);
  CHECK_CODE(KST_SIGNER_NOT_FOUND, kst_verifier_verify(no_signer, U8(scoped_token),
                                                       strlen(scoped_token), &out, &out_len, &e));
  kst_verifier_free(no_signer);

  /* Unusable bundles. */
  const kst_verifier *bad = NULL;
  CHECK_CODE(KST_CERTIFICATE_CONFIG,
             kst_verifier_new(U8("not a pem"), 9, U8(ca_cert), ca_cert_len, &bad, &e));
  CHECK(bad == NULL);
  CHECK_CODE(KST_CERTIFICATE_CONFIG,
             kst_verifier_new(U8(signing_cert), signing_cert_len, U8(""), 0, &bad, &e));

  /* NULL arguments. */
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_verifier_new(U8(signing_cert), signing_cert_len, NULL, 0, &bad, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_verifier_new(U8(signing_cert), signing_cert_len,
                                                  U8(ca_cert), ca_cert_len, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_verifier_verify(NULL, U8(scoped_token),
                                                     strlen(scoped_token), &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_verifier_verify(v, NULL, 0, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token), NULL, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_verifier_verify(v, U8(scoped_token), strlen(scoped_token), &out, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_verifier_verify_at(NULL, U8(scoped_token),
                                                        strlen(scoped_token), 0, &out, &out_len,
                                                        &e));
  kst_verifier_free(v);
  kst_verifier_free(NULL);
}

static void test_signer(void) {
  kst_signer *s = NULL;
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  uint8_t *out = NULL, *content = NULL;
  size_t out_len = 0, content_len = 0;

  /* Default digest (sha256), text mode: byte-identical to the upstream example. */
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, false, &s, &e));
  CHECK_CODE(KST_OK, kst_signer_sign_pem(s, U8(scoped_json), scoped_json_len, &out, &out_len, &e));
  CHECK(out_len == scoped_pem_len && memcmp(out, scoped_pem, out_len) == 0);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_signer_sign_pki(s, U8(scoped_json), scoped_json_len, &out, &out_len, &e));
  CHECK(strcmp((char *)out, scoped_token) == 0);
  kst_bytes_free(out);

  const char *body = "{\"access\": {\"token\": {\"id\": \"x\"}}}";
  size_t body_len = strlen(body);
  CHECK_CODE(KST_OK, kst_signer_sign_pkiz(s, U8(body), body_len, &out, &out_len, &e));
  CHECK(strncmp((char *)out, "PKIZ_", 5) == 0 && strlen((char *)out) == out_len);
  CHECK_CODE(KST_OK, kst_verifier_verify(v, out, out_len, &content, &content_len, &e));
  CHECK(content_len == body_len && memcmp(content, body, body_len) == 0);
  kst_bytes_free(content);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_signer_sign_der(s, U8(body), body_len, &out, &out_len, &e));
  CHECK(out_len > 2 && out[0] == 0x30);
  kst_bytes_free(out);
  kst_signer_free(s);

  /* sha1, binary mode: the content comes back exactly, newlines included. */
  s = NULL;
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, "SHA-1", true, &s, &e));
  const char *lf = "{\n\"a\": 1}\n";
  CHECK_CODE(KST_OK, kst_signer_sign_pki(s, U8(lf), strlen(lf), &out, &out_len, &e));
  CHECK_CODE(KST_OK, kst_verifier_verify(v, out, out_len, &content, &content_len, &e));
  CHECK(content_len == strlen(lf) && memcmp(content, lf, content_len) == 0);
  kst_bytes_free(content);
  kst_bytes_free(out);
  kst_signer_free(s);

  /* Errors. */
  s = NULL;
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_signer_new(U8(signing_cert), signing_cert_len,
                                                  U8(signing_key), signing_key_len, "md5", false,
                                                  &s, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_signer_new(U8(signing_cert), signing_cert_len,
                                                  U8(signing_key), signing_key_len, "bogus",
                                                  false, &s, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_signer_new(U8(signing_cert), signing_cert_len,
                                                  U8(signing_key), signing_key_len, "sha\xff",
                                                  false, &s, &e));
  CHECK_CODE(KST_SIGNING, kst_signer_new(U8(signing_cert), signing_cert_len, U8(ssl_key),
                                         ssl_key_len, NULL, false, &s, &e));
  CHECK_CODE(KST_CERTIFICATE_CONFIG, kst_signer_new(U8("junk"), 4, U8(signing_key),
                                                    signing_key_len, NULL, false, &s, &e));
  CHECK_CODE(KST_CERTIFICATE_CONFIG, kst_signer_new(U8(signing_cert), signing_cert_len,
                                                    U8("junk"), 4, NULL, false, &s, &e));
  CHECK(s == NULL);
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_new(NULL, 0, U8(signing_key), signing_key_len, NULL,
                                                false, &s, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_new(U8(signing_cert), signing_cert_len, NULL, 0,
                                                NULL, false, &s, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_new(U8(signing_cert), signing_cert_len,
                                                U8(signing_key), signing_key_len, NULL, false,
                                                NULL, &e));
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, false, &s, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_sign_pki(NULL, U8(body), body_len, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_sign_pkiz(s, NULL, 0, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_sign_pem(s, U8(body), body_len, NULL, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_signer_sign_der(s, U8(body), body_len, &out, NULL, &e));
  kst_signer_free(s);
  kst_signer_free(NULL);
  kst_verifier_free(v);
}

static void test_detect_and_hash(void) {
  kst_token_form form = 99;
  CHECK_CODE(KST_OK, kst_detect(U8(scoped_token), strlen(scoped_token), false, NULL, &form, &e));
  CHECK(form == KST_FORM_PKI);
  CHECK_CODE(KST_OK, kst_detect(U8(pkiz_token), pkiz_token_len, false, NULL, &form, &e));
  CHECK(form == KST_FORM_PKIZ);
  CHECK_CODE(KST_OK, kst_detect(U8("0123456789abcdef"), 16, true, NULL, &form, &e));
  CHECK(form == KST_FORM_OTHER);
  CHECK_CODE(KST_OK, kst_detect(U8("MII\xff"), 4, false, NULL, &form, &e));
  CHECK(form == KST_FORM_OTHER);

  /* A PKI token of more than 16 KiB of DER starts with MIJ: only the lenient rule sees it. */
  kst_signer *s = NULL;
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, true, &s, &e));
  size_t big_len = 20000;
  char *big = malloc(big_len);
  memset(big, 'a', big_len);
  uint8_t *token = NULL;
  size_t token_len = 0;
  CHECK_CODE(KST_OK, kst_signer_sign_pki(s, U8(big), big_len, &token, &token_len, &e));
  CHECK(strncmp((char *)token, "MIJ", 3) == 0);
  CHECK_CODE(KST_OK, kst_detect(token, token_len, false, NULL, &form, &e));
  CHECK(form == KST_FORM_OTHER);
  CHECK_CODE(KST_OK, kst_detect(token, token_len, true, NULL, &form, &e));
  CHECK(form == KST_FORM_PKI);
  kst_bytes_free(token);
  free(big);
  kst_signer_free(s);

  CHECK_CODE(KST_NULL_PARAMETER, kst_detect(NULL, 0, false, NULL, &form, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_detect(U8("MII"), 3, false, NULL, NULL, &e));

  /* Hashes from EXPECTED.json. */
  uint8_t *out = NULL;
  size_t out_len = 0;
  CHECK_CODE(KST_OK, kst_hash_token(U8(scoped_token), strlen(scoped_token), "md5", NULL, &out,
                                    &out_len, &e));
  CHECK(out_len == 32 && strcmp((char *)out, "4ab116d14dec63f1e59ce78e26664a2a") == 0);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_hash_token(U8(scoped_token), strlen(scoped_token), "SHA256", NULL, &out,
                                    &out_len, &e));
  CHECK(strcmp((char *)out,
               "b836b36e02e90d8447919273ad7f39570d0579fa61cb23b53d385a64d1782e67") == 0);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_hash_token(U8(pkiz_token), pkiz_token_len, "sha256", NULL, &out, &out_len, &e));
  CHECK(strcmp((char *)out,
               "e4695e6a15370deab288d420d3db20fbf13bf407575b0e1ae28bc5fe0d95f0c0") == 0);
  kst_bytes_free(out);
  const char *algs[] = {"sha1", "sha224", "sha384", "sha512"};
  const size_t lens[] = {40, 56, 96, 128};
  for (size_t i = 0; i < 4; i++) {
    CHECK_CODE(KST_OK, kst_hash_token(U8(scoped_token), strlen(scoped_token), algs[i], NULL, &out,
                                      &out_len, &e));
    CHECK(out_len == lens[i]);
    kst_bytes_free(out);
  }

  CHECK_CODE(KST_NOT_PKI, kst_hash_token(U8("0123456789abcdef"), 16, "md5", NULL, &out, &out_len, &e));
  CHECK(out == NULL && out_len == 0);
  CHECK_CODE(KST_NOT_PKI, kst_hash_token(U8("MII\xff"), 4, "md5", NULL, &out, &out_len, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_hash_token(U8(scoped_token), strlen(scoped_token), "crc32", NULL, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_hash_token(NULL, 0, "md5", NULL, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_hash_token(U8(scoped_token), strlen(scoped_token), NULL, NULL, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_hash_token(U8(scoped_token), strlen(scoped_token), "md5", NULL, NULL, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_hash_token(U8(scoped_token), strlen(scoped_token), "md5", NULL, &out, NULL, &e));
}

/* keystone's response body {"signed": "<PEM with \n escaped>"}; malloc'd. */
static char *signed_response(const char *pem) {
  char *body = malloc(strlen(pem) * 2 + 32);
  char *p = body;
  p += sprintf(p, "{\"signed\": \"");
  for (const char *c = pem; *c; c++) {
    if (*c == '\n') {
      *p++ = '\\';
      *p++ = 'n';
    } else {
      *p++ = *c;
    }
  }
  strcpy(p, "\"}");
  return body;
}

static void test_revocation(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  const kst_revocation_list *list = NULL;
  size_t len = 0;
  bool listed = false;

  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, &list, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_len(list, &len, &e));
  CHECK(len == 4);
  CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(list, "db98ed2af6c6707bec6dc6c6892789a0",
                                                       &listed, &e));
  CHECK(listed);
  CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(list, "DB98ED2AF6C6707BEC6DC6C6892789A0",
                                                       &listed, &e));
  CHECK(!listed);
  CHECK_CODE(KST_OK, kst_revocation_list_contains_audit_id(list, "none", &listed, &e));
  CHECK(!listed);
  kst_revocation_list_free(list);

  const char *audit = "{\"revoked\": [{\"audit_id\": \"AUDIT1\", \"expires\": null}]}";
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(audit), strlen(audit), NULL, &list, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_contains_audit_id(list, "AUDIT1", &listed, &e));
  CHECK(listed);
  CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(list, "AUDIT1", &listed, &e));
  CHECK(!listed);
  kst_revocation_list_free(list);

  /* Signed: the CMS PEM itself and keystone's JSON response. */
  CHECK_CODE(KST_OK, kst_revocation_list_from_signed(U8(rl_pem), rl_pem_len, v, &list, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_len(list, &len, &e));
  CHECK(len == 4);
  kst_revocation_list_free(list);
  char *response = signed_response(rl_pem);
  CHECK_CODE(KST_OK, kst_revocation_list_from_signed_at(U8(response), strlen(response), v,
                                                        INT64_C(1700000000), &list, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(list, "15ce05fd491b79791068ed80a9c7f5e7",
                                                       &listed, &e));
  CHECK(listed);
  kst_revocation_list_free(list);
  CHECK_CODE(KST_CERT_EXPIRED, kst_revocation_list_from_signed_at(
                                   U8(response), strlen(response), v, AFTER_NOT_AFTER, &list, &e));
  CHECK(list == NULL);
  free(response);

  /* Errors. */
  char *tampered = strdup(rl_pem);
  char *body = strstr(tampered, "\n") + 100;
  *body = *body == 'A' ? 'B' : 'A';
  CHECK_CODE(KST_BAD_SIGNATURE,
             kst_revocation_list_from_signed(U8(tampered), strlen(tampered), v, &list, &e));
  free(tampered);
  CHECK_CODE(KST_MALFORMED,
             kst_revocation_list_from_signed(U8("{\"other\": 1}"), 12, v, &list, &e));
  CHECK_CODE(KST_MALFORMED, kst_revocation_list_from_json(U8("{not json"), 9, NULL, &list, &e));
  CHECK_CODE(KST_MALFORMED,
             kst_revocation_list_from_json(U8("{\"revoked\": [{}]}"), 17, NULL, &list, &e));
  CHECK(list == NULL);
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_from_json(NULL, 0, NULL, &list, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_from_signed(NULL, 0, v, &list, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_revocation_list_from_signed(U8(rl_pem), rl_pem_len, NULL, &list, &e));
  CHECK_CODE(KST_NULL_PARAMETER,
             kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, v, 0, NULL, &e));
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, &list, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_len(NULL, &len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_len(list, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_contains_hash(NULL, "x", &listed, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_contains_hash(list, NULL, &listed, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_contains_hash(list, "x", NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_revocation_list_contains_audit_id(list, NULL, &listed, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_revocation_list_contains_audit_id(list, "\xff", &listed, &e));
  kst_revocation_list_free(list);
  kst_revocation_list_free(NULL);
  kst_verifier_free(v);
}

static void test_bind(void) {
  const char *kerberos = "{\"kerberos\": \"alice@EXAMPLE.COM\"}";
  char x509[256];
  snprintf(x509, sizeof x509, "{\"x509\": {\"sha256\": \"%s\"}}", CLIENT_CERT_SHA256);
  kst_auth_context negotiate = {"Negotiate", "alice@EXAMPLE.COM", NULL, 0};
  kst_auth_context other_user = {"Negotiate", "bob@EXAMPLE.COM", NULL, 0};
  kst_auth_context tls = {NULL, NULL, U8(CLIENT_CERT), strlen(CLIENT_CERT)};
  kst_auth_context wrong_tls = {NULL, NULL, U8(signing_cert), signing_cert_len};

  CHECK_CODE(KST_OK, kst_check_bind("permissive", NULL, 0, NULL, NULL, &e));
  CHECK_CODE(KST_OK, kst_check_bind("strict", U8("null"), 4, NULL, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("required", NULL, 0, NULL, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("required", U8("{}"), 2, &negotiate, NULL, &e));
  CHECK_CODE(KST_OK, kst_check_bind("disabled", U8(kerberos), strlen(kerberos), NULL, NULL, &e));
  CHECK_CODE(KST_OK, kst_check_bind("permissive", U8(kerberos), strlen(kerberos), &negotiate, NULL, &e));
  CHECK_CODE(KST_OK, kst_check_bind("kerberos", U8(kerberos), strlen(kerberos), &negotiate, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED,
             kst_check_bind("permissive", U8(kerberos), strlen(kerberos), &other_user, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("x509", U8(kerberos), strlen(kerberos), &negotiate,
                                               NULL, &e));
  CHECK_CODE(KST_OK, kst_check_bind("x509", U8(x509), strlen(x509), &tls, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("strict", U8(x509), strlen(x509), &wrong_tls, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("strict", U8(x509), strlen(x509), NULL, NULL, &e));
  const char *unknown = "{\"oauth\": \"x\"}";
  CHECK_CODE(KST_OK, kst_check_bind("permissive", U8(unknown), strlen(unknown), NULL, NULL, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_check_bind("strict", U8(unknown), strlen(unknown), NULL, NULL, &e));

  CHECK_CODE(KST_MALFORMED, kst_check_bind("strict", U8("[1]"), 3, NULL, NULL, &e));
  CHECK_CODE(KST_MALFORMED, kst_check_bind("strict", U8("{bad"), 4, NULL, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_check_bind(NULL, NULL, 0, NULL, NULL, &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_check_bind("strict\xff", NULL, 0, NULL, NULL, &e));
  kst_auth_context bad_user = {"Negotiate", "\xff", NULL, 0};
  CHECK_CODE(KST_INVALID_ARGUMENT,
             kst_check_bind("strict", U8(kerberos), strlen(kerberos), &bad_user, NULL, &e));
}

/* Signs `body` into a PKI token with the 6.0.0 signing key; malloc'd via kst (kst_bytes_free). */
static uint8_t *sign_body(kst_signer *s, const char *body, size_t *len) {
  uint8_t *token = NULL;
  CHECK_CODE(KST_OK, kst_signer_sign_pki(s, U8(body), strlen(body), &token, len, &e));
  return token;
}

static void test_validate(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  kst_signer *s = NULL;
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, false, &s, &e));
  const kst_revocation_list *list = NULL;
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, &list, &e));
  kst_validated *ok = NULL;
  uint8_t *out = NULL;
  size_t out_len = 0, count = 0;
  kst_token_form form = KST_FORM_OTHER;
  int64_t expires = 0;
  size_t token_len = strlen(scoped_token);

  /* Defaults (NULL policy): md5 hashes. Surrounding whitespace is ignored. */
  char *padded = malloc(token_len + 3);
  sprintf(padded, " %s\n", scoped_token);
  CHECK_CODE(KST_OK, kst_validate(U8(padded), strlen(padded), v, list, NULL, NULL, &ok, &e));
  free(padded);
  CHECK_CODE(KST_OK, kst_validated_hash_count(ok, &count, &e));
  CHECK(count == 1);
  CHECK_CODE(KST_OK, kst_validated_hash(ok, 0, &out, &out_len, &e));
  CHECK(strcmp((char *)out, "4ab116d14dec63f1e59ce78e26664a2a") == 0);
  kst_bytes_free(out);
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_validated_hash(ok, 1, &out, &out_len, &e));
  CHECK_CODE(KST_OK, kst_validated_content(ok, &out, &out_len, &e));
  CHECK(out_len == 3121);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_validated_form(ok, &form, &e));
  CHECK(form == KST_FORM_PKI);
  CHECK_CODE(KST_OK, kst_validated_expires(ok, &expires, &e));
  CHECK(expires == EXPIRES_2038);
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_hash_count(NULL, &count, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_hash_count(ok, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_hash(NULL, 0, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_hash(ok, 0, NULL, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_content(NULL, &out, &out_len, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_content(ok, &out, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_form(NULL, &form, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_form(ok, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_expires(NULL, &expires, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validated_expires(ok, NULL, &e));
  kst_validated_free(ok);
  kst_validated_free(NULL);

  /* A policy: two hash algorithms in order, lenient detection, strict binds. */
  kst_policy_builder *builder = NULL;
  const kst_policy *policy = NULL, *md5_policy = NULL;
  CHECK_CODE(KST_OK, kst_policy_builder_new(&builder, &e));
  CHECK_CODE(KST_OK, kst_policy_builder_build(builder, &md5_policy, &e));
  CHECK_CODE(KST_OK, kst_policy_builder_set_hash_algorithms(builder, "sha256, md5", &e));
  CHECK_CODE(KST_OK, kst_policy_builder_set_detection(builder, "lenient", &e));
  CHECK_CODE(KST_OK, kst_policy_builder_set_bind_mode(builder, "strict", &e));
  CHECK_CODE(KST_OK, kst_policy_builder_build(builder, &policy, &e));
  CHECK(policy != NULL && policy != md5_policy);
  CHECK_CODE(KST_OK, kst_validate_at(U8(scoped_token), token_len, v, NULL, policy, NULL,
                                     INT64_C(1700000000), &ok, &e));
  CHECK_CODE(KST_OK, kst_validated_hash_count(ok, &count, &e));
  CHECK(count == 2);
  CHECK_CODE(KST_OK, kst_validated_hash(ok, 0, &out, &out_len, &e));
  CHECK(out_len == 64);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_validated_hash(ok, 1, &out, &out_len, &e));
  CHECK(out_len == 32);
  kst_bytes_free(out);
  kst_validated_free(ok);
  ok = NULL;
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_policy_builder_set_hash_algorithms(builder, "sha256,crc", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_policy_builder_set_hash_algorithms(builder, " , ", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_policy_builder_set_detection(builder, "Lenient", &e));
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_policy_builder_set_detection(builder, "", &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_hash_algorithms(NULL, "md5", &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_hash_algorithms(builder, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_bind_mode(NULL, "strict", &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_bind_mode(builder, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_detection(NULL, "lenient", &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_set_detection(builder, NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_new(NULL, &e));
  const kst_policy *unbuilt = md5_policy;
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_build(NULL, &unbuilt, &e));
  CHECK(unbuilt == NULL);
  CHECK_CODE(KST_NULL_PARAMETER, kst_policy_builder_build(builder, NULL, &e));

  /* A built policy is immutable: changing the builder afterwards changes only later builds. The
   * policy built first kept the defaults (md5, upstream detection, permissive binds). */
  CHECK_CODE(KST_OK, kst_policy_builder_set_hash_algorithms(builder, "sha512", &e));
  CHECK_CODE(KST_OK, kst_policy_builder_set_bind_mode(builder, "required", &e));
  CHECK_CODE(KST_OK, kst_validate_at(U8(scoped_token), token_len, v, NULL, md5_policy, NULL,
                                     INT64_C(1700000000), &ok, &e));
  CHECK_CODE(KST_OK, kst_validated_hash(ok, 0, &out, &out_len, &e));
  CHECK(strcmp((char *)out, "4ab116d14dec63f1e59ce78e26664a2a") == 0);
  kst_bytes_free(out);
  kst_validated_free(ok);
  ok = NULL;
  CHECK_CODE(KST_OK, kst_validate_at(U8(scoped_token), token_len, v, NULL, policy, NULL,
                                     INT64_C(1700000000), &ok, &e));
  CHECK_CODE(KST_OK, kst_validated_hash_count(ok, &count, &e));
  CHECK(count == 2);
  kst_validated_free(ok);
  ok = NULL;
  const kst_policy *required = NULL;
  CHECK_CODE(KST_OK, kst_policy_builder_build(builder, &required, &e));
  kst_policy_builder_free(builder);
  kst_policy_builder_free(NULL);
  /* Policies outlive their builder. */
  CHECK_CODE(KST_BIND_REJECTED, kst_validate_at(U8(scoped_token), token_len, v, NULL, required,
                                                NULL, INT64_C(1700000000), &ok, &e));
  kst_policy_free(required);
  /* Lenient detection from the policy: a 20 KB body makes an MIJ token, which the default rule
   * does not take for PKI and the lenient one does (and then finds no token body in it). */
  char *big = malloc(20001);
  memset(big, 'a', 20000);
  big[20000] = '\0';
  size_t big_len = 0;
  uint8_t *big_token = sign_body(s, big, &big_len);
  CHECK(big_token != NULL && strncmp((char *)big_token, "MIJ", 3) == 0);
  CHECK_CODE(KST_NOT_PKI, kst_validate(big_token, big_len, v, NULL, md5_policy, NULL, &ok, &e));
  CHECK_CODE(KST_BODY_INVALID, kst_validate(big_token, big_len, v, NULL, policy, NULL, &ok, &e));
  kst_bytes_free(big_token);
  free(big);
  kst_policy_free(md5_policy);

  /* Each step's rejection. */
  CHECK_CODE(KST_NOT_PKI, kst_validate(U8("0123456789abcdef"), 16, v, list, policy, NULL, &ok, &e));
  CHECK_CODE(KST_NOT_PKI, kst_validate(U8("MII\xff"), 4, v, list, policy, NULL, &ok, &e));
  CHECK(ok == NULL);
  /* Listed by md5 hash: rejected before the signature (which would fail: 5.5.0 certificates). */
  CHECK_CODE(KST_REVOKED, kst_validate(U8(revoked_pkiz), revoked_pkiz_len, v, list, policy, NULL,
                                       &ok, &e));
  CHECK_CODE(KST_BAD_SIGNATURE, kst_validate(U8(revoked_pkiz), revoked_pkiz_len, v, NULL, policy,
                                             NULL, &ok, &e));
  CHECK_CODE(KST_MALFORMED, kst_validate(U8("MIIxyz"), 6, v, list, policy, NULL, &ok, &e));
  CHECK_CODE(KST_CERT_EXPIRED, kst_validate_at(U8(scoped_token), token_len, v, list, policy, NULL,
                                               AFTER_NOT_AFTER, &ok, &e));
  CHECK_CODE(KST_EXPIRED, kst_validate_at(U8(scoped_token), token_len, v, list, policy, NULL,
                                          EXPIRES_2038, &ok, &e));
  CHECK_CODE(KST_OK, kst_validate_at(U8(scoped_token), token_len, v, list, policy, NULL,
                                     EXPIRES_2038 - 1, &ok, &e));
  kst_validated_free(ok);
  ok = NULL;
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_validate_at(U8(scoped_token), token_len, v, list, policy,
                                                   NULL, INT64_MAX, &ok, &e));

  size_t len = 0;
  uint8_t *not_json = sign_body(s, "this is not json", &len);
  CHECK_CODE(KST_BODY_INVALID, kst_validate(not_json, len, v, list, policy, NULL, &ok, &e));
  kst_bytes_free(not_json);

  /* Audit id revocation. */
  const char *audited = "{\"token\": {\"expires_at\": \"2100-01-01T00:00:00.000000Z\", "
                        "\"audit_ids\": [\"AUDIT1\"], \"user\": {\"id\": \"u\", \"name\": \"n\", "
                        "\"domain\": {\"id\": \"d\", \"name\": \"d\"}}, "
                        "\"bind\": {\"kerberos\": \"alice@EXAMPLE.COM\"}}}";
  uint8_t *token = sign_body(s, audited, &len);
  const char *audit_list = "{\"revoked\": [{\"audit_id\": \"AUDIT1\"}]}";
  const kst_revocation_list *by_audit = NULL;
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(audit_list), strlen(audit_list), NULL, &by_audit,
                                                   &e));
  kst_auth_context negotiate = {"negotiate", "alice@EXAMPLE.COM", NULL, 0};
  kst_auth_context other = {"negotiate", "mallory@EXAMPLE.COM", NULL, 0};
  CHECK_CODE(KST_REVOKED, kst_validate(token, len, v, by_audit, policy, &negotiate, &ok, &e));
  /* Bind enforcement. */
  CHECK_CODE(KST_OK, kst_validate(token, len, v, NULL, policy, &negotiate, &ok, &e));
  CHECK_CODE(KST_OK, kst_validated_expires(ok, &expires, &e));
  CHECK(expires == INT64_C(4102444800));
  kst_validated_free(ok);
  ok = NULL;
  CHECK_CODE(KST_BIND_REJECTED, kst_validate(token, len, v, NULL, policy, &other, &ok, &e));
  CHECK_CODE(KST_BIND_REJECTED, kst_validate(token, len, v, NULL, policy, NULL, &ok, &e));
  kst_auth_context bad = {"negotiate", "\xff", NULL, 0};
  CHECK_CODE(KST_INVALID_ARGUMENT, kst_validate(token, len, v, NULL, policy, &bad, &ok, &e));
  kst_bytes_free(token);
  kst_revocation_list_free(by_audit);

  /* NULL arguments. */
  CHECK_CODE(KST_NULL_PARAMETER, kst_validate(NULL, 0, v, NULL, NULL, NULL, &ok, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validate(U8(scoped_token), token_len, NULL, NULL, NULL, NULL,
                                              &ok, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validate(U8(scoped_token), token_len, v, NULL, NULL, NULL,
                                              NULL, &e));
  CHECK_CODE(KST_NULL_PARAMETER, kst_validate_at(U8(scoped_token), token_len, v, NULL, NULL, NULL,
                                                 0, NULL, &e));
  CHECK(ok == NULL);

  kst_policy_free(policy);
  kst_policy_free(NULL);
  CHECK(kst_policy_clone(NULL) == NULL);
  kst_revocation_list_free(list);
  kst_signer_free(s);
  kst_verifier_free(v);
}

/* A pointer that must be overwritten: outputs are checked to be cleared from it. */
#define GARBAGE ((void *)(uintptr_t)0x5a5a)

/* For a byte-output function called as CALL(out, out_len) (passing &e): each writable half of
 * the output is cleared when the other half is NULL, and both when BAD_CALL fails for another
 * reason (with bad_code). */
#define CHECK_BYTES_CLEARED(CALL, BAD_CALL, bad_code)                                \
  do {                                                                               \
    uint8_t *o_ = GARBAGE;                                                           \
    size_t ol_ = 99;                                                                 \
    CHECK_CODE(KST_NULL_PARAMETER, CALL(&o_, NULL));                                 \
    CHECK(o_ == NULL);                                                               \
    CHECK_CODE(KST_NULL_PARAMETER, CALL(NULL, &ol_));                                \
    CHECK(ol_ == 0);                                                                 \
    o_ = GARBAGE;                                                                    \
    ol_ = 99;                                                                        \
    CHECK_CODE(bad_code, BAD_CALL(&o_, &ol_));                                       \
    CHECK(o_ == NULL && ol_ == 0);                                                   \
  } while (0)

/* For a function with one output called as BAD_CALL(out) (passing &e) that fails with bad_code:
 * *out, first set to `garbage`, is `cleared` afterwards. */
#define CHECK_OUT_CLEARED(type, garbage, cleared, BAD_CALL, bad_code)                \
  do {                                                                               \
    type x_ = garbage;                                                               \
    CHECK_CODE(bad_code, BAD_CALL(&x_));                                             \
    CHECK(x_ == cleared);                                                            \
  } while (0)

/* Every function with an output clears it on every failure (issue: `*out` used to stay as it was
 * when `out_len` was NULL). */
static void test_outputs_cleared(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  kst_signer *s = NULL;
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, false, &s, &e));
  const char *tok = scoped_token;
  size_t tok_len = strlen(tok);
  kst_validated *ok = NULL;
  CHECK_CODE(KST_OK, kst_validate(U8(tok), tok_len, v, NULL, NULL, NULL, &ok, &e));

  /* Bytes. */
#define VERIFY(o, ol) kst_verifier_verify(v, U8(tok), tok_len, o, ol, &e)
#define VERIFY_BAD(o, ol) kst_verifier_verify(v, U8("MIIxyz"), 6, o, ol, &e)
  CHECK_BYTES_CLEARED(VERIFY, VERIFY_BAD, KST_MALFORMED);
#define VERIFY_AT(o, ol) kst_verifier_verify_at(v, U8(tok), tok_len, 1700000000, o, ol, &e)
#define VERIFY_AT_BAD(o, ol) kst_verifier_verify_at(v, U8(tok), tok_len, INT64_MAX, o, ol, &e)
  CHECK_BYTES_CLEARED(VERIFY_AT, VERIFY_AT_BAD, KST_INVALID_ARGUMENT);
#define SIGN_PKI(o, ol) kst_signer_sign_pki(s, U8("{}"), 2, o, ol, &e)
#define SIGN_PKI_BAD(o, ol) kst_signer_sign_pki(NULL, U8("{}"), 2, o, ol, &e)
  CHECK_BYTES_CLEARED(SIGN_PKI, SIGN_PKI_BAD, KST_NULL_PARAMETER);
#define SIGN_PKIZ(o, ol) kst_signer_sign_pkiz(s, U8("{}"), 2, o, ol, &e)
#define SIGN_PKIZ_BAD(o, ol) kst_signer_sign_pkiz(s, NULL, 2, o, ol, &e)
  CHECK_BYTES_CLEARED(SIGN_PKIZ, SIGN_PKIZ_BAD, KST_NULL_PARAMETER);
#define SIGN_PEM(o, ol) kst_signer_sign_pem(s, U8("{}"), 2, o, ol, &e)
#define SIGN_PEM_BAD(o, ol) kst_signer_sign_pem(s, U8("{}"), SIZE_MAX, o, ol, &e)
  CHECK_BYTES_CLEARED(SIGN_PEM, SIGN_PEM_BAD, KST_LIMIT_EXCEEDED);
#define SIGN_DER(o, ol) kst_signer_sign_der(s, U8("{}"), 2, o, ol, &e)
#define SIGN_DER_BAD(o, ol) kst_signer_sign_der(s, U8("{}"), (1 << 20) + 1, o, ol, &e)
  CHECK_BYTES_CLEARED(SIGN_DER, SIGN_DER_BAD, KST_LIMIT_EXCEEDED);
#define HASH(o, ol) kst_hash_token(U8(tok), tok_len, "md5", NULL, o, ol, &e)
#define HASH_BAD(o, ol) kst_hash_token(U8("uuid"), 4, "md5", NULL, o, ol, &e)
  CHECK_BYTES_CLEARED(HASH, HASH_BAD, KST_NOT_PKI);
#define HASH_BAD_NAME(o, ol) kst_hash_token(U8(tok), tok_len, "crc", NULL, o, ol, &e)
  CHECK_BYTES_CLEARED(HASH, HASH_BAD_NAME, KST_INVALID_ARGUMENT);
#define CONTENT(o, ol) kst_validated_content(ok, o, ol, &e)
#define CONTENT_BAD(o, ol) kst_validated_content(NULL, o, ol, &e)
  CHECK_BYTES_CLEARED(CONTENT, CONTENT_BAD, KST_NULL_PARAMETER);
#define VHASH(o, ol) kst_validated_hash(ok, 0, o, ol, &e)
#define VHASH_BAD(o, ol) kst_validated_hash(ok, 1, o, ol, &e)
  CHECK_BYTES_CLEARED(VHASH, VHASH_BAD, KST_INVALID_ARGUMENT);

  /* Handles. */
#define VERIFIER_BAD(o) kst_verifier_new(U8("junk"), 4, U8(ca_cert), ca_cert_len, o, &e)
  CHECK_OUT_CLEARED(const kst_verifier *, GARBAGE, NULL, VERIFIER_BAD, KST_CERTIFICATE_CONFIG);
#define VERIFIER_LIMITS_BAD(o)                                                              \
  kst_verifier_new_with_limits(U8(signing_cert), signing_cert_len, NULL, 0, NULL, o, &e)
  CHECK_OUT_CLEARED(const kst_verifier *, GARBAGE, NULL, VERIFIER_LIMITS_BAD, KST_NULL_PARAMETER);
#define SIGNER_BAD(o)                                                                       \
  kst_signer_new(U8(signing_cert), signing_cert_len, U8(ssl_key), ssl_key_len, NULL, false, o, &e)
  CHECK_OUT_CLEARED(kst_signer *, GARBAGE, NULL, SIGNER_BAD, KST_SIGNING);
#define SIGNER_LIMITS_BAD(o)                                                                \
  kst_signer_new_with_limits(U8(signing_cert), signing_cert_len, U8(signing_key),          \
                             signing_key_len, "crc", false, NULL, o, &e)
  CHECK_OUT_CLEARED(kst_signer *, GARBAGE, NULL, SIGNER_LIMITS_BAD, KST_INVALID_ARGUMENT);
#define LIST_JSON_BAD(o) kst_revocation_list_from_json(U8("[]"), 2, NULL, o, &e)
  CHECK_OUT_CLEARED(const kst_revocation_list *, GARBAGE, NULL, LIST_JSON_BAD, KST_MALFORMED);
#define LIST_SIGNED_BAD(o) kst_revocation_list_from_signed(U8(rl_pem), rl_pem_len, NULL, o, &e)
  CHECK_OUT_CLEARED(const kst_revocation_list *, GARBAGE, NULL, LIST_SIGNED_BAD,
                    KST_NULL_PARAMETER);
#define LIST_SIGNED_AT_BAD(o)                                                               \
  kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, v, AFTER_NOT_AFTER, o, &e)
  CHECK_OUT_CLEARED(const kst_revocation_list *, GARBAGE, NULL, LIST_SIGNED_AT_BAD,
                    KST_CERT_EXPIRED);
#define BUILD_BAD(o) kst_policy_builder_build(NULL, o, &e)
  CHECK_OUT_CLEARED(const kst_policy *, GARBAGE, NULL, BUILD_BAD, KST_NULL_PARAMETER);
#define VALIDATE_BAD(o) kst_validate(U8("uuid"), 4, v, NULL, NULL, NULL, o, &e)
  CHECK_OUT_CLEARED(kst_validated *, GARBAGE, NULL, VALIDATE_BAD, KST_NOT_PKI);
#define VALIDATE_AT_BAD(o) kst_validate_at(U8(tok), tok_len, v, NULL, NULL, NULL, INT64_MIN, o, &e)
  CHECK_OUT_CLEARED(kst_validated *, GARBAGE, NULL, VALIDATE_AT_BAD, KST_INVALID_ARGUMENT);

  /* Values. */
#define DETECT_BAD(o) kst_detect(NULL, 3, false, NULL, o, &e)
  CHECK_OUT_CLEARED(kst_token_form, KST_FORM_PKIZ, KST_FORM_OTHER, DETECT_BAD,
                    KST_NULL_PARAMETER);
#define LEN_BAD(o) kst_revocation_list_len(NULL, o, &e)
  CHECK_OUT_CLEARED(size_t, 99, 0, LEN_BAD, KST_NULL_PARAMETER);
#define HAS_HASH_BAD(o) kst_revocation_list_contains_hash(NULL, "x", o, &e)
  CHECK_OUT_CLEARED(bool, true, false, HAS_HASH_BAD, KST_NULL_PARAMETER);
#define HAS_AUDIT_BAD(o) kst_revocation_list_contains_audit_id(NULL, "x", o, &e)
  CHECK_OUT_CLEARED(bool, true, false, HAS_AUDIT_BAD, KST_NULL_PARAMETER);
#define COUNT_BAD(o) kst_validated_hash_count(NULL, o, &e)
  CHECK_OUT_CLEARED(size_t, 99, 0, COUNT_BAD, KST_NULL_PARAMETER);
#define FORM_BAD(o) kst_validated_form(NULL, o, &e)
  CHECK_OUT_CLEARED(kst_token_form, KST_FORM_PKI, KST_FORM_OTHER, FORM_BAD, KST_NULL_PARAMETER);
#define EXPIRES_BAD(o) kst_validated_expires(NULL, o, &e)
  CHECK_OUT_CLEARED(int64_t, 99, 0, EXPIRES_BAD, KST_NULL_PARAMETER);

  kst_validated_free(ok);
  kst_signer_free(s);
  kst_verifier_free(v);
}

/* Every input length is checked against its limit before the input is read: a one-byte buffer
 * with lengths far beyond it (SIZE_MAX, INT_MAX + 1, the default limit + 1) is KST_LIMIT_EXCEEDED
 * and is never touched, which valgrind confirms. Used to be: an abort in the signer, KST_PANIC
 * with a backtrace on stderr for credentials over INT_MAX, seconds of hashing or SIGSEGV in
 * kst_validate, no limit at all in kst_detect, kst_hash_token, kst_check_bind. */
static void test_huge_lengths(void) {
  const uint8_t *one = U8("M");
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  kst_signer *s = NULL;
  CHECK_CODE(KST_OK, kst_signer_new(U8(signing_cert), signing_cert_len, U8(signing_key),
                                    signing_key_len, NULL, false, &s, &e));
  const size_t inputs[] = {SIZE_MAX, (size_t)INT_MAX + 1, ((size_t)1 << 20) + 1};
  const size_t credentials[] = {SIZE_MAX, (size_t)INT_MAX + 1, ((size_t)16 << 20) + 1};
  const size_t lists[] = {SIZE_MAX, (size_t)INT_MAX + 1, ((size_t)64 << 20) + 1};
  uint8_t *out = NULL;
  size_t out_len = 0;
  const kst_verifier *nv = NULL;
  kst_signer *ns = NULL;
  const kst_revocation_list *list = NULL;
  kst_validated *validated = NULL;
  kst_token_form form = KST_FORM_PKI;

  for (size_t i = 0; i < 3; i++) {
    size_t n = credentials[i];
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_verifier_new(one, n, U8(ca_cert), ca_cert_len, &nv, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED,
               kst_verifier_new(U8(signing_cert), signing_cert_len, one, n, &nv, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED,
               kst_signer_new(one, n, U8(signing_key), signing_key_len, NULL, false, &ns, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED,
               kst_signer_new(U8(signing_cert), signing_cert_len, one, n, NULL, false, &ns, &e));
    kst_auth_context tls = {NULL, NULL, one, n};
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_check_bind("strict", NULL, 0, &tls, NULL, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED,
               kst_validate(U8(scoped_token), strlen(scoped_token), v, NULL, NULL, &tls,
                            &validated, &e));
  }
  CHECK(nv == NULL && ns == NULL && validated == NULL);

  for (size_t i = 0; i < 3; i++) {
    size_t n = inputs[i];
    out = GARBAGE;
    out_len = 99;
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_pki(s, one, n, &out, &out_len, &e));
    CHECK(out == NULL && out_len == 0);
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_pkiz(s, one, n, &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_pem(s, one, n, &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_der(s, one, n, &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_verifier_verify(v, one, n, &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED,
               kst_verifier_verify_at(v, one, n, INT64_C(1700000000), &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_validate(one, n, v, NULL, NULL, NULL, &validated, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_validate_at(one, n, v, NULL, NULL, NULL,
                                                   INT64_C(1700000000), &validated, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_detect(one, n, true, NULL, &form, &e));
    CHECK(form == KST_FORM_OTHER);
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_hash_token(one, n, "md5", NULL, &out, &out_len, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_check_bind("strict", one, n, NULL, NULL, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_from_json(one, n, NULL, &list, &e));
    /* A signed list has its own limit (64 MiB by default): over it, refused unread too. */
    size_t list_n = lists[i];
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_from_signed(one, list_n, v, &list, &e));
    CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_from_signed_at(
                                       one, list_n, v, INT64_C(1700000000), &list, &e));
  }
  CHECK(list == NULL && validated == NULL && out == NULL && out_len == 0);

  /* Limits configured as large as possible still stop at what a buffer (and OpenSSL) can be:
   * credentials at INT_MAX, everything else at SSIZE_MAX. */
  kst_limits unbounded;
  memset(&unbounded, 0xff, sizeof unbounded);
  CHECK_CODE(KST_LIMIT_EXCEEDED,
             kst_verifier_new_with_limits(one, (size_t)INT_MAX + 1, U8(ca_cert), ca_cert_len,
                                          &unbounded, &nv, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED,
             kst_signer_new_with_limits(U8(signing_cert), signing_cert_len, one,
                                        (size_t)INT_MAX + 1, NULL, false, &unbounded, &ns, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_detect(one, SIZE_MAX, false, &unbounded, &form, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED,
             kst_hash_token(one, (size_t)PTRDIFF_MAX + 1, "md5", &unbounded, &out, &out_len, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_from_json(one, SIZE_MAX, &unbounded, &list,
                                                               &e));
  CHECK_CODE(KST_OK, kst_signer_new_with_limits(U8(signing_cert), signing_cert_len,
                                                U8(signing_key), signing_key_len, NULL, false,
                                                &unbounded, &ns, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_signer_sign_pki(ns, one, SIZE_MAX, &out, &out_len, &e));
  kst_signer_free(ns);

  /* The limits passed to the free functions are the ones applied. */
  kst_limits small;
  CHECK_CODE(KST_OK, kst_limits_default(&small, &e));
  small.max_token_len = 3;
  small.max_json_len = 8;
  small.max_json_depth = 2;
  CHECK_CODE(KST_OK, kst_detect(U8("MII"), 3, false, &small, &form, &e));
  CHECK(form == KST_FORM_PKI);
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_detect(U8("MIIA"), 4, false, &small, &form, &e));
  CHECK_CODE(KST_OK, kst_hash_token(U8("MII"), 3, "md5", &small, &out, &out_len, &e));
  kst_bytes_free(out);
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_hash_token(U8("MIIA"), 4, "md5", &small, &out, &out_len, &e));
  CHECK_CODE(KST_OK, kst_check_bind("permissive", U8("{\"a\":[]}"), 8, NULL, &small, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_check_bind("strict", U8("{\"a\": []}"), 9, NULL, &small, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_check_bind("strict", U8("[[[]]]"), 6, NULL, &small, &e));
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_from_json(U8(rl_json), rl_json_len, &small,
                                                               &list, &e));
  small.max_json_len = rl_json_len;
  small.max_json_depth = 64;
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, &small, &list, &e));
  kst_revocation_list_free(list);

  /* Text arguments: at most KST_MAX_TEXT_LEN bytes before the NUL. */
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, &list, &e));
  char *text = malloc(KST_MAX_TEXT_LEN + 2);
  memset(text, 'a', KST_MAX_TEXT_LEN + 1);
  text[KST_MAX_TEXT_LEN + 1] = '\0';
  bool listed = true;
  CHECK_CODE(KST_LIMIT_EXCEEDED, kst_revocation_list_contains_hash(list, text, &listed, &e));
  CHECK(!listed);
  text[KST_MAX_TEXT_LEN] = '\0';
  CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(list, text, &listed, &e));
  CHECK(!listed);
  free(text);
  kst_revocation_list_free(list);

  kst_signer_free(s);
  kst_verifier_free(v);
}

/* A clock outside the years 1 to 9999 is KST_INVALID_ARGUMENT from every _at function; the first
 * and last second of that range are valid clocks (at which the certificates are not valid). */
static void test_clock_range(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  const char *tok = scoped_token;
  size_t tok_len = strlen(tok);
  const int64_t outside[] = {INT64_MIN, INT64_C(-62135596801), INT64_C(253402300800) /* 10000 */,
                             INT64_MAX};
  uint8_t *out = NULL;
  size_t out_len = 0;
  const kst_revocation_list *list = NULL;
  kst_validated *validated = NULL;
  for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
    int64_t at = outside[i];
    CHECK_CODE(KST_INVALID_ARGUMENT,
               kst_verifier_verify_at(v, U8(tok), tok_len, at, &out, &out_len, &e));
    CHECK_CODE(KST_INVALID_ARGUMENT,
               kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, v, at, &list, &e));
    CHECK_CODE(KST_INVALID_ARGUMENT,
               kst_validate_at(U8(tok), tok_len, v, NULL, NULL, NULL, at, &validated, &e));
  }
  const int64_t first = INT64_C(-62135596800), last = INT64_C(253402300799);
  CHECK_CODE(KST_CERT_NOT_YET_VALID,
             kst_verifier_verify_at(v, U8(tok), tok_len, first, &out, &out_len, &e));
  CHECK_CODE(KST_CERT_EXPIRED,
             kst_verifier_verify_at(v, U8(tok), tok_len, last, &out, &out_len, &e));
  CHECK_CODE(KST_CERT_NOT_YET_VALID,
             kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, v, first, &list, &e));
  CHECK_CODE(KST_CERT_EXPIRED,
             kst_revocation_list_from_signed_at(U8(rl_pem), rl_pem_len, v, last, &list, &e));
  CHECK_CODE(KST_CERT_NOT_YET_VALID,
             kst_validate_at(U8(tok), tok_len, v, NULL, NULL, NULL, first, &validated, &e));
  CHECK_CODE(KST_CERT_EXPIRED,
             kst_validate_at(U8(tok), tok_len, v, NULL, NULL, NULL, last, &validated, &e));
  CHECK(out == NULL && list == NULL && validated == NULL);
  kst_verifier_free(v);
}

/* Surrounding space, tab, CR and LF are not part of a token for verify, validate, hash and
 * detect; other whitespace, and whitespace inside, are. */
static void test_whitespace(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  size_t tok_len = strlen(scoped_token);
  char *padded = malloc((tok_len > pkiz_token_len ? tok_len : pkiz_token_len) + 16);
  const char *fronts[] = {" ", "\t\r\n", "", "  "};
  const char *backs[] = {"\n", "\r\n", " \t ", ""};
  uint8_t *out = NULL;
  size_t out_len = 0;
  kst_token_form form = KST_FORM_OTHER;
  kst_validated *validated = NULL;
  for (size_t i = 0; i < 4; i++) {
    sprintf(padded, "%s%s%s", fronts[i], scoped_token, backs[i]);
    size_t len = strlen(padded);
    CHECK_CODE(KST_OK, kst_verifier_verify(v, U8(padded), len, &out, &out_len, &e));
    CHECK(out_len == 3121);
    kst_bytes_free(out);
    CHECK_CODE(KST_OK, kst_validate(U8(padded), len, v, NULL, NULL, NULL, &validated, &e));
    CHECK_CODE(KST_OK, kst_validated_hash(validated, 0, &out, &out_len, &e));
    CHECK(strcmp((char *)out, "4ab116d14dec63f1e59ce78e26664a2a") == 0);
    kst_bytes_free(out);
    kst_validated_free(validated);
    validated = NULL;
    CHECK_CODE(KST_OK, kst_hash_token(U8(padded), len, "md5", NULL, &out, &out_len, &e));
    CHECK(strcmp((char *)out, "4ab116d14dec63f1e59ce78e26664a2a") == 0);
    kst_bytes_free(out);
    CHECK_CODE(KST_OK, kst_detect(U8(padded), len, false, NULL, &form, &e));
    CHECK(form == KST_FORM_PKI);
  }
  /* A padded PKIZ token. */
  sprintf(padded, " %.*s\r\n", (int)pkiz_token_len, pkiz_token);
  CHECK_CODE(KST_OK, kst_hash_token(U8(padded), strlen(padded), "sha256", NULL, &out, &out_len,
                                    &e));
  CHECK(strcmp((char *)out,
               "e4695e6a15370deab288d420d3db20fbf13bf407575b0e1ae28bc5fe0d95f0c0") == 0);
  kst_bytes_free(out);
  CHECK_CODE(KST_OK, kst_detect(U8(padded), strlen(padded), false, NULL, &form, &e));
  CHECK(form == KST_FORM_PKIZ);
  /* A vertical tab is not token whitespace; a space inside the token is not surrounding. */
  sprintf(padded, "\v%s", scoped_token);
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8(padded), strlen(padded), &out, &out_len, &e));
  CHECK_CODE(KST_OK, kst_detect(U8(padded), strlen(padded), false, NULL, &form, &e));
  CHECK(form == KST_FORM_OTHER);
  CHECK_CODE(KST_NOT_PKI, kst_hash_token(U8(padded), strlen(padded), "md5", NULL, &out, &out_len,
                                         &e));
  CHECK_CODE(KST_NOT_PKI,
             kst_validate(U8(padded), strlen(padded), v, NULL, NULL, NULL, &validated, &e));
  strcpy(padded, scoped_token);
  padded[100] = ' ';
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8(padded), tok_len, &out, &out_len, &e));
  CHECK_CODE(KST_MALFORMED,
             kst_validate(U8(padded), tok_len, v, NULL, NULL, NULL, &validated, &e));
  /* Nothing but whitespace. */
  CHECK_CODE(KST_MALFORMED, kst_verifier_verify(v, U8(" \r\n"), 3, &out, &out_len, &e));
  CHECK_CODE(KST_NOT_PKI, kst_hash_token(U8(" \r\n"), 3, "md5", NULL, &out, &out_len, &e));
  free(padded);
  kst_verifier_free(v);
}

/* Reference-counted handles: a clone is the same object, usable after the original reference is
 * freed; the object goes with the last reference (valgrind reports a leak or a use after free
 * otherwise). */
static void test_reference_counts(void) {
  const kst_verifier *v = new_verifier(signing_cert, signing_cert_len, ca_cert, ca_cert_len);
  const kst_verifier *v2 = kst_verifier_clone(v);
  CHECK(v2 == v);
  kst_verifier_free(v);
  uint8_t *out = NULL;
  size_t out_len = 0;
  CHECK_CODE(KST_OK, kst_verifier_verify(v2, U8(scoped_token), strlen(scoped_token), &out,
                                         &out_len, &e));
  kst_bytes_free(out);
  CHECK(kst_verifier_clone(NULL) == NULL);

  const kst_revocation_list *list = NULL;
  CHECK_CODE(KST_OK, kst_revocation_list_from_json(U8(rl_json), rl_json_len, NULL, &list, &e));
  const kst_revocation_list *copies[3];
  for (int i = 0; i < 3; i++) copies[i] = kst_revocation_list_clone(list);
  CHECK(copies[0] == list && copies[2] == list);
  kst_revocation_list_free(list);
  bool listed = false;
  for (int i = 0; i < 3; i++) {
    CHECK_CODE(KST_OK, kst_revocation_list_contains_hash(
                           copies[i], "db98ed2af6c6707bec6dc6c6892789a0", &listed, &e));
    CHECK(listed);
    kst_revocation_list_free(copies[i]);
  }
  CHECK(kst_revocation_list_clone(NULL) == NULL);

  kst_policy_builder *builder = NULL;
  const kst_policy *policy = NULL;
  CHECK_CODE(KST_OK, kst_policy_builder_new(&builder, &e));
  CHECK_CODE(KST_OK, kst_policy_builder_build(builder, &policy, &e));
  kst_policy_builder_free(builder);
  const kst_policy *p2 = kst_policy_clone(policy);
  CHECK(p2 == policy);
  kst_policy_free(policy);
  kst_validated *validated = NULL;
  CHECK_CODE(KST_OK, kst_validate(U8(scoped_token), strlen(scoped_token), v2, NULL, p2, NULL,
                                  &validated, &e));
  kst_validated_free(validated);
  kst_policy_free(p2);
  kst_verifier_free(v2);
}

int main(void) {
  load_data();
  test_version_and_results();
  test_limits();
  test_verifier();
  test_signer();
  test_detect_and_hash();
  test_revocation();
  test_bind();
  test_validate();
  test_outputs_cleared();
  test_huge_lengths();
  test_clock_range();
  test_whitespace();
  test_reference_counts();
  free_data();
  return finish();
}
