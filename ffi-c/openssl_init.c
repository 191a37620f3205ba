/* OPENSSL_init_ssl for libkstoken.so, so that the shared library does not depend on libssl.
 *
 * The openssl crate initialises OpenSSL through OPENSSL_init_ssl, the only libssl function
 * libkstoken calls: kstoken never opens a TLS connection. This definition does what OpenSSL
 * 1.1.0+'s own does for libcrypto (all ciphers and digests, the configuration file unless told
 * not to) and skips libssl's cipher-list setup. ffi-c/build.rs links it into the shared library
 * only, where rustc's version script keeps it local (only kst_* is exported): it never replaces
 * the OPENSSL_init_ssl of another library or of the program. The static library does not carry it
 * (a program linking libkstoken.a may use libssl itself), and keeps -lssl in its link line. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>

int OPENSSL_init_ssl(uint64_t opts, const OPENSSL_INIT_SETTINGS *settings) {
  opts |= OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS;
  if ((opts & OPENSSL_INIT_NO_LOAD_CONFIG) == 0) opts |= OPENSSL_INIT_LOAD_CONFIG;
  return OPENSSL_init_crypto(opts, settings);
}
