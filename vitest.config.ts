import { defineConfig } from "vitest/config";

// Two projects. "unit" runs its files in parallel. "e2e" drives the one real libvirtd of the
// machine (and its real /etc/libvirt/hooks): its files must never overlap, so they run one
// after another in a single fork. The projects run one after the other (groupOrder): the e2e
// suites time real guests under TCG, which a machine busy with the unit tests' hook processes
// slows unevenly.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    globalSetup: ["test/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          sequence: { groupOrder: 1 },
          include: ["test/e2e/**/*.test.ts"],
          // After the build (the root's setup, which this project extends): the test bridge and
          // /dev/kvm, made when missing and undone afterwards.
          globalSetup: ["test/e2e/global-setup.ts"],
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
