import { inLanguage, type DomainError, type ErrorCode, type Text } from '../core/errors.ts';

/**
 * An error the API answers with as `{"error": code, "message": text}` and the given status; the
 * message in the caller's language (api/language.ts), Chinese unless they ask for English.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly text: Text,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(inLanguage(text, 'en'));
  }
}

export const badRequest = (field: string, text: Text) =>
  new ApiError(400, 'bad_request', typeof text === 'string' ? `${field}: ${text}` : { zh: `${field}：${text.zh}`, en: `${field}: ${text.en}` }, { field });
/** The things a route may not find, in both languages. */
const THINGS = {
  device: '设备', alarm: '告警', incident: '事件', override: '规则参数覆盖', 'active service account': '有效的服务账号',
  user: '用户', 'active user': '有效的用户', grid: '网格', community: '社区', street: '街道', 'org unit': '组织单元', photo: '照片',
} satisfies Record<string, string>;
export const notFound = (what: keyof typeof THINGS, id: string) => new ApiError(404, 'not_found', { zh: `${THINGS[what]} ${id} 不存在`, en: `${what} ${id} does not exist` });
export const conflict = (text: Text, extra: Record<string, unknown> = {}) => new ApiError(409, 'conflict', text, extra);
export const forbidden = (text: Text) => new ApiError(403, 'forbidden', text);

/**
 * Each domain error code's HTTP answer, in one place: the domain (rules/, work-items/) never names
 * a status. The body keeps its `error` category (`conflict`, `not_found`, …) and adds the `code`.
 */
export const HTTP_STATUS: Record<ErrorCode, 400 | 403 | 404 | 409> = {
  WI_NOT_FOUND: 404,
  WI_FORBIDDEN: 403,
  WI_NOT_ALLOWED: 409,
  WI_STALE: 409,
  WI_BAD_INPUT: 400,
  WI_ALREADY_RATED: 409,
  WI_DEPARTMENTS_WORKING: 409,
  WI_NOT_REPORTED_IN: 409,
  WI_TOP_LEVEL: 409,
};
const CATEGORY = { 400: 'bad_request', 403: 'forbidden', 404: 'not_found', 409: 'conflict' } as const;

/** A domain error as the API answers it. */
export function fromDomain(err: DomainError): ApiError {
  const status = HTTP_STATUS[err.code];
  return new ApiError(status, CATEGORY[status], err.text, { code: err.code, ...err.extra });
}
