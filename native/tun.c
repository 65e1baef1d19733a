/*
 * TUN device: open, readiness-driven reads delivered to JS in batches, direct
 * non-blocking writes, close.
 *
 * Why not fs.read: a blocking read per packet on the libuv thread pool measured
 * ~34k packets/s here; a uv_poll_t readiness watcher that drains the fd on the
 * loop thread measured ~155k (MEASURED.md). net.Socket refuses a TUN fd.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

/* A TUN read returns one packet; IPv4/IPv6 packets are at most 65535 bytes. */
#define TUN_SCRATCH 65536
#define TUN_MAX_BATCH 1024

typedef struct tun_watcher {
  uv_poll_t poll;
  napi_env env;
  /* The JS handle object: the receiver of every callback (napi_make_callback
   * needs an object receiver) and the async resource. */
  napi_ref resource_ref;
  napi_ref on_packets_ref;
  napi_ref on_error_ref;
  napi_async_context async_ctx;
  int fd;
  uint32_t batch;
  bool closing;
  bool env_gone;
  uint8_t scratch[TUN_SCRATCH];
} tun_watcher;

/* tunOpen(name: string, devicePath: string, nonBlocking: boolean) -> { fd, name } */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[IFNAMSIZ];
  char path[256];
  bool non_blocking;
  if (!bl_args(env, info, 3, argv) || !bl_get_string(env, argv[0], "name", name, sizeof name) ||
      !bl_get_string(env, argv[1], "devicePath", path, sizeof path) ||
      !bl_get_bool(env, argv[2], "nonBlocking", &non_blocking)) {
    return NULL;
  }

  /* O_CLOEXEC: a child process (ip, ping) must never keep the device alive. */
  int fd = open(path, O_RDWR | O_CLOEXEC | (non_blocking ? O_NONBLOCK : 0));
  if (fd < 0) {
    return bl_throw_errno(env, errno, "open", path);
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  /* An empty name lets the kernel pick tun%d; "bl%d" picks the next free blN. */
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return bl_throw_errno(env, e, "ioctl TUNSETIFF", name[0] != '\0' ? name : "(kernel-assigned)");
  }

  char actual[IFNAMSIZ + 1];
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ] = '\0';

  bl_track_fd(env, fd);
  napi_value result;
  napi_create_object(env, &result);
  bl_set_int(env, result, "fd", fd);
  bl_set_str(env, result, "name", actual);
  return result;
}

/* Calls fn with the handle object as receiver; a throwing callback becomes an
 * uncaught exception, as it would from any Node event source. */
static void call_js(tun_watcher *w, napi_ref fn_ref, napi_value arg) {
  napi_env env = w->env;
  napi_value resource;
  napi_value fn;
  napi_value result;
  if (napi_get_reference_value(env, w->resource_ref, &resource) != napi_ok ||
      napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) {
    return;
  }
  napi_make_callback(env, w->async_ctx, resource, fn, 1, &arg, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void on_close_free(uv_handle_t *handle) { free(handle->data); }

static void on_close(uv_handle_t *handle) {
  tun_watcher *w = (tun_watcher *)handle->data;
  if (!w->env_gone) {
    napi_env env = w->env;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_delete_reference(env, w->on_packets_ref);
    napi_delete_reference(env, w->on_error_ref);
    napi_delete_reference(env, w->resource_ref);
    napi_async_destroy(env, w->async_ctx);
    napi_close_handle_scope(env, scope);
  }
  free(w);
}

/* The environment is being torn down (process exit, worker end) with the
 * watcher still running: close the uv handle so the loop can close, and touch
 * no napi state from here on. */
static void on_env_cleanup(void *arg) {
  tun_watcher *w = (tun_watcher *)arg;
  w->env_gone = true;
  if (!w->closing) {
    w->closing = true;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_close_free);
  }
}

static void report_error(tun_watcher *w, int err, const char *syscall) {
  /* Level-triggered readiness on a broken fd would spin: stop first. */
  uv_poll_stop(&w->poll);
  napi_value error = bl_errno_error(w->env, err, syscall, "tun");
  call_js(w, w->on_error_ref, error);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  tun_watcher *w = (tun_watcher *)handle->data;
  if (w->closing) {
    return;
  }
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    return;
  }

  if (status < 0) {
    report_error(w, -status, "poll");
    napi_close_handle_scope(env, scope);
    return;
  }

  napi_value packets;
  napi_create_array(env, &packets);
  uint32_t count = 0;
  int read_errno = 0;
  /* Drain up to one batch; the poll is level-triggered, so what is left wakes
   * us on the next loop turn after other I/O had its share. */
  while (count < w->batch) {
    ssize_t n = read(w->fd, w->scratch, sizeof w->scratch);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        read_errno = errno;
      }
      break;
    }
    if (n == 0) {
      break;
    }
    napi_value buf;
    if (napi_create_buffer_copy(env, (size_t)n, w->scratch, NULL, &buf) != napi_ok) {
      read_errno = ENOMEM;
      break;
    }
    napi_set_element(env, packets, count, buf);
    count++;
  }

  if (count > 0) {
    call_js(w, w->on_packets_ref, packets);
  }
  /* The packets callback may have stopped us; w stays valid until on_close. */
  if (read_errno != 0 && !w->closing) {
    report_error(w, read_errno, "read");
  }
  napi_close_handle_scope(env, scope);
}

