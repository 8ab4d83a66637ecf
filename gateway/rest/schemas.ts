import { z } from 'zod';

/**
 * Payload schemas shared by route tables. They only document responses (OpenAPI); the wire
 * value comes from the GraphQL result, which already is an ISO string.
 */
export const isoTimestamp = z.string().meta({ format: 'date-time' });
