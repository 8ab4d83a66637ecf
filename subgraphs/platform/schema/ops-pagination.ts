import type { Pagination } from '../../../lib/pagination.js';
import { builder } from '../builder.js';

/** lib/pagination.ts's page block, for the platform's paged lists (tasks, system backups, security scans). */
export const PlatformPaginationRef = builder.objectRef<Pagination>('PlatformPagination').implement({
  fields: (t) => ({
    page: t.exposeInt('page'),
    limit: t.exposeInt('limit'),
    total: t.exposeInt('total'),
    pages: t.exposeInt('pages'),
  }),
});
