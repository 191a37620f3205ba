/* Verifies a PKI or PKIZ token (or CMS PEM) read from stdin and prints the signed body.
 *
 *   verify SIGNING_CERT.pem CA.pem < token
 *
 * Exit status: 0 verified, 4 verification failed (as `openssl cms -verify`), 1 other errors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include <kstoken.h>

/* Reads a whole stream into a malloc'd buffer. */
static unsigned char *slurp(FILE *f, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      unsigned char *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  *len = n;
  return buf;
}

static unsigned char *slurp_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  unsigned char *data = slurp(f, len);
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SIGNING_CERT.pem CA.pem < token\n", argv[0]);
    return 1;
  }
  size_t certs_len, ca_len, token_len;
  unsigned char *certs = slurp_file(argv[1], &certs_len);
  unsigned char *ca = slurp_file(argv[2], &ca_len);
  unsigned char *token = slurp(stdin, &token_len);
  if (!certs || !ca || !token) return 1;
  while (token_len > 0 && isspace(token[token_len - 1])) token_len--; /* the final newline */

  const kst_verifier *verifier = NULL;
  kst_error *err = NULL;
  uint8_t *body = NULL;
  size_t body_len = 0;
  kst_result rc = kst_verifier_new(certs, certs_len, ca, ca_len, &verifier, &err);
  if (rc == KST_OK) rc = kst_verifier_verify(verifier, token, token_len, &body, &body_len, &err);

  int status = 0;
  if (rc == KST_OK) {
    fwrite(body, 1, body_len, stdout);
  } else {
    fprintf(stderr, "kstoken: %s\n", kst_error_message(err));
    status = kst_result_is_verification_failure(rc) ? 4 : 1;
  }
  kst_bytes_free(body);
  kst_error_free(err);
  kst_verifier_free(verifier);
  free(token);
  free(ca);
  free(certs);
  return status;
}
