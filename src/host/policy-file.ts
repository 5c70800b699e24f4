// Loading the policy file. Whoever can write it can switch the protection off, so a file (or a
// directory holding it) that others can write is refused rather than read.
import { closeSync, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { PolicyError } from "../core/errors.js";
import { DEFAULT_POLICY, parsePolicy, type Policy } from "../core/policy.js";
import { distrust } from "./trust.js";

const MAX_POLICY_BYTES = 1024 * 1024;

export interface LoadOptions {
  /** The effective uid; when 0, the file and its directory must belong to root. */
  euid: number | undefined;
}

export function loadPolicy(path: string, options: LoadOptions): Policy {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ...DEFAULT_POLICY, source: `${path} (absent: built-in defaults)` };
    throw new PolicyError(`cannot read the policy: ${describeErrno(error)}`, { file: path });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PolicyError("the policy is not a regular file", { file: path });
    checkOwnership(path, st.mode, st.uid, "file", options);
    const dir = statSync(dirname(path));
    // A sticky directory (such as /tmp) lets nobody else replace a file they do not own.
    if ((dir.mode & 0o1000) === 0) checkOwnership(path, dir.mode, dir.uid, "directory", options);
    if (st.size > MAX_POLICY_BYTES) throw new PolicyError(`the policy is larger than ${MAX_POLICY_BYTES} bytes`, { file: path });
    // From the descriptor that was checked, so that the file read is the file judged.
    return parsePolicy(readFileSync(fd, "utf8"), path);
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    throw new PolicyError(`cannot read the policy: ${describeErrno(error)}`, { file: path });
  } finally {
    closeSync(fd);
  }
}

function checkOwnership(path: string, mode: number, uid: number, what: string, options: LoadOptions): void {
  const bad = distrust({ mode, uid }, options.euid);
  if (bad) {
    throw new PolicyError(`refusing a policy whose ${what} is ${bad.reason}: whoever can write it can switch the protection off (${bad.fix})`, { file: path });
  }
}

function describeErrno(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, "")}` : String(e.message ?? e);
}
