// Loaded before anything else in the CLI. An admin may start it from a directory it cannot reach
// (removed meanwhile, or left behind by `nsenter -r` into another mount namespace): Node's
// process.cwd() then throws, and yargs calls it while it loads, which ended in a stack trace.
// Absolute paths, all the CLI's defaults among them, still mean what they say from `/`.
try {
  process.cwd();
} catch {
  process.chdir("/");
}
