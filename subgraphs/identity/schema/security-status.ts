import { builder } from '../builder.js';
import { getIdentitySecurityFigures, type IdentitySecurityFigures } from '../services/security-figures.js';
import { ThreatRef } from './threats.js';

const IdentitySecurityFiguresRef = builder
  .objectRef<IdentitySecurityFigures>('IdentitySecurityFigures')
  .implement({
    description: "Identity's records behind the platform security status (admin:security; a tenant's own when bound to one).",
    fields: (t) => ({
      failedLogins24h: t.exposeInt('failedLogins24h'),
      blockedAddresses: t.exposeInt('blockedAddresses', { description: 'Distinct ips under a live threat block' }),
      blockedAccounts: t.exposeInt('blockedAccounts'),
      activeSessions: t.exposeInt('activeSessions', { description: 'Live refresh tokens' }),
      apiKeysUsed24h: t.exposeInt('apiKeysUsed24h', {
        nullable: true,
        description: 'Keys used in 24 h (not calls: last use is recorded once a minute per key); null for a tenant',
      }),
      openRegistrationTenants: t.exposeInt('openRegistrationTenants', { nullable: true }),
      registrationOpen: t.exposeBoolean('registrationOpen', {
        nullable: true,
        description: "The caller's tenant, when bound to one",
      }),
      activeThreats: t.field({ type: [ThreatRef], resolve: (f) => f.activeThreats }),
    }),
  });

builder.externalRef('SecurityStatus', builder.selection<{ id: string }>('id')).implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    identity: t.field({
      type: IdentitySecurityFiguresRef,
      resolve: (_status, _args, ctx) => getIdentitySecurityFigures({ deps: ctx.deps, principal: ctx.principal }),
    }),
  }),
});
