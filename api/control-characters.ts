import { badRequest } from '../src/http/http-errors';

// C0 controls (NUL, tab, newline, escape …), DEL and C1 controls. Postgres refuses NUL in text
// (SQLSTATE 22021); the others have no place in an id and would forge lines in logs and messages.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type Location = 'path parameter' | 'query parameter' | 'body field';

export interface ControlCharacterHit {
  field: string;
  codePoint: string;
  index: number;
}

/** The first string inside `value` (walked in order, with its dotted field path) holding a control character. */
export function findControlCharacter(value: unknown, field = '', depth = 0): ControlCharacterHit | null {
  if (typeof value === 'string') {
    const m = CONTROL.exec(value);
    return m ? { field, codePoint: `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`, index: m.index } : null;
  }
  if (value === null || typeof value !== 'object' || depth > 8) return null;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [k, v] of entries) {
    // A name is reported JSON-escaped, so the message itself never carries the control character.
    const name = field ? `${field}.${JSON.stringify(k).slice(1, -1)}` : JSON.stringify(k).slice(1, -1);
    const inName = findControlCharacter(k, name, depth + 1);
    if (inName) return inName;
    const hit = findControlCharacter(v, name, depth + 1);
    if (hit) return hit;
  }
  return null;
}

/** 400 naming the field if any id or text parameter carries a control character. */
export function rejectControlCharacters(parts: [Location, unknown][]): void {
  for (const [where, value] of parts) {
    const hit = findControlCharacter(value);
    if (hit) {
      throw badRequest(
        'control_character',
        `${where} "${hit.field}" contains a control character (${hit.codePoint} at position ${hit.index}); ids and text must not contain NUL or other control characters`,
      );
    }
  }
}
