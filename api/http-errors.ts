/** An error with the HTTP status and machine-readable code the client gets; the message names the problem. */
export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
