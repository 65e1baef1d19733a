/*
 * Interface and route configuration by ioctl on an AF_INET datagram socket, in
 * the calling process's network namespace. Not on the data path: these run when
 * IPCP opens or closes, so no dependency on the `ip` binary at that moment.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ctl_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

static bool get_ifname(napi_env env, napi_value v, char name[IFNAMSIZ]) {
  if (!bl_get_string(env, v, "interface name", name, IFNAMSIZ)) {
    return false;
  }
  if (name[0] == '\0') {
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "interface name must not be empty");
    return false;
  }
  return true;
}

static bool get_ipv4(napi_env env, napi_value v, const char *what, struct in_addr *out) {
  char text[INET_ADDRSTRLEN + 1];
  if (!bl_get_string(env, v, what, text, sizeof text)) {
    return false;
  }
  if (inet_pton(AF_INET, text, out) != 1) {
    char message[128];
    snprintf(message, sizeof message, "%s is not an IPv4 address: '%s'", what, text);
    bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  return true;
}

static void set_sin(struct sockaddr *sa, struct in_addr addr) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr = addr;
  memcpy(sa, &sin, sizeof sin);
}

/* Runs one SIOC* ioctl on a fresh control socket; returns 0 or an errno. */
static int if_ioctl(unsigned long request, struct ifreq *ifr) {
  int s = ctl_socket();
  if (s < 0) {
    return errno;
  }
  int rc = ioctl(s, request, ifr);
  int e = errno;
  close(s);
  return rc < 0 ? e : 0;
}

static void ifreq_for(struct ifreq *ifr, const char *name) {
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name, strlen(name));
}

/* ifSetMtu(name, mtu) */
static napi_value if_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  uint32_t mtu;
  if (!bl_args(env, info, 2, argv) || !get_ifname(env, argv[0], name) ||
      !bl_get_uint32(env, argv[1], "mtu", &mtu)) {
    return NULL;
  }
  if (mtu < 68 || mtu > 65535) {
    /* RFC 791: every host must take 68-byte datagrams; 65535 is the IPv4 maximum. */
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "mtu must be between 68 and 65535");
  }
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  ifr.ifr_mtu = (int)mtu;
  int e = if_ioctl(SIOCSIFMTU, &ifr);
  return e != 0 ? bl_throw_errno(env, e, "ioctl SIOCSIFMTU", name) : bl_undefined(env);
}

/* ifSetUp(name, up) */
static napi_value if_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  bool up;
  if (!bl_args(env, info, 2, argv) || !get_ifname(env, argv[0], name) ||
      !bl_get_bool(env, argv[1], "up", &up)) {
    return NULL;
  }
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  int e = if_ioctl(SIOCGIFFLAGS, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCGIFFLAGS", name);
  }
  if (up) {
    ifr.ifr_flags |= IFF_UP;
  } else {
    ifr.ifr_flags &= ~IFF_UP;
  }
  e = if_ioctl(SIOCSIFFLAGS, &ifr);
  return e != 0 ? bl_throw_errno(env, e, "ioctl SIOCSIFFLAGS", name) : bl_undefined(env);
}

/* ifSetPointToPoint(name, local, peer): local and peer IPv4 addresses with a /32
 * mask, the shape of a PPP link (what pppd sets). Do it while the interface is
 * down: the kernel adds the peer route when the interface comes up, and no
 * classful interim prefix route is ever installed. */
static napi_value if_set_p2p(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[IFNAMSIZ];
  struct in_addr local;
  struct in_addr peer;
  if (!bl_args(env, info, 3, argv) || !get_ifname(env, argv[0], name) ||
      !get_ipv4(env, argv[1], "local address", &local) ||
      !get_ipv4(env, argv[2], "peer address", &peer)) {
    return NULL;
  }
  struct in_addr all_ones;
  all_ones.s_addr = htonl(0xffffffffu);

  struct ifreq ifr;
  ifreq_for(&ifr, name);
  set_sin(&ifr.ifr_addr, local);
  int e = if_ioctl(SIOCSIFADDR, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCSIFADDR", name);
  }
  ifreq_for(&ifr, name);
  set_sin(&ifr.ifr_dstaddr, peer);
  e = if_ioctl(SIOCSIFDSTADDR, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCSIFDSTADDR", name);
  }
  ifreq_for(&ifr, name);
  set_sin(&ifr.ifr_netmask, all_ones);
  e = if_ioctl(SIOCSIFNETMASK, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCSIFNETMASK", name);
  }
  return bl_undefined(env);
}

/* ifClearAddress(name): removes the primary IPv4 address (SIOCSIFADDR 0.0.0.0, the
 * kernel deletes an address whose local part is zero). EADDRNOTAVAIL when none. */
static napi_value if_clear_address(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!bl_args(env, info, 1, argv) || !get_ifname(env, argv[0], name)) {
    return NULL;
  }
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  int e = if_ioctl(SIOCGIFADDR, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCGIFADDR", name);
  }
  struct in_addr zero;
  zero.s_addr = 0;
  ifreq_for(&ifr, name);
  set_sin(&ifr.ifr_addr, zero);
  e = if_ioctl(SIOCSIFADDR, &ifr);
  return e != 0 ? bl_throw_errno(env, e, "ioctl SIOCSIFADDR", name) : bl_undefined(env);
}

