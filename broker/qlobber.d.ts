// qlobber ships no types; the part the broker's emitter uses.
declare module 'qlobber' {
  export class Qlobber<V = unknown> {
    constructor(options?: { separator?: string; wildcard_one?: string; wildcard_some?: string; match_empty_levels?: boolean });
    add(topic: string, value: V): this;
    remove(topic: string, value?: V): this;
    match(topic: string): V[];
  }
}
