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
