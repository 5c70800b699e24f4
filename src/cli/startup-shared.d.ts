/** The V8 flags a startup snapshot is built and run with. */
export declare const SNAPSHOT_V8_FLAGS: readonly string[];
/** The source of `function nodeIdentity(id)`: the first line of a code cache that fits the running Node. */
export declare const NODE_IDENTITY: string;
