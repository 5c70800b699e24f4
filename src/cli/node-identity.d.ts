/** The source of `function nodeIdentity(id)`: the first line of a code cache that fits the running Node. */
export declare const NODE_IDENTITY: string;
