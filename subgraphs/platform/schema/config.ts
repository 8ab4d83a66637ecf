import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  getConfig,
  listConfigVersions,
  updateConfig,
  type ConfigHistoryEntry,
  type ConfigUpdate,
  type ConfigView,
} from '../services/config/runtime-config.js';

const ConfigVersionRef = builder.objectRef<ConfigHistoryEntry>('ConfigVersion').implement({
  fields: (t) => ({
    version: t.exposeInt('version'),
    updatedKeys: t.exposeStringList('updatedKeys'),
    restartKeys: t.exposeStringList('restartKeys'),
    changedBy: t.exposeString('changedBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (v) => v.createdAt }),
  }),
});

const RuntimeConfigRef = builder.objectRef<ConfigView>('RuntimeConfig').implement({
  description: 'The effective configuration by section; `runtime` and `database` come from the environment (read-only).',
  fields: (t) => ({
    version: t.exposeInt('version', { description: '0 until the first change.' }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.updatedAt }),
    document: t.field({ type: 'JSON', resolve: (c) => c.document }),
    history: t.field({
      type: [ConfigVersionRef],
      description: 'Changes, newest first.',
      args: { limit: t.arg.int({ defaultValue: 20 }) },
      resolve: (_c, args, ctx) => listConfigVersions({ deps: ctx.deps, limit: args.limit ?? 20 }),
    }),
  }),
});

const ConfigUpdateRef = builder.objectRef<ConfigUpdate>('ConfigUpdateResult').implement({
  fields: (t) => ({
    version: t.exposeInt('version'),
    updatedKeys: t.exposeStringList('updatedKeys'),
    restartRequired: t.exposeBoolean('restartRequired'),
    restartKeys: t.exposeStringList('restartKeys'),
  }),
});

builder.queryField('runtimeConfig', (t) =>
  t.field({
    type: RuntimeConfigRef,
    description: 'Requires read:system; secrets are masked unless the operator asks for them (maskSecrets: false).',
    args: { section: t.arg.string(), maskSecrets: t.arg.boolean({ defaultValue: true }) },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'read:system');
      return getConfig({ deps: ctx.deps, principal, section: args.section, maskSecrets: args.maskSecrets });
    },
  }),
);

builder.mutationField('updateRuntimeConfig', (t) =>
  t.field({
    type: ConfigUpdateRef,
    description: 'Validated, versioned and audited; live keys apply at once. Requires admin:config.',
    args: { patch: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'admin:config');
      return updateConfig({ deps: ctx.deps, principal, requestId: ctx.requestId, patch: args.patch });
    },
  }),
);
