import { randomBytes } from 'node:crypto';

/** Prefixed random ids (`ten_4f3a...`): the prefix tells a reader what an id names, as in the documented examples. */
export function newId(prefix: string, bytes = 10): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

/** `count` ids as newId(prefix, bytes) makes them, from one random draw (batches of thousands). */
export function newIds(prefix: string, count: number, bytes = 10): string[] {
  const hex = randomBytes(bytes * count).toString('hex');
  const width = bytes * 2;
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) ids[i] = `${prefix}_${hex.slice(i * width, (i + 1) * width)}`;
  return ids;
}
