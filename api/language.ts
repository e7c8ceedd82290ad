import type { Label } from '../core/vocabulary.ts';

export type Language = keyof Label;

/**
 * The language a caller reads, from `Accept-Language` (RFC 9110 §12.5.4): English when they prefer
 * an `en` tag over any `zh` one, Chinese otherwise (the platform's people read Chinese first).
 */
export function pickLanguage(header: string | undefined): Language {
  if (!header) return 'zh';
  let best: { lang: Language; q: number } | undefined;
  for (const part of header.split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const lang: Language | undefined = tag === 'en' || tag.startsWith('en-') ? 'en' : tag === 'zh' || tag.startsWith('zh-') || tag === '*' ? 'zh' : undefined;
    // On equal weight the earlier tag wins, as the header lists them by preference.
    if (lang && (!best || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? 'zh';
}
