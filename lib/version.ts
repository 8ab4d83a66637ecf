import { readFileSync } from 'node:fs';

/** The running build's version, from package.json: the one number health checks report. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
