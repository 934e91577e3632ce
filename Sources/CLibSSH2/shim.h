// Typed wrappers for libssh2's function-like macros, which Swift cannot call.
#ifndef DR_AUDIT_LIBSSH2_SHIM_H
#define DR_AUDIT_LIBSSH2_SHIM_H
#include <libssh2.h>

static inline LIBSSH2_SESSION *drssh_session_init(void) { return libssh2_session_init(); }

static inline int drssh_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect(session, description);
}

static inline int drssh_userauth_password(LIBSSH2_SESSION *session, const char *username, const char *password) {
    return libssh2_userauth_password(session, username, password);
}

static inline int drssh_knownhost_read(LIBSSH2_KNOWNHOSTS *hosts, const char *file) {
    return libssh2_knownhost_readfile(hosts, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

/// The known_hosts type mask for a session's host key type.
static inline int drssh_knownhost_typemask(int hostkey_type) {
    int key;
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: key = LIBSSH2_KNOWNHOST_KEY_SSHRSA; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: key = LIBSSH2_KNOWNHOST_KEY_SSHDSS; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_256; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_384; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_521; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: key = LIBSSH2_KNOWNHOST_KEY_ED25519; break;
    default: key = LIBSSH2_KNOWNHOST_KEY_UNKNOWN; break;
    }
    return LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key;
}

/// A session channel with a receive window of `window` bytes (room for many answers in flight).
static inline LIBSSH2_CHANNEL *drssh_channel_open_session(LIBSSH2_SESSION *session, unsigned int window) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1, window, LIBSSH2_CHANNEL_PACKET_DEFAULT,
                                   NULL, 0);
}

static inline int drssh_channel_subsystem(LIBSSH2_CHANNEL *channel, const char *name) {
    return libssh2_channel_subsystem(channel, name);
}

static inline ssize_t drssh_channel_read(LIBSSH2_CHANNEL *channel, char *buffer, size_t size) {
    return libssh2_channel_read(channel, buffer, size);
}

static inline ssize_t drssh_channel_write(LIBSSH2_CHANNEL *channel, const char *buffer, size_t size) {
    return libssh2_channel_write(channel, buffer, size);
}

#endif
