import type { DomainError, ErrorCode } from '../core/errors.ts';

/** An error the API answers with as `{"error": code, "message": text}` and the given status. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (field: string, message: string) => new ApiError(400, 'bad_request', `${field}: ${message}`, { field });
export const notFound = (what: string, id: string) => new ApiError(404, 'not_found', `${what} ${id} does not exist`);
export const conflict = (message: string, extra: Record<string, unknown> = {}) => new ApiError(409, 'conflict', message, extra);

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
  return new ApiError(status, CATEGORY[status], err.message, { code: err.code, ...err.extra });
}
