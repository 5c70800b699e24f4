// For the watcher's benchmark (bench/watch.mjs): what one virsh command costs through the
// asynchronous session (src/host/virsh-session.ts) and as a virsh process of its own, against a
// libvirt URI, and the event loop's largest delay meanwhile (the session never blocks it).
//   node session-cost.cjs URI ROUNDS     prints {"sessionMs", "oneShotMs", "loopDelayMaxMs"} as JSON
import { monitorEventLoopDelay } from "node:perf_hooks";
import { processVirsh } from "../src/host/virsh.js";
import { processVirshSession } from "../src/host/virsh-session.js";

async function main(): Promise<void> {
  const uri = process.argv[2] ?? "qemu:///system";
  const rounds = Number(process.argv[3] ?? "500");
  const args = ["list", "--name"];
  const session = processVirshSession({ uri });
  await session.run(args);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await session.run(args);
  const sessionMs = (performance.now() - t0) / rounds;
  loop.disable();
  session.close();
  const oneShot = processVirsh({ uri });
  const few = Math.max(5, Math.round(rounds / 20));
  const t1 = performance.now();
  for (let i = 0; i < few; i++) await oneShot.run(args);
  const oneShotMs = (performance.now() - t1) / few;
  process.stdout.write(`${JSON.stringify({ sessionMs, oneShotMs, loopDelayMaxMs: loop.max / 1e6 })}\n`);
}

void main();
