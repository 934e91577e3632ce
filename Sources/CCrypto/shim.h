// OpenSSL's libcrypto (already loaded through libssh2 and libcurl): SHA-256 for the DR kit's Secret digests, SHA-1
// for the checksum pgBackRest records of every file (manifest `checksum`).
#ifndef DR_AUDIT_CRYPTO_SHIM_H
#define DR_AUDIT_CRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
