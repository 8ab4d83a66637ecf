import { builder } from '../builder.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDelivery,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  type DeliveryPage,
  type DeliveryWithAttempts,
  type EndpointWithSecret,
  type WebhookAttempt,
  type WebhookEndpoint,
} from '../services/webhooks/endpoints.js';

const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint').implement({
  description: "A tenant's receiver of outbound webhooks (Standard Webhooks signing).",
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes', { description: 'Exact types or `family.*`; empty: every event.' }),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    disabledAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.disabledAt }),
    failureStreak: t.exposeInt('failureStreak', { description: 'Failed attempts in a row; a success resets it.' }),
    previousSecretExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'After a rotation: until then deliveries carry a signature with the old secret too.',
      resolve: (e) =>
        e.previousSecretExpiresAt && e.previousSecretExpiresAt > new Date() ? e.previousSecretExpiresAt : null,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (e) => e.updatedAt }),
  }),
});

const WebhookEndpointSecretRef = builder.objectRef<EndpointWithSecret>('WebhookEndpointWithSecret').implement({
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointRef, resolve: (r) => r.endpoint }),
    secret: t.exposeString('secret', { description: '`whsec_…`: shown only here; stored sealed.' }),
  }),
});

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  fields: (t) => ({
    number: t.exposeInt('number'),
    trigger: t.exposeString('trigger', { description: 'initial, retry or replay' }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no answer came.' }),
    error: t.exposeString('error', { nullable: true }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first 1 KB of the answer.' }),
    durationMs: t.exposeInt('durationMs'),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
  }),
});

const WebhookDeliveryRef = builder.objectRef<DeliveryWithAttempts>('WebhookDelivery').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId'),
    eventType: t.exposeString('eventType'),
    endpointId: t.exposeID('endpointId'),
    status: t.exposeString('status', { description: 'pending, succeeded or failed' }),
    attemptCount: t.exposeInt('attemptCount'),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.nextAttemptAt }),
    lastError: t.exposeString('lastError', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    attempts: t.field({ type: [WebhookAttemptRef], resolve: (d) => d.attempts }),
  }),
});

const WebhookDeliveryPageRef = builder.objectRef<DeliveryPage>('WebhookDeliveryPage').implement({
  fields: (t) => ({
    deliveries: t.field({ type: [WebhookDeliveryRef], resolve: (p) => p.deliveries }),
    page: t.int({ resolve: (p) => p.pagination.page }),
    limit: t.int({ resolve: (p) => p.pagination.limit }),
    total: t.int({ resolve: (p) => p.pagination.total }),
    pages: t.int({ resolve: (p) => p.pagination.pages }),
  }),
});

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ required: true }),
    description: t.string(),
    eventTypes: t.stringList({ description: 'Exact types or `family.*`; absent or `*`: every event.' }),
    tenantId: t.id({ description: 'Operators only; a tenant-bound caller gets its own tenant.' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string(),
    description: t.string(),
    eventTypes: t.stringList(),
    enabled: t.boolean({ description: 'true re-enables a disabled endpoint and resets its failure streak.' }),
  }),
});

builder.queryFields((t) => ({
  webhookEndpoints: t.field({
    type: [WebhookEndpointRef],
    description: "The tenant's webhook endpoints. Requires read:tenants.",
    args: { tenantId: t.arg.id({ description: 'Operators only.' }) },
    resolve: (_root, args, ctx) =>
      listWebhookEndpoints({ deps: ctx.deps, principal: ctx.principal, tenantId: args.tenantId?.toString() }),
  }),
  webhookDeliveries: t.field({
    type: WebhookDeliveryPageRef,
    description: "An endpoint's deliveries, newest first, with their attempts. Requires read:tenants.",
    args: {
      endpointId: t.arg.id({ required: true }),
      status: t.arg.string({ description: 'pending, succeeded or failed' }),
      page: t.arg.int(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      listWebhookDeliveries({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { ...args, endpointId: String(args.endpointId) } as never,
      }),
  }),
}));

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: WebhookEndpointSecretRef,
    description: 'Requires write:tenants. Answers the signing secret, once.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createWebhookEndpoint({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { ...input, tenantId: input.tenantId?.toString() },
      }),
  }),
  updateWebhookEndpoint: t.field({
    type: WebhookEndpointRef,
    description: 'Requires write:tenants.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: (_root, args, ctx) =>
      updateWebhookEndpoint({ deps: ctx.deps, principal: ctx.principal, id: String(args.id), input: args.input }),
  }),
  rotateWebhookEndpointSecret: t.field({
    type: WebhookEndpointSecretRef,
    description: 'Requires write:tenants. The old secret keeps signing beside the new one for 24 hours.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      rotateWebhookEndpointSecret({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
  deleteWebhookEndpoint: t.field({
    type: 'Boolean',
    description: 'Requires write:tenants. Its deliveries and attempts go with it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      deleteWebhookEndpoint({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
  replayWebhookDelivery: t.field({
    type: WebhookDeliveryRef,
    description: 'Requires write:tenants. Sends a finished delivery again now, with a fresh retry schedule.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      replayWebhookDelivery({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));
