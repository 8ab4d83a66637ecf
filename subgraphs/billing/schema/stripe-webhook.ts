import { builder } from '../builder.js';
import { handleStripeWebhook, type WebhookOutcome } from '../services/stripe-webhook.js';

const StripeWebhookResultRef = builder.objectRef<WebhookOutcome>('StripeWebhookResult').implement({
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    type: t.exposeString('type'),
    duplicate: t.exposeBoolean('duplicate', { description: 'Applied before: this delivery changed nothing' }),
    handled: t.exposeBoolean('handled', { description: 'False for an event type the platform does not act on' }),
  }),
});

builder.mutationField('receiveStripeWebhook', (t) =>
  t.field({
    type: StripeWebhookResultRef,
    description:
      'A Stripe webhook delivery. No credential: the Stripe-Signature over the raw body is the authentication.',
    args: { rawBody: t.arg.string({ required: true }), signature: t.arg.string() },
    resolve: (_root, { rawBody, signature }, ctx) =>
      handleStripeWebhook({ deps: ctx.deps, logger: ctx.logger, rawBody, signature: signature ?? null }),
  }),
);
