import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';

/**
 * cloudpioneer's GET /health is the tenantsdb route (same path, same body), shared with this
 * dialect: it is served at /health and at /v1/health, and counted as served for both.
 */

/** POST /auth/login (and /v1/auth/login): the OAuth-style bare token object the document shows. */
const login = defineRoute({
  dialect: 'cloudpioneer',
  method: 'POST',
  path: '/auth/login',
  summary: 'Sign in with email and password',
  operation: graphql(`
    mutation CloudPioneerLogin($email: String!, $password: String!, $mfaCode: String, $tenantId: ID) {
      login(email: $email, password: $password, mfaCode: $mfaCode, tenantId: $tenantId) {
        accessToken
        refreshToken
        expiresIn
      }
    }
  `),
  input: {
    body: z.object({
      email: z.email().max(320),
      password: z.string().min(1).max(1024),
      // Not in the document; accepted so accounts with MFA, and emails in several tenants, can sign in.
      mfa_code: z.string().trim().min(1).max(64).optional(),
      tenant_id: z.string().trim().min(1).max(100).optional(),
    }),
  },
  variables: ({ body }) => ({
    email: body.email,
    password: body.password,
    mfaCode: body.mfa_code ?? null,
    tenantId: body.tenant_id ?? null,
  }),
  // cloudpioneer documents only its general tier limit; a password guess costs the same here as at
  // every other sign-in route (one 20/minute allowance per caller, shared by all of them).
  rateLimit: 'platform-forge.auth',
  respond: ({ login: s }) => ({
    access_token: s.accessToken,
    refresh_token: s.refreshToken,
    token_type: 'bearer' as const,
    expires_in: s.expiresIn,
  }),
  response: z.object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.number().int(),
  }),
});

export const cloudpioneerRoutes: RestRoute[] = [login];
