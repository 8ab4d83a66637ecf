import type { z } from 'zod';
import { AppError } from './errors.js';

/** Validates service input with zod; every issue is reported at once as VALIDATION_ERROR details. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AppError('VALIDATION_ERROR', 'Invalid input', {
    fields: result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  });
}
