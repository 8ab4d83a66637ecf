import { z } from 'zod';

/** Page-number pagination as platform-forge documents it (audit logs): the one shape for every paged list. */
export interface Pagination {
  page: number;
  limit: number;
  total: number;
  pages: number;
}

/**
 * `page` and `limit` for a list's zod input. Null (GraphQL) and absent mean the defaults. A limit
 * over the maximum is refused rather than clamped: a caller asking for 500 and silently getting
 * 100 would page wrongly without ever knowing.
 */
export function pageInput({ defaultLimit = 20, maxLimit = 100 } = {}) {
  return {
    page: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullish()
      .transform((v) => v ?? 1),
    limit: z
      .number()
      .int()
      .min(1)
      .max(maxLimit)
      .nullish()
      .transform((v) => v ?? defaultLimit),
  };
}

/** Prisma's skip/take for a page. */
export function pageWindow({ page, limit }: { page: number; limit: number }): { skip: number; take: number } {
  return { skip: (page - 1) * limit, take: limit };
}

export function paginationOf({ page, limit }: { page: number; limit: number }, total: number): Pagination {
  return { page, limit, total, pages: Math.ceil(total / limit) };
}
