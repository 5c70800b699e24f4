// ESLint (flat config): the recommended rules of ESLint and typescript-eslint, with the
// type-aware ones for TypeScript (they use the project's own tsconfig.json). Formatting is
// Prettier's job (prettier.config.js): no rule here is about layout. Which folder may import
// which is dependency-cruiser's job (.dependency-cruiser.cjs).
import js from "@eslint/js";
import globals from "globals";
import { defineConfig, globalIgnores } from "eslint/config";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["dist/", "coverage/", ".scratch/"]),
  js.configs.recommended,
  // Recommended from ESLint 10 on (this is 9, the last that runs on Debian 12's Node 18): an
  // error rethrown with more context keeps the original as its cause.
  { rules: { "preserve-caught-error": "error" } },
  {
    files: ["**/*.{js,mjs,cjs}"],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // import.meta.dirname needs Node 20.11; lint runs on Debian 12's Node 18 too.
      parserOptions: { projectService: true, tsconfigRootDir: fileURLToPath(new URL(".", import.meta.url)) },
    },
    rules: {
      // Two modules are loaded with require() on purpose, each explained where it is done:
      // picomatch lazily, so that the hook's start-up does not load it for a policy without
      // Domains globs (src/core/glob.ts); yargs as its CommonJS build, whose help text wraps at
      // word boundaries (src/cli/main.ts).
      "@typescript-eslint/no-require-imports": ["error", { allow: ["^picomatch$", "^yargs$"] }],
      // As tsc's noUnusedParameters: a parameter named with a leading underscore is kept on
      // purpose (a signature shared by callers that pass it, or a callback's position).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "all", caughtErrorsIgnorePattern: "^_" }],
    },
  },
  {
    // The pure core: the import rule keeps Node's modules out, this keeps out the globals that
    // reach the process, the clock or chance. What the core needs of them comes in as a parameter.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        ...["process", "Buffer", "console", "Date", "performance", "fetch"].map((name) => ({
          name,
          message: "src/core is pure: take what you need of the host as a parameter (src/host provides it).",
        })),
        ...["setTimeout", "setInterval", "setImmediate", "queueMicrotask"].map((name) => ({
          name,
          message: "src/core is pure and synchronous: scheduling belongs in the shells.",
        })),
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "src/core is pure: take randomness as a parameter." },
        { object: "globalThis", message: "src/core is pure: take what you need of the host as a parameter." },
      ],
    },
  },
);
