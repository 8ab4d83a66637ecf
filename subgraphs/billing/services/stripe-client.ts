import Stripe from 'stripe';
import { AppError } from '../../../lib/errors.js';
import type { StripeSettings, SubgraphDeps } from '../../../lib/subgraph/context.js';

export type { Stripe };

/** One SDK client per settings object: it keeps its HTTP agent and connections between calls. */
const clients = new WeakMap<StripeSettings, Stripe>();

/** The deployment's Stripe settings, or NOT_CONFIGURED: billing never answers with made-up data. */
export function requireStripeSettings(deps: SubgraphDeps): StripeSettings {
  if (!deps.stripe) {
    throw new AppError('NOT_CONFIGURED', 'Billing is not configured on this deployment (STRIPE_SECRET_KEY is unset)');
  }
  return deps.stripe;
}

export function stripeClient(deps: SubgraphDeps): Stripe {
  const settings = requireStripeSettings(deps);
  let client = clients.get(settings);
  if (!client) {
    const base = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
    client = new Stripe(settings.secretKey, {
      // Retries reuse the SDK's own Idempotency-Key, so a retried create never creates twice.
      maxNetworkRetries: 2,
      timeout: 20_000,
      appInfo: { name: 'platform-supergraph' },
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'https:' ? 443 : 80),
            protocol: base.protocol === 'https:' ? 'https' : 'http',
          }
        : {}),
    });
    clients.set(settings, client);
  }
  return client;
}

/**
 * Runs a Stripe call and turns Stripe's errors into the platform's codes: what the caller got wrong
 * keeps Stripe's message (it names the parameter); what is wrong on our side is logged and masked.
 */
export async function callStripe<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeError)) throw error;
    const details = {
      stripe_code: error.code ?? null,
      param: error.param ?? null,
      request_id: error.requestId ?? null,
    };
    if (error instanceof Stripe.errors.StripeCardError) throw new AppError('PAYMENT_FAILED', error.message, details);
    if (error instanceof Stripe.errors.StripeInvalidRequestError) {
      if (error.code === 'resource_missing') throw new AppError('NOT_FOUND', error.message, details);
      throw new AppError('VALIDATION_ERROR', error.message, details);
    }
    if (error instanceof Stripe.errors.StripeRateLimitError) {
      throw new AppError('SERVICE_UNAVAILABLE', 'Stripe is rate limiting this account; try again shortly');
    }
    if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) {
      throw new AppError('SERVICE_UNAVAILABLE', 'Stripe could not be reached; try again shortly');
    }
    // Authentication and permission errors are the deployment's key, not the caller's fault.
    throw new AppError('SERVICE_UNAVAILABLE', 'Stripe refused this deployment’s credentials', details);
  }
}
