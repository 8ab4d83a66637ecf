import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

/** platform-forge Authentication Module: register, login, refresh (MFA routes are in platform-forge-mfa.ts). */

const SessionFields = graphql(`
  fragment SessionFields on AuthSession {
    accessToken
    refreshToken
    tokenType
    expiresIn
    user {
      id
      email
      name
      tenantId
      roles
      createdAt
    }
  }
`);

type SessionData = ResultOf<typeof SessionFields>;

const tokenFields = (s: SessionData) => ({
  access_token: s.accessToken,
  refresh_token: s.refreshToken,
  token_type: 'Bearer' as const,
  expires_in: s.expiresIn,
});

const tokenSchema = {
  access_token: z.string().describe('JWT (ES256), valid for expires_in seconds'),
  refresh_token: z.string().describe('Opaque (rt_...); single use: each refresh returns a new one'),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
};

// Shapes only; the identity service applies the password policy and answers VALIDATION_ERROR too.
const email = z.email().max(320);
const password = z.string().min(1).max(1024);

const register = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/auth/register',
  summary: 'Register a user in a tenant (open registration, or a caller with write:users for the tenant)',
  operation: graphql(
    `
      mutation Register($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
        register(email: $email, password: $password, name: $name, tenantId: $tenantId) {
          ...SessionFields
        }
      }
    `,
    [SessionFields],
  ),
  input: {
    body: z.object({
      email,
      password,
      name: z.string().trim().min(1).max(200),
      tenant_id: z.string().trim().min(1).max(100),
    }),
  },
  variables: ({ body }) => ({ email: body.email, password: body.password, name: body.name, tenantId: body.tenant_id }),
  rateLimit: 'platform-forge.auth',
  status: 201,
  respond: ({ register: s }) => ({
    user: {
      id: s.user.id,
      email: s.user.email,
      name: s.user.name,
      tenant_id: s.user.tenantId,
      created_at: s.user.createdAt,
    },
    ...tokenFields(s),
  }),
  response: z.object({
    user: z.object({
      id: z.string(),
      email: z.string(),
      name: z.string(),
      tenant_id: z.string().nullable(),
      created_at: isoTimestamp,
    }),
    ...tokenSchema,
  }),
});

const loginShape = (s: SessionData) => ({
  ...tokenFields(s),
  user: { id: s.user.id, email: s.user.email, roles: s.user.roles },
});

const loginResponse = z.object({
  ...tokenSchema,
  user: z.object({ id: z.string(), email: z.string(), roles: z.array(z.string()) }),
});

const login = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/auth/login',
  summary: 'Sign in with email and password (mfa_code once MFA is enabled)',
  operation: graphql(
    `
      mutation Login($email: String!, $password: String!, $mfaCode: String, $tenantId: ID) {
        login(email: $email, password: $password, mfaCode: $mfaCode, tenantId: $tenantId) {
          ...SessionFields
        }
      }
    `,
    [SessionFields],
  ),
  input: {
    body: z.object({
      email,
      password,
      mfa_code: z.string().trim().min(1).max(64).optional(),
      tenant_id: z
        .string()
        .trim()
        .min(1)
        .max(100)
        .optional()
        .describe('Needed only when the email belongs to users of several tenants'),
    }),
  },
  variables: ({ body }) => ({
    email: body.email,
    password: body.password,
    mfaCode: body.mfa_code ?? null,
    tenantId: body.tenant_id ?? null,
  }),
  rateLimit: 'platform-forge.auth',
  respond: ({ login: s }) => loginShape(s),
  response: loginResponse,
});

const refresh = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/auth/refresh',
  summary: 'Exchange a refresh token for a new pair (the old one is spent; reusing it revokes the sign-in)',
  operation: graphql(
    `
      mutation RefreshSession($refreshToken: String!) {
        refreshSession(refreshToken: $refreshToken) {
          ...SessionFields
        }
      }
    `,
    [SessionFields],
  ),
  input: { body: z.object({ refresh_token: z.string().min(1).max(200) }) },
  variables: ({ body }) => ({ refreshToken: body.refresh_token }),
  rateLimit: 'platform-forge.auth',
  respond: ({ refreshSession: s }) => loginShape(s),
  response: loginResponse,
});

export const platformForgeAuthRoutes: RestRoute[] = [register, login, refresh];
