import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Queryable } from '../core/store/db.ts';

/**
 * Photos people take on the spot (事件上报, a repair's before and after): uploaded once, kept
 * under DATA_DIR/photos by id, referenced by items and timeline entries. What a file is, is read
 * from its first bytes, never from its name or the type the client claims.
 */
export const PHOTO_MAX_BYTES = 10 * 1024 * 1024;
export const PHOTO_ID = /^PH-[0-9a-f]{24}$/;

export type PhotoType = 'image/jpeg' | 'image/png' | 'image/webp';

/** The image type its magic bytes say (JPEG SOI, the PNG signature, RIFF…WEBP), else undefined. */
export function sniffImage(head: Buffer): PhotoType | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

export interface Photo {
  id: string;
  contentType: PhotoType;
  bytes: number;
  sha256: string;
  uploadedBy: string;
  uploadedAt: string;
}

export type Saved = { ok: true; photo: Photo } | { ok: false; reason: 'too_large' | 'not_an_image' | 'empty' };

export class PhotoStore {
  constructor(
    private readonly db: Queryable,
    readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Streams an upload to disk (never whole in memory), checks what it is, and keeps it: written,
   * fsynced and renamed into place before its row is, so an id the API returns survives a crash.
   * `truncated` says whether the upload went past the size limit (the multipart parser stops there).
   */
  async save(stream: Readable, truncated: () => boolean, uploadedBy: string): Promise<Saved> {
    const id = `PH-${randomBytes(12).toString('hex')}`;
    const tmp = path.join(this.dir, `.${id}.part`);
    const hash = createHash('sha256');
    let head = Buffer.alloc(0);
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        if (head.length < 12) head = Buffer.concat([head, chunk.subarray(0, 12 - head.length)]);
        done(null, chunk);
      },
    });
    try {
      await pipeline(stream, tap, createWriteStream(tmp, { mode: 0o600 }));
      if (truncated() || bytes > PHOTO_MAX_BYTES) return { ok: false, reason: 'too_large' };
      if (bytes === 0) return { ok: false, reason: 'empty' };
      const contentType = sniffImage(head);
      if (!contentType) return { ok: false, reason: 'not_an_image' };
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      await rename(tmp, this.file(id));
      const d = await open(this.dir, 'r');
      await d.sync().finally(() => d.close());
      const photo: Photo = { id, contentType, bytes, sha256: hash.digest('hex'), uploadedBy, uploadedAt: new Date().toISOString() };
      await this.db.query('INSERT INTO photos (id, content_type, bytes, sha256, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6)', [id, contentType, bytes, photo.sha256, uploadedBy, photo.uploadedAt]);
      return { ok: true, photo };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(id: string): Promise<Photo | undefined> {
    if (!PHOTO_ID.test(id)) return undefined;
    const { rows } = await this.db.query<{ id: string; content_type: PhotoType; bytes: number; sha256: string; uploaded_by: string; uploaded_at: Date }>('SELECT * FROM photos WHERE id = $1', [id]);
    const r = rows[0];
    return r && { id: r.id, contentType: r.content_type, bytes: r.bytes, sha256: r.sha256, uploadedBy: r.uploaded_by, uploadedAt: r.uploaded_at.toISOString() };
  }

  /** The ids among these that are not this person's uploads (only the uploader attaches a photo). */
  async notAttachable(ids: readonly string[], userId: string): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM photos WHERE id = ANY($1::text[]) AND uploaded_by = $2', [ids, userId]);
    const mine = new Set(rows.map((r) => r.id));
    return ids.filter((id) => !mine.has(id));
  }

  /** The items holding a photo (whoever may see one of them may see it). */
  async holders(id: string): Promise<string[]> {
    const { rows } = await this.db.query<{ item_id: string }>('SELECT item_id FROM work_item_photos WHERE photo_id = $1', [id]);
    return rows.map((r) => r.item_id);
  }

  read(id: string): Readable {
    return createReadStream(this.file(id));
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.img`);
  }
}

/** Records that an item holds these photos (with the move or the item that brings them, in its transaction). */
export async function linkPhotos(tx: Queryable, itemId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query('INSERT INTO work_item_photos (photo_id, item_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING', [ids, itemId]);
}
