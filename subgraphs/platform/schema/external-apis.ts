import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { checkExternalApis, type ExternalApiProbe, type ExternalApisReport } from '../services/external-apis.js';

const ExternalApiRef = builder.objectRef<ExternalApiProbe>('ExternalApiProbe').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    role: t.exposeString('role'),
    status: t.exposeString('status', { description: 'healthy, unhealthy or not_configured.' }),
    configured: t.exposeBoolean('configured'),
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const ExternalApisRef = builder.objectRef<ExternalApisReport>('ExternalApisReport').implement({
  fields: (t) => ({
    status: t.exposeString('status', { description: 'healthy, degraded or not_configured.' }),
    services: t.field({ type: [ExternalApiRef], resolve: (r) => r.services }),
  }),
});

builder.queryField('externalApis', (t) =>
  t.field({
    type: ExternalApisRef,
    description:
      'Reachability and latency of the configured outbound dependencies (Stripe, SMTP, S3, ClamAV), measured now. Requires read:system.',
    resolve: (_root, _args, ctx) => {
      requireScope(ctx.principal, 'read:system');
      return checkExternalApis(ctx.deps);
    },
  }),
);
