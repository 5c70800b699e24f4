// The watcher's log: the writer (stderr and a long-lived logger to syslog) is host I/O, in
// src/host/watch-log.ts; the watcher imports it from here.
export { watchLogger, type Logger } from "../host/watch-log.js";
