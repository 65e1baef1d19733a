{
  "targets": [
    {
      "target_name": "branchlink_native",
      "sources": [
        "native/addon.c",
        "native/common.c",
        "native/tun.c",
        "native/netif.c",
        "native/gpio.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Wformat=2"]
    }
  ]
}
