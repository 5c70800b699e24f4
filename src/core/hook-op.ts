// Which hook calls do any work. Kept free of imports: the hook entry loads only this module
// before deciding whether to load anything else.

export type HookOp = "prepare" | "migrate" | "restore";

/** Only these calls do any work; libvirt reads stdout only at migrate and restore begin. */
export function hookOp(op: string | undefined, subop: string | undefined): HookOp | undefined {
  if (subop !== "begin") return undefined;
  return op === "prepare" || op === "migrate" || op === "restore" ? op : undefined;
}
