// The id of the hook's code: the sha256 of the code the hook file carries, 16 hex digits. The
// build names the code with it (src/core/hook-payload.ts), and `install` names the startup
// snapshot or code cache it records for that code after it, and checks the code against it.
import { createHash } from "node:crypto";

export function codeId(code: string): string {
  return createHash("sha256").update(code).digest("hex").slice(0, 16);
}
