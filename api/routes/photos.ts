import multipart from '@fastify/multipart';
import { z } from 'zod';
import { PHOTO_MAX_BYTES } from '../../work-items/photos.ts';
import { ApiError, badRequest, forbidden, notFound } from '../errors.ts';
import type { ApiDeps, App } from '../deps.ts';

const MB = PHOTO_MAX_BYTES / 1024 / 1024;

/**
 * Photos taken on the spot: uploaded once (multipart, one file), then referenced by id from items
 * and actions. Whoever may reach work orders or tickets may upload; a photo is served to its
 * uploader and to whoever may see an item that holds it, to nobody else (404, as if it did not exist).
 */
export default async function photoRoutes(app: App, deps: ApiDeps) {
  await app.register(multipart, { limits: { fileSize: PHOTO_MAX_BYTES, files: 1, fields: 5, parts: 6 } });
  const config = { reach: ['work_orders', 'tickets'] } as const;

  app.post('/photos', {
    config,
    // The multipart body streams to disk past the JSON body limit, up to the photo limit.
    bodyLimit: PHOTO_MAX_BYTES + 64 * 1024,
    schema: { tags: ['photos'], summary: `Uploads a photo (multipart field "file"; JPEG, PNG or WebP by content, at most ${MB} MB) → 201 {"id"}`, consumes: ['multipart/form-data'] },
  }, async (req, reply) => {
    // The notification flows read items to tell people of them; they take and show no photos.
    if (req.user.role === 'notifier') throw forbidden({ zh: '通知服务不能上传照片', en: 'the notifier uploads no photos' });
    if (!req.isMultipart()) throw new ApiError(415, 'unsupported_media_type', { zh: '请以 multipart/form-data 上传照片', en: 'upload the photo as multipart/form-data' });
    const file = await req.file();
    if (!file) throw badRequest('file', { zh: '没有收到照片文件', en: 'no file in the upload' });
    const saved = await deps.workItems.photos.save(file.file, () => file.file.truncated, req.user.id);
    if (!saved.ok) {
      if (saved.reason === 'too_large') throw new ApiError(413, 'payload_too_large', { zh: `照片不能超过 ${MB} MB`, en: `a photo may be at most ${MB} MB` }, { field: 'file' });
      if (saved.reason === 'empty') throw badRequest('file', { zh: '照片文件为空', en: 'the file is empty' });
      throw badRequest('file', { zh: '只接受 JPEG、PNG 或 WebP 图片（按文件内容判断）', en: 'only JPEG, PNG or WebP images are taken (judged by content, not name)' });
    }
    const { id, contentType, bytes } = saved.photo;
    req.log.info({ photoId: id, contentType, bytes }, 'photo uploaded');
    return reply.code(201).send({ id, contentType, bytes });
  });

  app.get('/photos/:id', {
    config,
    schema: { tags: ['photos'], summary: 'A photo, to its uploader and to whoever may see an item that holds it', params: z.object({ id: z.string() }) },
  }, async (req, reply) => {
    const photo = await deps.workItems.photo(req.params.id, req.user);
    if (!photo) throw notFound('photo', req.params.id);
    // Private: never in a shared cache (onSend adds no-store and nosniff).
    reply.header('content-type', photo.contentType).header('content-length', photo.bytes).header('content-disposition', 'inline');
    return reply.send(deps.workItems.photos.read(photo.id));
  });
}
