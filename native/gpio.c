/*
 * GPIO through the Linux GPIO character device, v2 uAPI (Linux >= 5.10): request
 * a set of lines as outputs, set and read their values, release them by closing
 * the line fd. sysfs GPIO is deprecated and absent from current Debian kernels.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define GPIO_DRIVE_PUSH_PULL 0
#define GPIO_DRIVE_OPEN_DRAIN 1
#define GPIO_DRIVE_OPEN_SOURCE 2

static int open_chip(const char *path) { return open(path, O_RDWR | O_CLOEXEC); }

static napi_value str_field(napi_env env, const char *field, size_t size) {
  napi_value v;
  napi_create_string_utf8(env, field, strnlen(field, size), &v);
  return v;
}

/* gpioChipInfo(path) -> { name, label, lines } */
static napi_value gpio_chip_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[256];
  if (!bl_args(env, info, 1, argv) || !bl_get_string(env, argv[0], "chip path", path, sizeof path)) {
    return NULL;
  }
  int fd = open_chip(path);
  if (fd < 0) {
    return bl_throw_errno(env, errno, "open", path);
  }
  struct gpiochip_info chip;
  memset(&chip, 0, sizeof chip);
  int rc = ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &chip);
  int e = errno;
  close(fd);
  if (rc < 0) {
    return bl_throw_errno(env, e, "ioctl GPIO_GET_CHIPINFO", path);
  }
  napi_value result;
  napi_create_object(env, &result);
  bl_set(env, result, "name", str_field(env, chip.name, sizeof chip.name));
  bl_set(env, result, "label", str_field(env, chip.label, sizeof chip.label));
  bl_set_int(env, result, "lines", chip.lines);
  return result;
}

/* gpioLineInfo(path, offset) -> { name, consumer, used, output, activeLow } */
static napi_value gpio_line_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[256];
  uint32_t offset;
  if (!bl_args(env, info, 2, argv) ||
      !bl_get_string(env, argv[0], "chip path", path, sizeof path) ||
      !bl_get_uint32(env, argv[1], "offset", &offset)) {
    return NULL;
  }
  int fd = open_chip(path);
  if (fd < 0) {
    return bl_throw_errno(env, errno, "open", path);
  }
  struct gpio_v2_line_info line;
  memset(&line, 0, sizeof line);
  line.offset = offset;
  int rc = ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &line);
  int e = errno;
  close(fd);
  if (rc < 0) {
    return bl_throw_errno(env, e, "ioctl GPIO_V2_GET_LINEINFO", path);
  }
  napi_value result;
  napi_value b;
  napi_create_object(env, &result);
  bl_set(env, result, "name", str_field(env, line.name, sizeof line.name));
  bl_set(env, result, "consumer", str_field(env, line.consumer, sizeof line.consumer));
  napi_get_boolean(env, (line.flags & GPIO_V2_LINE_FLAG_USED) != 0, &b);
  bl_set(env, result, "used", b);
  napi_get_boolean(env, (line.flags & GPIO_V2_LINE_FLAG_OUTPUT) != 0, &b);
  bl_set(env, result, "output", b);
  napi_get_boolean(env, (line.flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW) != 0, &b);
  bl_set(env, result, "activeLow", b);
  return result;
}

/* Reads a JS array of small unsigned integers into out[]; returns the count or -1
 * (a JS exception is pending). */
static int get_u32_array(napi_env env, napi_value v, const char *what, uint32_t *out,
                         uint32_t max) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an array", what);
    bl_throw_arg(env, "ERR_INVALID_ARG_TYPE", message);
    return -1;
  }
  uint32_t length = 0;
  napi_get_array_length(env, v, &length);
  if (length > max) {
    char message[96];
    snprintf(message, sizeof message, "%s has %u entries, at most %u", what, length, max);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return -1;
  }
  for (uint32_t i = 0; i < length; i++) {
    napi_value element;
    napi_get_element(env, v, i, &element);
    if (!bl_get_uint32(env, element, what, &out[i])) {
      return -1;
    }
  }
  return (int)length;
}

/* gpioRequestOutputs(path, offsets: number[], consumer, initialValues: number[] (0|1),
 * activeLow: boolean, drive: 0 push-pull | 1 open-drain | 2 open-source) -> line fd */
