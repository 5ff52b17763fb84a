/** Documentation of POST /events bodies for the OpenAPI document (the checks are costEventFromJson's). */
const decimal = (description: string) => ({ type: ['string', 'number'], description });
const nullableString = (description?: string) => ({ type: ['string', 'null'], ...(description ? { description } : {}) });

export const COST_EVENT_JSON_SCHEMA = {
  type: 'object',
  description: 'A cost event in the JSON form of schemas/cost-event.avsc.',
  required: ['cost_type', 'persona_id'],
  additionalProperties: false,
  properties: {
    event_id: nullableString('unique id (any printable text up to 255 characters; a UUID is best); absent: a new UUID, returned in the 202'),
    event_time: { type: ['string', 'integer', 'null'], description: 'RFC 3339 with a zone, or epoch milliseconds; absent: now' },
    cost_type: { type: 'string', enum: ['openai_api', 'kubernetes', 'vector_db', 'other'] },
    amount: decimal('USD, exact decimal text with at most 9 decimals; absent: priced from the usage by the price book'),
    currency: { type: 'string', enum: ['USD'] },
    persona_id: { type: 'string', description: 'attribution owner; the Kafka key' },
    post_id: nullableString(),
    operation: nullableString(),
    service: nullableString(),
    correlation_id: nullableString(),
    request_id: nullableString(),
    llm_usage: {
      type: ['object', 'null'],
      required: ['model', 'input_tokens', 'output_tokens'],
      additionalProperties: false,
      properties: {
        provider: { type: 'string', default: 'openai' },
        model: { type: 'string' },
        input_tokens: { type: 'integer', minimum: 0 },
        output_tokens: { type: 'integer', minimum: 0 },
        cached_input_tokens: { type: 'integer', minimum: 0, default: 0 },
      },
    },
    compute_usage: {
      type: ['object', 'null'],
      required: ['cpu_cores', 'memory_gb', 'duration_ms'],
      additionalProperties: false,
      properties: {
        resource_type: { type: 'string', default: 'kubernetes' },
        cpu_cores: decimal('cores, at most 6 decimals'),
        memory_gb: decimal('GB, at most 6 decimals'),
        duration_ms: { type: 'integer', minimum: 0 },
      },
    },
    vector_db_usage: {
      type: ['object', 'null'],
      required: ['operation', 'units'],
      additionalProperties: false,
      properties: { provider: { type: 'string', default: 'generic' }, operation: { type: 'string' }, units: { type: 'integer', minimum: 0 } },
    },
    price: {
      type: ['object', 'null'],
      description: 'the prices behind a given amount; only with amount (absent: recorded as source "producer")',
      required: ['source', 'version'],
      additionalProperties: false,
      properties: {
        source: { type: 'string' },
        version: { type: 'string' },
        status: { type: 'string', enum: ['priced', 'unknown_model', 'unpriced'], default: 'priced' },
        unit_prices: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const CLOUDEVENT_JSON_SCHEMA = {
  type: 'object',
  description: 'A CloudEvent 1.0 in structured mode carrying one cost event in data.',
  required: ['specversion', 'id', 'source', 'type', 'data'],
  properties: {
    specversion: { type: 'string', enum: ['1.0'] },
    id: { type: 'string', description: 'the event id' },
    source: { type: 'string' },
    type: { type: 'string', enum: ['finops.cost-event.v1'] },
    time: { type: 'string', description: 'the event time unless data.event_time is given' },
    subject: { type: 'string' },
    datacontenttype: { type: 'string', enum: ['application/json'] },
    data: COST_EVENT_JSON_SCHEMA,
  },
} as const;
