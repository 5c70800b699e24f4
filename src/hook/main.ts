// The hook's shell: argv, environment, stdin, the policy file and the host in; stdout, stderr,
// syslog and the exit code out. Everything it decides comes from src/core/decide.ts.
import { DEFAULT_WATCH_STATUS, MAX_XML_BYTES, PRODUCT } from "../core/constants.js";
import { NwfilterHookError, formatError, oneLine } from "../core/errors.js";
import { EXIT_ERROR, decide, type HookOutcome } from "../core/decide.js";
import type { HookOp } from "../core/hook-op.js";
import { nodeHostFacts } from "../host/node-host-facts.js";
import { loadPolicy } from "../host/policy-file.js";
import { settingsFromEnv, type Env } from "../core/settings.js";
import { nodeUtf8, readAllAtOnce, writeAllSync } from "../host/stdio.js";
import { decodeXml, type XmlBytes } from "../core/xml-bytes.js";
import { syslog } from "../host/syslog.js";
import { watcherHealth } from "../host/watch-status.js";

/** One call, from the hook file or its startup snapshot: whatever happens, one line at most on stderr. */
export function runHook(domain: string, op: HookOp): void {
  let outcome: HookOutcome;
  try {
    outcome = hookOutcome(domain, op, process.env, 0);
  } catch (error) {
    // A bug, not a verdict: the call fails, in one line rather than a stack trace.
    const message = `${op} of domain '${domain}': internal error: ${String(error)}`;
    outcome = { exitCode: EXIT_ERROR, stderr: `${PRODUCT}: ${message}`, log: { priority: "err", message } };
  }
  if (outcome.log) syslog(outcome.log.priority, outcome.log.message);
  if (outcome.stdout !== undefined) {
    try {
      writeAllSync(1, outcome.stdout);
    } catch (error) {
      // libvirt goes on with what it reads here: a pipe it has closed must fail the call.
      const message = `${op} of domain '${domain}': cannot write the domain XML to stdout: ${(error as Error).message}`;
      outcome = { exitCode: EXIT_ERROR, stderr: `${PRODUCT}: ${message}` };
      syslog("err", message);
    }
  }
  process.exitCode = outcome.exitCode;
  if (outcome.stderr !== undefined) {
    try {
      writeAllSync(2, `${oneLine(outcome.stderr)}\n`);
    } catch {
      // Nowhere left to say it: the exit status does.
    }
  }
}

/**
 * The domain XML on stdin, decoded exactly. At prepare libvirt throws stdout away, so only the
 * text is kept: the bytes (up to 16 MiB, beside a text as long) are let go before the scan.
 */
function readDomainXml(op: HookOp, domain: string, stdin: number): string | XmlBytes {
  const file = `domain XML of '${domain}' on stdin`;
  const xml = decodeXml(readAllAtOnce(stdin, MAX_XML_BYTES, file), file, nodeUtf8);
  return op === "prepare" ? xml.text : xml;
}

/** What a call does, given its environment and the descriptor its domain XML comes on. */
export function hookOutcome(domain: string, op: HookOp, env: Env, stdin: number): HookOutcome {
  try {
    const settings = settingsFromEnv(env);
    const policy = loadPolicy(settings.policyPath, { euid: process.geteuid?.() });
    // The watcher's status is read only when OnMissing=watch must judge a start that lacks the filter.
    return decide(op, domain, readDomainXml(op, domain, stdin), policy, nodeHostFacts(settings), () => watcherHealth(DEFAULT_WATCH_STATUS));
  } catch (error) {
    if (!(error instanceof NwfilterHookError)) throw error;
    const message = formatError(error);
    return {
      exitCode: EXIT_ERROR,
      stderr: `${PRODUCT}: ${op} of domain '${domain}': ${message}`,
      log: { priority: "err", message: `${op} of domain '${domain}': ${message}` },
    };
  }
}