static napi_value addr_or_null(napi_env env, const char *name, unsigned long request) {
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  napi_value v;
  if (if_ioctl(request, &ifr) != 0) {
    napi_get_null(env, &v);
    return v;
  }
  struct sockaddr_in sin;
  memcpy(&sin, &ifr.ifr_addr, sizeof sin);
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* ifGetInfo(name) -> { index, mtu, flags, up, running, pointToPoint, address, peer, netmask } */
static napi_value if_get_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  if (!bl_args(env, info, 1, argv) || !get_ifname(env, argv[0], name)) {
    return NULL;
  }
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  int e = if_ioctl(SIOCGIFFLAGS, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCGIFFLAGS", name);
  }
  int flags = (unsigned short)ifr.ifr_flags;
  ifreq_for(&ifr, name);
  e = if_ioctl(SIOCGIFMTU, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCGIFMTU", name);
  }
  int mtu = ifr.ifr_mtu;
  ifreq_for(&ifr, name);
  e = if_ioctl(SIOCGIFINDEX, &ifr);
  if (e != 0) {
    return bl_throw_errno(env, e, "ioctl SIOCGIFINDEX", name);
  }
  int index = ifr.ifr_ifindex;

  napi_value result;
  napi_value b;
  napi_create_object(env, &result);
  bl_set_int(env, result, "index", index);
  bl_set_int(env, result, "mtu", mtu);
  bl_set_int(env, result, "flags", flags);
  napi_get_boolean(env, (flags & IFF_UP) != 0, &b);
  bl_set(env, result, "up", b);
  napi_get_boolean(env, (flags & IFF_RUNNING) != 0, &b);
  bl_set(env, result, "running", b);
  napi_get_boolean(env, (flags & IFF_POINTOPOINT) != 0, &b);
  bl_set(env, result, "pointToPoint", b);
  bl_set(env, result, "address", addr_or_null(env, name, SIOCGIFADDR));
  bl_set(env, result, "peer", addr_or_null(env, name, SIOCGIFDSTADDR));
  bl_set(env, result, "netmask", addr_or_null(env, name, SIOCGIFNETMASK));
  return result;
}

/* routeAdd/routeDelete(name, destination, prefixLength, metric): an IPv4 route to
 * destination/prefixLength through the interface itself (no gateway: on a
 * point-to-point link the peer is the only next hop). */
static napi_value route_op(napi_env env, napi_callback_info info, unsigned long request,
                           const char *syscall) {
  napi_value argv[4];
  char name[IFNAMSIZ];
  struct in_addr dst;
  uint32_t prefix_len;
  uint32_t metric;
  if (!bl_args(env, info, 4, argv) || !get_ifname(env, argv[0], name) ||
      !get_ipv4(env, argv[1], "destination", &dst) ||
      !bl_get_uint32(env, argv[2], "prefixLength", &prefix_len) ||
      !bl_get_uint32(env, argv[3], "metric", &metric)) {
    return NULL;
  }
  if (prefix_len > 32) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "prefixLength must be between 0 and 32");
  }
  /* rt_metric is a short holding metric + 1. */
  if (metric > 32766) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE", "metric must be between 0 and 32766");
  }
  uint32_t mask = prefix_len == 0 ? 0 : 0xffffffffu << (32 - prefix_len);
  if ((ntohl(dst.s_addr) & ~mask) != 0) {
    return bl_throw_arg(env, "ERR_INVALID_ARG_VALUE",
                        "destination has host bits set beyond the prefix length");
  }
  struct in_addr genmask;
  genmask.s_addr = htonl(mask);

  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  set_sin(&rt.rt_dst, dst);
  set_sin(&rt.rt_genmask, genmask);
  rt.rt_flags = RTF_UP | (prefix_len == 32 ? RTF_HOST : 0);
  /* The route ioctl stores rt_metric - 1 as the priority (0 means "default"). */
  rt.rt_metric = (short)(metric + 1);
  rt.rt_dev = name;

  int s = ctl_socket();
  if (s < 0) {
    return bl_throw_errno(env, errno, "socket", NULL);
  }
  int rc = ioctl(s, request, &rt);
  int e = errno;
  close(s);
  if (rc < 0) {
    char dst_text[INET_ADDRSTRLEN];
    char subject[64];
    inet_ntop(AF_INET, &dst, dst_text, sizeof dst_text);
    snprintf(subject, sizeof subject, "%s/%u dev %s", dst_text, prefix_len, name);
    return bl_throw_errno(env, e, syscall, subject);
  }
  return bl_undefined(env);
}

static napi_value route_add(napi_env env, napi_callback_info info) {
  return route_op(env, info, SIOCADDRT, "ioctl SIOCADDRT");
}

static napi_value route_delete(napi_env env, napi_callback_info info) {
  return route_op(env, info, SIOCDELRT, "ioctl SIOCDELRT");
}

void bl_init_netif(napi_env env, napi_value exports) {
  bl_export(env, exports, "ifSetMtu", if_set_mtu);
  bl_export(env, exports, "ifSetUp", if_set_up);
  bl_export(env, exports, "ifSetPointToPoint", if_set_p2p);
  bl_export(env, exports, "ifClearAddress", if_clear_address);
  bl_export(env, exports, "ifGetInfo", if_get_info);
  bl_export(env, exports, "routeAdd", route_add);
  bl_export(env, exports, "routeDelete", route_delete);
}
