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