/* tunWatch(fd, batch, onPackets(packets: Buffer[]), onError(err)) -> handle */
static napi_value tun_watch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd;
  uint32_t batch;
  if (!bl_args(env, info, 4, argv) || !bl_get_int32(env, argv[0], "fd", &fd) ||
      !bl_get_uint32(env, argv[1], "batch", &batch)) {
    return NULL;
  }
  if (fd < 0) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "fd must be >= 0");
  }
  if (batch < 1 || batch > TUN_MAX_BATCH) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "batch must be between 1 and 1024");
  }
  for (int i = 2; i < 4; i++) {
    napi_valuetype type;
    napi_typeof(env, argv[i], &type);
    if (type != napi_function) {
      return bl_throw_arg(env, "ERR_INVALID_ARG_TYPE",
                          i == 2 ? "onPackets must be a function" : "onError must be a function");
    }
  }

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    return bl_throw_errno(env, EINVAL, "napi_get_uv_event_loop", NULL);
  }

  tun_watcher *w = (tun_watcher *)calloc(1, sizeof *w);
  if (w == NULL) {
    return bl_throw_errno(env, ENOMEM, "calloc", NULL);
  }
  w->env = env;
  w->fd = fd;
  w->batch = batch;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return bl_throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  w->poll.data = w;

  napi_value handle;
  napi_value resource_name;
  napi_create_object(env, &handle);
  napi_create_string_utf8(env, "BranchlinkTunRead", NAPI_AUTO_LENGTH, &resource_name);
  napi_wrap(env, handle, w, NULL, NULL, NULL);
  napi_create_reference(env, handle, 1, &w->resource_ref);
  napi_create_reference(env, argv[2], 1, &w->on_packets_ref);
  napi_create_reference(env, argv[3], 1, &w->on_error_ref);
  napi_async_init(env, handle, resource_name, &w->async_ctx);

  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    void *unused;
    napi_remove_wrap(env, handle, &unused);
    w->closing = true;
    uv_close((uv_handle_t *)&w->poll, on_close);
    return bl_throw_errno(env, -rc, "uv_poll_start", NULL);
  }
  napi_add_env_cleanup_hook(env, on_env_cleanup, w);
  return handle;
}

/* tunUnwatch(handle): stops reading; idempotent. Must be called before the fd is closed. */
static napi_value tun_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!bl_args(env, info, 1, argv)) {
    return NULL;
  }
  void *ptr = NULL;
  if (napi_remove_wrap(env, argv[0], &ptr) != napi_ok || ptr == NULL) {
    /* Already stopped (or not a watcher handle): nothing to do. */
    napi_value exc;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_get_and_clear_last_exception(env, &exc);
    }
    return bl_undefined(env);
  }
  tun_watcher *w = (tun_watcher *)ptr;
  w->closing = true;
  uv_poll_stop(&w->poll);
  napi_remove_env_cleanup_hook(env, on_env_cleanup, w);
  uv_close((uv_handle_t *)&w->poll, on_close);
  return bl_undefined(env);
}

