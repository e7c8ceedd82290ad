import { z } from 'zod';
import type { Text } from '../core/errors.ts';
import type { Language } from './language.ts';

const ZH = z.locales.zhCN().localeError;
const EN = z.locales.en().localeError;
const asText = (r: ReturnType<typeof EN>) => (typeof r === 'string' ? r : (r?.message ?? ''));
const beforeReceived = (s: string) => s.replace(/, received .*$/, '');

/**
 * A request validation issue in the caller's language. zod's own Chinese locale words the standard
 * issues; a message a schema wrote itself is kept as written. (The issue reaches here without its
 * input, so what was received is taken from zod's English message.)
 */
export function validationMessage(issue: { keyword: string; message?: string; params: Record<string, unknown> }, lang: Language): string {
  const message = issue.message ?? '';
  if (lang === 'en') return message;
  const raw = { ...issue.params, code: issue.keyword, path: [], message } as never;
  if (beforeReceived(asText(EN(raw))) !== beforeReceived(message)) return message;
  const zh = asText(ZH(raw));
  const received = /, received (\S+)$/.exec(message)?.[1];
  if (issue.keyword !== 'invalid_type') return zh;
  return zh.replace(/，实际接收 .*$/, received === 'undefined' || !received ? '，未提供' : `，实际接收 ${received}`);
}

/** Fastify's own 4xx errors (a body that is not JSON, a wrong content type, too large) in both languages. */
export function fastifyText(err: Error & { code?: string }): Text {
  const zh: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: '请求体过大',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: '不支持的内容类型',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'JSON 请求体为空',
    FST_ERR_CTP_INVALID_JSON_BODY: '请求体不是有效的 JSON',
  };
  const text = err.code ? zh[err.code] : undefined;
  return text ? { zh: `${text}（${err.message}）`, en: err.message } : err.message;
}
