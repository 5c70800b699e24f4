// `define-filter [FILE]`: the work is in src/host/nwfilter-define.ts, which the watcher shares.
export * from "../../host/nwfilter-define.js";
