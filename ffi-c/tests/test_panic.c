/* A panic inside libkstoken is KST_PANIC with a message, prints nothing on the host's standard
 * error (not even with RUST_BACKTRACE set), and leaves the library usable, in any thread.
 *
 * It needs kst_debug_panic, which only debug builds of the library export (the header does not
 * declare it: it is no part of the API). */
#include "common.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#define U8(s) ((const uint8_t *)(s))
#define THREADS 4

kst_result kst_debug_panic(kst_error **err);

static void *panic_in_thread(void *arg) {
  int *ok = arg;
  kst_error *e = NULL;
  *ok = kst_debug_panic(&e) == KST_PANIC && kst_error_code(e) == KST_PANIC &&
        strstr(kst_error_message(e), "deliberate panic") != NULL;
  kst_error_free(e);
  *ok = *ok && kst_debug_panic(NULL) == KST_PANIC;
  return NULL;
}

int main(void) {
  /* Standard error goes to a temporary file for the duration of the panics. */
  setenv("RUST_BACKTRACE", "full", 1);
  FILE *capture = tmpfile();
  CHECK(capture != NULL);
  if (!capture) return finish();
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  CHECK(saved >= 0 && dup2(fileno(capture), STDERR_FILENO) == STDERR_FILENO);

  kst_error *e = NULL;
  kst_result rc = kst_debug_panic(&e);
  int first_ok = rc == KST_PANIC && e != NULL && kst_error_code(e) == KST_PANIC;
  /* The message says what and where: "kstoken panicked at ffi-c/src/panic.rs:L:C: ...". */
  int message_ok = e != NULL && strstr(kst_error_message(e), "kstoken panicked at ") != NULL &&
                   strstr(kst_error_message(e), "panic.rs:") != NULL &&
                   strstr(kst_error_message(e), "deliberate panic (kst_debug_panic)") != NULL;
  char message[512] = "";
  if (e) snprintf(message, sizeof message, "%s", kst_error_message(e));
  kst_error_free(e);
  int null_err_ok = kst_debug_panic(NULL) == KST_PANIC;

  pthread_t threads[THREADS];
  int thread_ok[THREADS] = {0};
  int threads_started = 1;
  for (int t = 0; t < THREADS; t++)
    threads_started &= pthread_create(&threads[t], NULL, panic_in_thread, &thread_ok[t]) == 0;
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

  /* Still usable after the panics. */
  kst_token_form form = KST_FORM_OTHER;
  int form_ok = kst_detect(U8("PKIZ_x"), 6, false, NULL, &form, NULL) == KST_OK &&
            form == KST_FORM_PKIZ;

  fflush(stderr);
  CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
  close(saved);
  fseek(capture, 0, SEEK_END);
  long written = ftell(capture);
  if (written != 0) {
    char text[1024] = "";
    fseek(capture, 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, capture);
    text[n] = '\0';
    fprintf(stderr, "standard error during the panics (%ld bytes):\n%s\n", written, text);
  }
  fclose(capture);

  CHECK(first_ok);
  if (!message_ok) fprintf(stderr, "message: %s\n", message);
  CHECK(message_ok);
  CHECK(null_err_ok);
  CHECK(threads_started);
  for (int t = 0; t < THREADS; t++) CHECK(thread_ok[t]);
  CHECK(form_ok);
  CHECK(written == 0);
  return finish();
}
