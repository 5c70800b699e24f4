// Domain-name globs from the policy's [exempt] Domains, matched as shell globs.
import picomatch from "picomatch";

export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  // dot: a domain name may start with "."; the name is not a path, so "/" is not special either.
  return picomatch(globs as string[], { dot: true, nonegate: true, noextglob: false, basename: false });
}
