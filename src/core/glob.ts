// Domain-name globs from the policy's [exempt] Domains, matched as shell globs.
import type picomatchType from "picomatch";

export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  // Required here, not imported at the top: only a policy with Domains exemptions needs picomatch,
  // and the hook's start-up should not pay for loading it.
  const picomatch = require("picomatch") as typeof picomatchType;
  // dot: a domain name may start with "."; the name is not a path, so "/" is not special either.
  return picomatch(globs as string[], { dot: true, nonegate: true, noextglob: false, basename: false });
}
