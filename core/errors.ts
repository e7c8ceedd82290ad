import type { Label } from './vocabulary.ts';

/**
 * Domain errors, each declared once with a stable code (in the way fastify's `lib/errors.js`
 * declares its own). The domain says what went wrong, in both of the platform's languages; the API
 * alone decides which HTTP status that is and which language the caller reads (api/errors.ts).
 * `extra` carries context a client can act on (the field, the allowed actions).
 */
export const ERROR_CODES = {
  WI_NOT_FOUND: 'no such work item, or not one the caller may see',
  WI_FORBIDDEN: 'the item is visible, but not the caller\'s to act on',
  WI_NOT_ALLOWED: 'the transition table does not allow this action now',
  WI_STALE: 'the item changed meanwhile',
  WI_BAD_INPUT: 'an action\'s input is missing or does not fit',
  WI_ALREADY_RATED: 'the item has its rating',
  WI_DEPARTMENTS_WORKING: 'whistled departments have not finished their part',
  WI_NOT_REPORTED_IN: 'the department has not reported in',
  WI_TOP_LEVEL: 'already escalated to the street',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** What a person reads: Chinese and English (a plain string is the same in both, for ids and codes). */
export type Text = string | Label;

/** The text in one language. */
export const inLanguage = (t: Text, lang: keyof Label): string => (typeof t === 'string' ? t : t[lang]);

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** Both languages; `message` (for logs) is the English. */
    readonly text: Text,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(inLanguage(text, 'en'));
    this.name = 'DomainError';
  }
}