/* tunWatchRef(handle, ref: boolean): whether the watcher keeps the process alive. */
static napi_value tun_watch_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool ref;
  if (!bl_args(env, info, 2, argv) || !bl_get_bool(env, argv[1], "ref", &ref)) {
    return NULL;
  }
  void *ptr = NULL;
  if (napi_unwrap(env, argv[0], &ptr) != napi_ok || ptr == NULL) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
    }
    return bl_undefined(env);
  }
  tun_watcher *w = (tun_watcher *)ptr;
  if (ref) {
    uv_ref((uv_handle_t *)&w->poll);
  } else {
    uv_unref((uv_handle_t *)&w->poll);
  }
  return bl_undefined(env);
}

/* One packet, one write(2). Returns bytes written, or -errno (EAGAIN, ENOBUFS:
 * the kernel queue is full; EINVAL: not an IPv4/IPv6 packet; EIO: device down). */
static ssize_t write_packet(int fd, const uint8_t *data, size_t len) {
  for (;;) {
    ssize_t n = write(fd, data, len);
    if (n >= 0) {
      return n;
    }
    if (errno != EINTR) {
      return -errno;
    }
  }
}

/* tunWrite(fd, packet) -> bytes written or -errno; never throws for I/O errors
 * (a dropped packet is counted by the caller, not an exception). */
static napi_value tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  const uint8_t *data;
  size_t len;
  if (!bl_args(env, info, 2, argv) || !bl_get_int32(env, argv[0], "fd", &fd) ||
      !bl_get_bytes(env, argv[1], "packet", &data, &len)) {
    return NULL;
  }
  napi_value result;
  napi_create_int64(env, (int64_t)write_packet(fd, data, len), &result);
  return result;
}

/* tunWriteBatch(fd, packets: Uint8Array[]) -> [packets written, bytes written]. A
 * failed packet does not stop the batch: packets are independent datagrams. */
static napi_value tun_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!bl_args(env, info, 2, argv) || !bl_get_int32(env, argv[0], "fd", &fd)) {
    return NULL;
  }
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_TYPE", "packets must be an array");
  }
  uint32_t length = 0;
  napi_get_array_length(env, argv[1], &length);
  uint32_t written = 0;
  double bytes = 0;
  for (uint32_t i = 0; i < length; i++) {
    napi_value element;
    const uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        !bl_get_bytes(env, element, "packets[i]", &data, &len)) {
      return NULL;
    }
    ssize_t n = write_packet(fd, data, len);
    if (n >= 0) {
      written++;
      bytes += (double)n;
    }
  }
  napi_value result;
  napi_value v;
  napi_create_array_with_length(env, 2, &result);
  napi_create_uint32(env, written, &v);
  napi_set_element(env, result, 0, v);
  napi_create_double(env, bytes, &v);
  napi_set_element(env, result, 1, v);
  return result;
}

/* closeFd(fd): closes a TUN or GPIO fd; throws on EBADF. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!bl_args(env, info, 1, argv) || !bl_get_int32(env, argv[0], "fd", &fd)) {
    return NULL;
  }
  bl_untrack_fd(env, fd);
  /* Linux releases the fd even when close reports EINTR: never retry. */
  if (close(fd) < 0 && errno != EINTR) {
    return bl_throw_errno(env, errno, "close", NULL);
  }
  return bl_undefined(env);
}

void bl_init_tun(napi_env env, napi_value exports) {
  bl_export(env, exports, "tunOpen", tun_open);
  bl_export(env, exports, "tunWatch", tun_watch);
  bl_export(env, exports, "tunUnwatch", tun_unwatch);
  bl_export(env, exports, "tunWatchRef", tun_watch_ref);
  bl_export(env, exports, "tunWrite", tun_write);
  bl_export(env, exports, "tunWriteBatch", tun_write_batch);
  bl_export(env, exports, "closeFd", close_fd);
}
