// Typed wrappers for zlib's init macros (they pass ZLIB_VERSION and the struct size), which Swift cannot call.
#ifndef DR_AUDIT_ZLIB_SHIM_H
#define DR_AUDIT_ZLIB_SHIM_H
#include <zlib.h>

/// windowBits 15 + 16: gzip members only (header, CRC32 and ISIZE checked by zlib); -15: raw deflate.
static inline int drz_inflate_init(z_streamp stream, int window_bits) { return inflateInit2(stream, window_bits); }

static inline int drz_deflate_init(z_streamp stream, int level, int window_bits) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}
#endif
