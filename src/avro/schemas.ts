import fs from 'node:fs';
import path from 'node:path';

/** The repository's schemas/ folder, found from here whether running from source or dist/. */
export function schemasDir(): string {
  for (const candidate of [path.resolve(__dirname, '../../schemas'), path.resolve(__dirname, '../../../schemas')]) {
    if (fs.existsSync(path.join(candidate, 'cost-event.avsc'))) return candidate;
  }
  throw new Error('schemas/ folder not found next to the code');
}

export type SchemaName = 'cost-event' | 'post-outcome' | 'cost-anomaly' | 'cost-control';

export function loadSchema(name: SchemaName | string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(schemasDir(), `${name}.avsc`), 'utf8'));
}
