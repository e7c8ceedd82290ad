// aedes-persistence's in-memory implementation (its own types sit under types/, which a deep import
// does not find): the part the durable session store builds on.
declare module 'aedes-persistence/asyncPersistence.js' {
  import type { Readable } from 'node:stream';

  export interface StoredPacket {
    cmd: string;
    topic: string;
    payload: Buffer;
    qos: number;
    retain: boolean;
    dup: boolean;
    messageId?: number;
    brokerId?: string;
    brokerCounter?: number;
    clientId?: string;
    properties?: unknown;
    messageExpiry?: number;
  }
  export interface ClientRef {
    id: string;
    clean?: boolean;
  }
  export interface SubscriptionRecord {
    topic: string;
    qos: number;
    rh?: number;
    rap?: number;
    nl?: number;
  }

  class MemoryPersistence {
    constructor(opts?: Record<string, unknown>);
    get broker(): { id: string };
    setup(broker: unknown): Promise<void>;
    storeRetained(packet: StoredPacket): Promise<void>;
    createRetainedStream(pattern: string): Readable;
    createRetainedStreamCombi(patterns: string[]): Readable;
    addSubscriptions(client: ClientRef, subs: SubscriptionRecord[]): Promise<void>;
    removeSubscriptions(client: ClientRef, subs: string[]): Promise<void>;
    subscriptionsByClient(client: ClientRef): Promise<SubscriptionRecord[]>;
    countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
    subscriptionsByTopic(pattern: string): Promise<(SubscriptionRecord & { clientId: string })[]>;
    cleanSubscriptions(client: ClientRef): Promise<void>;
    outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
    outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<void>;
    outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void>;
    outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined>;
    outgoingStream(client: ClientRef): Readable;
    incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void>;
    incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket>;
    incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void>;
    cleanIncoming(client: ClientRef): Promise<void>;
    putWill(client: ClientRef, packet: StoredPacket): Promise<void>;
    getWill(client: ClientRef): Promise<StoredPacket | undefined>;
    delWill(client: ClientRef): Promise<StoredPacket | undefined>;
    streamWill(brokers?: Record<string, number>): Readable;
    getClientList(topic: string): Readable;
    destroy(): Promise<void>;
  }
  export default MemoryPersistence;
}

// The shared conformance suite every aedes persistence is held to (node:test).
declare module 'aedes-persistence/abstract.js' {
  const abstractPersistence: (opts: { test: unknown; persistence: () => unknown; testAsync?: boolean; waitForReady?: boolean }) => void;
  export default abstractPersistence;
}

// aedes-persistence-redis ships no types; the broker only hands it to Aedes.
declare module 'aedes-persistence-redis/asyncPersistence.js' {
  export default class AsyncRedisPersistence {
    constructor(opts: { conn: unknown; maxSessionDelivery?: number });
    createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
    createRetainedStream(pattern: string): AsyncIterable<unknown>;
    outgoingStream(client: unknown): AsyncIterable<unknown>;
    streamWill(brokers?: unknown): AsyncIterable<unknown>;
    getClientList(topic: string): AsyncIterable<unknown>;
  }
}