static napi_value gpio_request_outputs(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  char path[256];
  char consumer[GPIO_MAX_NAME_SIZE];
  uint32_t offsets[GPIO_V2_LINES_MAX];
  uint32_t initial[GPIO_V2_LINES_MAX];
  bool active_low;
  uint32_t drive;
  if (!bl_args(env, info, 6, argv) ||
      !bl_get_string(env, argv[0], "chip path", path, sizeof path)) {
    return NULL;
  }
  int count = get_u32_array(env, argv[1], "offsets", offsets, GPIO_V2_LINES_MAX);
  if (count < 0 || !bl_get_string(env, argv[2], "consumer", consumer, sizeof consumer)) {
    return NULL;
  }
  int initial_count = get_u32_array(env, argv[3], "initialValues", initial, GPIO_V2_LINES_MAX);
  if (initial_count < 0 || !bl_get_bool(env, argv[4], "activeLow", &active_low) ||
      !bl_get_uint32(env, argv[5], "drive", &drive)) {
    return NULL;
  }
  if (count == 0) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "offsets must not be empty");
  }
  if (initial_count != count) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE",
                        "initialValues must have one entry per offset");
  }
  if (drive > GPIO_DRIVE_OPEN_SOURCE) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "drive must be 0, 1 or 2");
  }

  struct gpio_v2_line_request req;
  memset(&req, 0, sizeof req);
  uint64_t values = 0;
  for (int i = 0; i < count; i++) {
    req.offsets[i] = offsets[i];
    if (initial[i] > 1) {
      return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "initialValues entries must be 0 or 1");
    }
    values |= (uint64_t)initial[i] << i;
  }
  memcpy(req.consumer, consumer, strlen(consumer));
  req.num_lines = (uint32_t)count;
  req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
  if (active_low) {
    req.config.flags |= GPIO_V2_LINE_FLAG_ACTIVE_LOW;
  }
  if (drive == GPIO_DRIVE_OPEN_DRAIN) {
    req.config.flags |= GPIO_V2_LINE_FLAG_OPEN_DRAIN;
  } else if (drive == GPIO_DRIVE_OPEN_SOURCE) {
    req.config.flags |= GPIO_V2_LINE_FLAG_OPEN_SOURCE;
  }
  /* Initial values as an attribute, so no line glitches to 0 before the first set. */
  req.config.num_attrs = 1;
  req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
  req.config.attrs[0].attr.values = values;
  req.config.attrs[0].mask = count == 64 ? ~(uint64_t)0 : (((uint64_t)1 << count) - 1);

  int fd = open_chip(path);
  if (fd < 0) {
    return bl_throw_errno(env, errno, "open", path);
  }
  int rc = ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req);
  int e = errno;
  close(fd);
  if (rc < 0) {
    return bl_throw_errno(env, e, "ioctl GPIO_V2_GET_LINE", path);
  }
  bl_track_fd(env, req.fd);
  napi_value result;
  napi_create_int32(env, req.fd, &result);
  return result;
}

/* gpioSetValues(lineFd, values: number[]): entry i drives the i-th requested line;
 * 0 inactive, 1 active, -1 leave unchanged. */
static napi_value gpio_set_values(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!bl_args(env, info, 2, argv) || !bl_get_int32(env, argv[0], "line fd", &fd)) {
    return NULL;
  }
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_TYPE", "values must be an array");
  }
  uint32_t length = 0;
  napi_get_array_length(env, argv[1], &length);
  if (length > GPIO_V2_LINES_MAX) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "values has more than 64 entries");
  }
  struct gpio_v2_line_values lv;
  memset(&lv, 0, sizeof lv);
  for (uint32_t i = 0; i < length; i++) {
    napi_value element;
    int32_t value;
    napi_get_element(env, argv[1], i, &element);
    if (!bl_get_int32(env, element, "values[i]", &value)) {
      return NULL;
    }
    if (value < -1 || value > 1) {
      return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "values entries must be -1, 0 or 1");
    }
    if (value >= 0) {
      lv.mask |= (uint64_t)1 << i;
      lv.bits |= (uint64_t)value << i;
    }
  }
  if (lv.mask == 0) {
    return bl_undefined(env);
  }
  if (ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &lv) < 0) {
    return bl_throw_errno(env, errno, "ioctl GPIO_V2_LINE_SET_VALUES", NULL);
  }
  return bl_undefined(env);
}

/* gpioGetValues(lineFd, count) -> number[] (0|1) for the first count requested lines */
static napi_value gpio_get_values(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint32_t count;
  if (!bl_args(env, info, 2, argv) || !bl_get_int32(env, argv[0], "line fd", &fd) ||
      !bl_get_uint32(env, argv[1], "count", &count)) {
    return NULL;
  }
  if (count < 1 || count > GPIO_V2_LINES_MAX) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "count must be between 1 and 64");
  }
  struct gpio_v2_line_values lv;
  memset(&lv, 0, sizeof lv);
  lv.mask = count == 64 ? ~(uint64_t)0 : (((uint64_t)1 << count) - 1);
  if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &lv) < 0) {
    return bl_throw_errno(env, errno, "ioctl GPIO_V2_LINE_GET_VALUES", NULL);
  }
  napi_value result;
  napi_create_array_with_length(env, count, &result);
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    napi_create_uint32(env, (uint32_t)((lv.bits >> i) & 1), &v);
    napi_set_element(env, result, i, v);
  }
  return result;
}

void bl_init_gpio(napi_env env, napi_value exports) {
  bl_export(env, exports, "gpioChipInfo", gpio_chip_info);
  bl_export(env, exports, "gpioLineInfo", gpio_line_info);
  bl_export(env, exports, "gpioRequestOutputs", gpio_request_outputs);
  bl_export(env, exports, "gpioSetValues", gpio_set_values);
  bl_export(env, exports, "gpioGetValues", gpio_get_values);
}
