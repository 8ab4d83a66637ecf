import { builder } from '../builder.js';
import {
  getConsentStatus,
  listConsentHistory,
  updateConsent,
  type ConsentRecord,
  type ConsentStatus,
} from '../services/consents.js';
import {
  estimatedCompletion,
  getDataRequest,
  listDataRequests,
  readExportArchive,
  requestDataDeletion,
  requestDataExport,
  type DataExportArchive,
  type DataRequestRecord,
} from '../services/privacy.js';
import { revokeUserSessions } from '../services/sessions.js';

const ConsentStatusRef = builder.objectRef<ConsentStatus>('ConsentStatus').implement({
  description: "The caller's current choices: the latest record per category. Optional categories are off until granted.",
  fields: (t) => ({
    analytics: t.exposeBoolean('analytics'),
    marketing: t.exposeBoolean('marketing'),
    necessary: t.exposeBoolean('necessary', { description: 'Always true: the service cannot run without it' }),
    preferences: t.exposeBoolean('preferences'),
    updatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a choice last changed; null if the user never made one',
      resolve: (s) => s.updatedAt,
    }),
    version: t.exposeString('version', { nullable: true, description: 'Policy version of the latest change' }),
  }),
});

const ConsentRecordRef = builder.objectRef<ConsentRecord>('ConsentRecord').implement({
  description: 'One change of one consent category, kept as evidence of what was agreed to and when.',
  fields: (t) => ({
    id: t.exposeID('id'),
    category: t.exposeString('category'),
    granted: t.exposeBoolean('granted'),
    version: t.exposeString('version'),
    ip: t.exposeString('ip', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
  }),
});

builder.queryField('consentStatus', (t) =>
  t.field({
    type: ConsentStatusRef,
    description: "The signed-in user's consent status.",
    resolve: (_root, _args, ctx) => getConsentStatus({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

builder.queryField('consentHistory', (t) =>
  t.field({
    type: [ConsentRecordRef],
    description: "The signed-in user's consent changes, newest first. limit: default 100, at most 500.",
    args: { category: t.arg.string(), limit: t.arg.int() },
    resolve: (_root, args, ctx) =>
      listConsentHistory({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { category: args.category as never, limit: args.limit ?? undefined },
      }),
  }),
);

const ConsentChoicesInput = builder.inputType('ConsentChoicesInput', {
  description: 'Only the categories named change. necessary may only be true.',
  fields: (t) => ({
    analytics: t.boolean(),
    marketing: t.boolean(),
    necessary: t.boolean(),
    preferences: t.boolean(),
  }),
});

const UpdateConsentInput = builder.inputType('UpdateConsentInput', {
  fields: (t) => ({
    consents: t.field({ type: ConsentChoicesInput, required: true }),
    consentVersion: t.string({ required: true, description: 'The policy version the user agreed to, e.g. 2.0' }),
  }),
});

builder.mutationField('updateConsent', (t) =>
  t.field({
    type: ConsentStatusRef,
    description: 'Records the changed choices (one history row per changed category) and answers the new status.',
    args: { input: t.arg({ type: UpdateConsentInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      // GraphQL gives null for a field sent as null: treated as not named, like an absent one.
      const consents = Object.fromEntries(
        Object.entries(input.consents).filter(([, value]) => value !== null && value !== undefined),
      );
      return updateConsent({
        deps: ctx.deps,
        principal: ctx.principal,
        client: ctx.client,
        input: { consents, consentVersion: input.consentVersion },
      });
    },
  }),
);

const DataExportArchiveRef = builder.objectRef<DataExportArchive>('DataExportArchive').implement({
  description:
    'The export archive: one gzip-compressed JSON document with a section per subgraph. Delivered inline as base64; available until expiresAt.',
  fields: (t) => ({
    filename: t.exposeString('filename'),
    contentType: t.exposeString('contentType'),
    sizeBytes: t.exposeInt('sizeBytes'),
    contentBase64: t.exposeString('contentBase64'),
    expiresAt: t.field({ type: 'DateTime', resolve: (a) => a.expiresAt }),
  }),
});

const DataRequestRef = builder.objectRef<DataRequestRecord>('DataRequest').implement({
  description: 'A data export or deletion request (GDPR access / erasure). Deletion requests are kept as the record.',
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    kind: t.exposeString('kind', { description: 'export or delete' }),
    status: t.exposeString('status', { description: 'processing, completed or failed' }),
    reason: t.exposeString('reason', { nullable: true }),
    result: t.field({
      type: 'JSON',
      description: 'Per subgraph: the sections exported, or what was erased and anonymized',
      resolve: (r) => r.result,
    }),
    error: t.exposeString('error', { nullable: true }),
    requestedAt: t.field({ type: 'DateTime', resolve: (r) => r.requestedAt }),
    estimatedCompletion: t.field({ type: 'DateTime', resolve: (r) => estimatedCompletion(r) }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.completedAt }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the export archive stops being downloadable',
      resolve: (r) => r.expiresAt,
    }),
    archive: t.field({
      type: DataExportArchiveRef,
      nullable: true,
      description: 'The archive of a completed export until it expires; null otherwise.',
      // The request itself was only handed out to a caller allowed to read it.
      resolve: (r, _args, ctx) => readExportArchive({ deps: ctx.deps, request: r }),
    }),
  }),
});

builder.queryField('dataRequest', (t) =>
  t.field({
    type: DataRequestRef,
    nullable: true,
    description: "One data request: the user's own, or any of the tenant's for a tenant admin (read:users).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getDataRequest({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
);

builder.queryField('dataRequests', (t) =>
  t.field({
    type: [DataRequestRef],
    description:
      "The signed-in user's data requests, newest first; a tenant admin (read:users) may name a user of the tenant.",
    args: { userId: t.arg.id(), limit: t.arg.int() },
    resolve: (_root, args, ctx) =>
      listDataRequests({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { userId: args.userId == null ? null : String(args.userId), limit: args.limit ?? undefined },
      }),
  }),
);

builder.mutationField('requestDataExport', (t) =>
  t.field({
    type: DataRequestRef,
    description: 'Starts an export of everything the platform holds about the signed-in user.',
    resolve: (_root, _args, ctx) => requestDataExport({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

const RequestDataDeletionInput = builder.inputType('RequestDataDeletionInput', {
  fields: (t) => ({
    reason: t.string(),
    confirm: t.boolean({ required: true, description: 'Must be true' }),
  }),
});

builder.mutationField('requestDataDeletion', (t) =>
  t.field({
    type: DataRequestRef,
    description:
      "Deletes the signed-in user's account: access ends at once, then every subgraph erases or anonymizes their data.",
    args: { input: t.arg({ type: RequestDataDeletionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      requestDataDeletion({
        deps: ctx.deps,
        principal: ctx.principal,
        client: ctx.client,
        input: { reason: input.reason, confirm: input.confirm as true },
        revokeSessions: (userId) => revokeUserSessions({ deps: ctx.deps, userId }),
      }),
  }),
);
