/* Shared helpers of the kstoken C tests: a tiny check harness and test-data loading. */
#ifndef KSTOKEN_TEST_COMMON_H
#define KSTOKEN_TEST_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstoken.h"

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (cond) {                                                                      \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                \
    }                                                                                \
  } while (0)

/* Runs `call` (which must pass `&e` as its kst_error ** argument) and checks that it returns
 * `code`, and that the detailed error agrees (NULL on success, same code otherwise). */
#define CHECK_CODE(code, call)                                                       \
  do {                                                                               \
    kst_error *e = NULL;                                                             \
    kst_result r_ = (call);                                                          \
    if (r_ == (kst_result)(code) && ((code) == KST_OK ? e == NULL                    \
                                     : (e != NULL && kst_error_code(e) == (code) &&  \
                                        strlen(kst_error_message(e)) > 0))) {        \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "FAIL %s:%d: %s returned %u (%s), expected %u: %s\n",          \
              __FILE__, __LINE__, #call, (unsigned)r_, kst_result_message(r_),       \
              (unsigned)(code), e ? kst_error_message(e) : "(no error)");            \
    }                                                                                \
    kst_error_free(e);                                                               \
  } while (0)

static int finish(void) {
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

/* The vectors directory: $KSTOKEN_VECTORS or ../shared/vectors (from the repository root). */
static inline const char *vectors_dir(void) {
  const char *dir = getenv("KSTOKEN_VECTORS");
  return dir && *dir ? dir : "../shared/vectors";
}

/* Reads a file under the vectors directory; NUL-terminated, free with free(). Exits on error. */
static inline char *read_vector(const char *relative, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", vectors_dir(), relative);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *data = malloc((size_t)size + 1);
  if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  data[size] = '\0';
  if (len) *len = (size_t)size;
  return data;
}

/* keystoneclient's cms_to_token: CMS PEM text to a PKI token (malloc'd, NUL-terminated). */
static inline char *pem_to_token(const char *pem) {
  char *token = malloc(strlen(pem) + 1);
  size_t n = 0;
  const char *line = pem;
  while (*line) {
    const char *end = strchr(line, '\n');
    size_t line_len = end ? (size_t)(end - line) : strlen(line);
    if (strncmp(line, "-----", 5) != 0) {
      for (size_t i = 0; i < line_len; i++) {
        char c = line[i];
        if (c == '\r') continue;
        token[n++] = c == '/' ? '-' : c;
      }
    }
    line += line_len + (end ? 1 : 0);
  }
  token[n] = '\0';
  return token;
}

#define KC6 "keystoneclient/6.0.0/examples/pki/"
#define KC5 "keystoneclient/5.5.0/examples/pki/"

#endif
