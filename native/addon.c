/*
 * branchlink_native: the few system calls Node.js does not expose — TUN devices,
 * interface/route ioctls and the GPIO character device. The TypeScript side is
 * src/net/native.ts; keep the two in step.
 */
#include "common.h"

/* Bumped when an export changes shape, so a stale build is detected by the loader. */
#define BRANCHLINK_NATIVE_ABI 1

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  if (!bl_env_init(env)) {
    napi_throw_error(env, "ENOMEM", "branchlink_native: cannot allocate per-environment state");
    return NULL;
  }
  napi_value abi;
  napi_create_uint32(env, BRANCHLINK_NATIVE_ABI, &abi);
  napi_set_named_property(env, exports, "abi", abi);
  bl_init_tun(env, exports);
  bl_init_netif(env, exports);
  bl_init_gpio(env, exports);
  return exports;
}
