/*
 * Shared helpers of the branchlink native addon: argument checking and
 * errno-carrying JS errors. Every exported function validates its arguments
 * and throws a JS error instead of crashing.
 */
#ifndef BRANCHLINK_NATIVE_COMMON_H
#define BRANCHLINK_NATIVE_COMMON_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest argument count any export takes. */
#define BL_MAX_ARGS 8

/* Builds (does not throw) an Error with code "E...", errno (negative, like
 * Node's fs errors), syscall and message "CODE: text, syscall 'subject'". */
napi_value bl_errno_error(napi_env env, int err, const char *syscall, const char *subject);

/* Throws bl_errno_error(...). Returns NULL so callers can `return bl_throw_errno(...)`. */
napi_value bl_throw_errno(napi_env env, int err, const char *syscall, const char *subject);

/* Throws a TypeError with code ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE. */
napi_value bl_throw_arg(napi_env env, const char *code, const char *message);

/* Fetches exactly `want` arguments; throws and returns false when fewer were passed. */
bool bl_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

bool bl_get_int32(napi_env env, napi_value v, const char *what, int32_t *out);
bool bl_get_uint32(napi_env env, napi_value v, const char *what, uint32_t *out);
bool bl_get_bool(napi_env env, napi_value v, const char *what, bool *out);

/* Copies a string argument into buf (NUL-terminated). Throws when it is not a
 * string or does not fit (length must be < bufsize). */
bool bl_get_string(napi_env env, napi_value v, const char *what, char *buf, size_t bufsize);

/* Gets the bytes of a Buffer / Uint8Array (any TypedArray's byte view). */
bool bl_get_bytes(napi_env env, napi_value v, const char *what, const uint8_t **data,
                  size_t *len);

/* Sets obj[name] = value, ignoring failures (only used on fresh objects). */
void bl_set(napi_env env, napi_value obj, const char *name, napi_value value);
void bl_set_int(napi_env env, napi_value obj, const char *name, int64_t value);
void bl_set_str(napi_env env, napi_value obj, const char *name, const char *value);

void bl_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

napi_value bl_undefined(napi_env env);

/* Per-environment registry of the fds this addon opened (TUN devices, GPIO line
 * requests): whatever JS did not close is closed when the environment goes away
 * (a worker thread ending), so an interface or a GPIO line never outlives it. */
bool bl_env_init(napi_env env);
void bl_track_fd(napi_env env, int fd);
void bl_untrack_fd(napi_env env, int fd);

/* Module parts. */
void bl_init_tun(napi_env env, napi_value exports);
void bl_init_netif(napi_env env, napi_value exports);
void bl_init_gpio(napi_env env, napi_value exports);

#endif
