#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct bl_env_state {
  int *fds;
  size_t len;
  size_t cap;
} bl_env_state;

static void env_state_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  bl_env_state *state = (bl_env_state *)data;
  for (size_t i = 0; i < state->len; i++) {
    close(state->fds[i]);
  }
  free(state->fds);
  free(state);
}

bool bl_env_init(napi_env env) {
  bl_env_state *state = (bl_env_state *)calloc(1, sizeof *state);
  if (state == NULL) {
    return false;
  }
  if (napi_set_instance_data(env, state, env_state_finalize, NULL) != napi_ok) {
    free(state);
    return false;
  }
  return true;
}

void bl_track_fd(napi_env env, int fd) {
  bl_env_state *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) {
    return;
  }
  if (state->len == state->cap) {
    size_t cap = state->cap == 0 ? 8 : state->cap * 2;
    int *fds = (int *)realloc(state->fds, cap * sizeof *fds);
    if (fds == NULL) {
      return; /* Untracked: only the teardown safety net is lost. */
    }
    state->fds = fds;
    state->cap = cap;
  }
  state->fds[state->len++] = fd;
}

void bl_untrack_fd(napi_env env, int fd) {
  bl_env_state *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) {
    return;
  }
  for (size_t i = 0; i < state->len; i++) {
    if (state->fds[i] == fd) {
      state->fds[i] = state->fds[--state->len];
      return;
    }
  }
}

napi_value bl_errno_error(napi_env env, int err, const char *syscall, const char *subject) {
  /* libuv's names and texts are Node's own (fs errors read the same way). On Linux a
   * libuv error is the negated errno. */
  char code[32];
  char text[128];
  char message[512];
  uv_err_name_r(-err, code, sizeof code);
  if (strncmp(code, "Unknown", 7) == 0) {
    snprintf(code, sizeof code, "E%d", err);
  }
  uv_strerror_r(-err, text, sizeof text);
  if (subject != NULL && subject[0] != '\0') {
    snprintf(message, sizeof message, "%s: %s, %s '%s'", code, text, syscall, subject);
  } else {
    snprintf(message, sizeof message, "%s: %s, %s", code, text, syscall);
  }

  napi_value js_code;
  napi_value js_message;
  napi_value error;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message);
  napi_create_error(env, js_code, js_message, &error);
  bl_set_int(env, error, "errno", -err);
  bl_set_str(env, error, "syscall", syscall);
  if (subject != NULL && subject[0] != '\0') {
    bl_set_str(env, error, "subject", subject);
  }
  return error;
}

napi_value bl_throw_errno(napi_env env, int err, const char *syscall, const char *subject) {
  napi_throw(env, bl_errno_error(env, err, syscall, subject));
  return NULL;
}

napi_value bl_throw_arg(napi_env env, const char *code, const char *message) {
  napi_throw_type_error(env, code, message);
  return NULL;
}

bool bl_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    return false;
  }
  if (argc < want) {
    char message[96];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", want, argc);
    bl_throw_arg(env, "ERR_MISSING_ARGS", message);
    return false;
  }
  return true;
}

static bool expect_type(napi_env env, napi_value v, napi_valuetype want, const char *what,
                        const char *type_name) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != want) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a %s", what, type_name);
    bl_throw_arg(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  return true;
}

bool bl_get_int32(napi_env env, napi_value v, const char *what, int32_t *out) {
  if (!expect_type(env, v, napi_number, what, "number")) {
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int32_t)d) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a 32-bit integer", what);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  *out = (int32_t)d;
  return true;
}

bool bl_get_uint32(napi_env env, napi_value v, const char *what, uint32_t *out) {
  if (!expect_type(env, v, napi_number, what, "number")) {
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0.0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    char message[128];
    snprintf(message, sizeof message, "%s must be an unsigned 32-bit integer", what);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool bl_get_bool(napi_env env, napi_value v, const char *what, bool *out) {
  if (!expect_type(env, v, napi_boolean, what, "boolean")) {
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool bl_get_string(napi_env env, napi_value v, const char *what, char *buf, size_t bufsize) {
  if (!expect_type(env, v, napi_string, what, "string")) {
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len >= bufsize) {
    char message[128];
    snprintf(message, sizeof message, "%s is too long (%zu bytes, at most %zu)", what, len,
             bufsize - 1);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, bufsize, &len);
  if (strlen(buf) != len) {
    char message[128];
    snprintf(message, sizeof message, "%s must not contain NUL characters", what);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  return true;
}

bool bl_get_bytes(napi_env env, napi_value v, const char *what, const uint8_t **data,
                  size_t *len) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (is_typed) {
    napi_typedarray_type type;
    size_t length;
    void *ptr;
    napi_value arraybuffer;
    size_t offset;
    napi_get_typedarray_info(env, v, &type, &length, &ptr, &arraybuffer, &offset);
    if (type == napi_uint8_array) {
      /* ptr already points at the first element (byte offset applied). */
      *data = (const uint8_t *)ptr;
      *len = length;
      return true;
    }
  }
  char message[128];
  snprintf(message, sizeof message, "%s must be a Buffer or Uint8Array", what);
  bl_throw_arg(env, "ERR_INVALID_ARG_TYPE", message);
  return false;
}

void bl_set(napi_env env, napi_value obj, const char *name, napi_value value) {
  napi_set_named_property(env, obj, name, value);
}

void bl_set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

void bl_set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

void bl_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

napi_value bl_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}
