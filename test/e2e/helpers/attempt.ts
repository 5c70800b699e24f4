// Clean-up that goes on past a failing step: each step's error is kept, and all of them are
// thrown together at the end.
export interface Attempts {
  attempt: (what: string, fn: () => void) => void;
  /** Throws one error naming every failed step, if any failed. */
  done: (prefix: string) => void;
}

export function attempts(): Attempts {
  const errors: string[] = [];
  return {
    attempt(what, fn) {
      try {
        fn();
      } catch (error) {
        errors.push(`${what}: ${(error as Error).message}`);
      }
    },
    done(prefix) {
      if (errors.length > 0) throw new Error(`${prefix}: ${errors.join("; ")}`);
    },
  };
}
