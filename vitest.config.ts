import { defineConfig } from 'vitest/config';

// Three projects: pure unit tests run in parallel; tests that need root (namespaces,
// TUN, raw sockets) run one file at a time; interop with the real peers runs last,
// alone, because the QEMU peer VM takes most of one core.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/**/*.test.ts'],
          exclude: ['test/system/**', 'test/interop/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'system',
          sequence: { groupOrder: 1 },
          include: ['test/system/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'interop',
          sequence: { groupOrder: 2 },
          include: ['test/interop/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
