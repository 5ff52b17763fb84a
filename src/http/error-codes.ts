/**
 * Every `error` code the API answers with (docs/api.md "Errors" lists them with their status).
 * Framework errors (bad JSON, oversized bodies, unknown routes …) use these codes too.
 */
export const ERROR_CODES = [
  // 400
  'bad_request', 'invalid_json', 'empty_body', 'invalid_content_length', 'invalid_url', 'control_character',
  'unknown_parameter', 'unknown_field', 'missing_parameter', 'invalid_value', 'invalid_date', 'invalid_range',
  'range_too_large', 'invalid_limit', 'invalid_cursor', 'invalid_limit_usd', 'invalid_input', 'invalid_thresholds', 'invalid_scope',
  'invalid_event', 'empty_batch', // POST /events (role ingest)
  'unauthorized', // 401
  'forbidden', // 403
  'not_found', // 404
  'method_not_allowed', // 405
  'request_timeout', // 408
  'conflict', // 409
  'body_too_large', 'batch_too_large', // 413
  'uri_too_long', // 414
  'unsupported_media_type', // 415
  'rate_limited', // 429
  'header_too_large', // 431
  'internal', // 500
  'dependency_unavailable', 'controls_unavailable', // 503
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Code for a 4xx the framework raised without one of ours. */
export const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 408: 'request_timeout',
  409: 'conflict', 413: 'body_too_large', 414: 'uri_too_long', 415: 'unsupported_media_type', 429: 'rate_limited', 431: 'header_too_large',
};

/** The body of every error answer: {"error": code, "message": text}. */
export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'snake_case code, see docs/api.md "Errors"', enum: [...ERROR_CODES] },
    message: { type: 'string', description: 'what is wrong, naming the parameter or field' },
  },
} as const;
