declare module 'fastify' {
  interface FastifyInstance {
    /** Open event streams by user, so a revoked token's streams end at once. */
    liveStreams: LiveStreams;
  }
}

export class LiveStreams {
  private readonly byUser = new Map<string, Set<() => void>>();

  /** Registers a stream's way to end; returns its removal (the stream ended on its own). */
  add(userId: string, end: () => void): () => void {
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0 && this.byUser.get(userId) === set) this.byUser.delete(userId);
    };
  }

  /** Ends every stream of this user (their token was revoked or rotated). */
  endAll(userId: string): number {
    const set = this.byUser.get(userId);
    if (!set) return 0;
    this.byUser.delete(userId);
    for (const end of set) end();
    return set.size;
  }
}
