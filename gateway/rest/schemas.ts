import { z } from 'zod';

/**
 * Payload schemas shared by route tables. They only document responses (OpenAPI); the wire
 * value comes from the GraphQL result, which already is an ISO string.
 */
export const isoTimestamp = z.string().meta({ format: 'date-time' });

/** The pagination block of platform-forge's paged lists (lib/pagination.ts). */
export const paginationSchema = z.object({
  page: z.number().int(),
  limit: z.number().int(),
  total: z.number().int(),
  pages: z.number().int(),
});

/**
 * A query parameter listing values, given comma-separated (`a,b`) or repeated (`x=a&x=b`):
 * split, trimmed, empty items dropped, then each item checked and the count bounded.
 */
export const commaList = <T extends z.ZodType<string, string>>(max: number, item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : (Array.isArray(v) ? v : [v])
            .flatMap((s) => s.split(','))
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .pipe(z.array(item).max(max).optional());
