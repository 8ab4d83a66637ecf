import { EnvError, loadEnv } from './env.js';
import type { z } from 'zod';

/** Every entry point starts here: a bad environment prints every problem at once and exits 1. */
export function loadEnvOrExit<S extends z.ZodType>(schema: S): z.output<S> {
  try {
    return loadEnv(schema);
  } catch (error) {
    if (error instanceof EnvError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
