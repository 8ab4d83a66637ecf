import { randomBytes } from 'node:crypto';

/** Prefixed random ids (`ten_4f3a...`): the prefix tells a reader what an id names, as in the documented examples. */
export function newId(prefix: string, bytes = 10): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}
