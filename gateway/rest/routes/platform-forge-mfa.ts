import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

/**
 * The documented answer is TOTP's: secret, qr_code, backup_codes. `method` says which shape
 * arrived; email adds where its code went (`destination`, masked) instead of a secret.
 */
const enable = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/auth/mfa/enable',
  summary: 'Start MFA enrolment (totp, email; sms needs a provider)',
  operation: graphql(`
    mutation EnableMfa($method: String!, $phone: String) {
      enableMfa(method: $method, phone: $phone) {
        method
        secret
        qrCode
        otpauthUri
        destination
        codeSent
        backupCodes
      }
    }
  `),
  input: {
    body: z.object({
      method: z.enum(['totp', 'email', 'sms']),
      phone: z.string().optional(),
    }),
  },
  variables: ({ body }) => ({ method: body.method, phone: body.phone ?? null }),
  rateLimit: 'platform-forge.auth',
  respond: ({ enableMfa: e }) => ({
    method: e.method,
    ...(e.secret !== null ? { secret: e.secret } : {}),
    ...(e.qrCode !== null ? { qr_code: e.qrCode } : {}),
    ...(e.otpauthUri !== null ? { otpauth_url: e.otpauthUri } : {}),
    ...(e.destination !== null ? { destination: e.destination, code_sent: e.codeSent } : {}),
    backup_codes: e.backupCodes,
  }),
  response: z.object({
    method: z.string().describe('totp or email'),
    secret: z.string().optional().describe('TOTP: base32 shared secret'),
    qr_code: z.string().optional().describe('TOTP: data:image/png;base64,... of the otpauth URI'),
    otpauth_url: z.string().optional().describe('TOTP: the otpauth:// URI the QR code encodes'),
    destination: z.string().optional().describe('Email: where the code was sent, masked'),
    code_sent: z.boolean().optional(),
    backup_codes: z.array(z.string()).describe('Shown once; each works once'),
  }),
});

const verify = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/auth/mfa/verify',
  summary: 'Confirm MFA enrolment with a code; MFA is then required at sign-in',
  operation: graphql(`
    mutation VerifyMfa($method: String!, $code: String!) {
      verifyMfa(method: $method, code: $code) {
        method
        enabled
        verifiedAt
      }
    }
  `),
  input: {
    body: z.object({
      code: z.string().min(1).max(32),
      method: z.enum(['totp', 'email', 'sms']),
    }),
  },
  variables: ({ body }) => ({ method: body.method, code: body.code }),
  rateLimit: 'platform-forge.auth',
  respond: ({ verifyMfa: v }) => ({
    method: v.method,
    mfa_enabled: v.enabled,
    verified_at: v.verifiedAt,
  }),
  response: z.object({
    method: z.string(),
    mfa_enabled: z.boolean(),
    verified_at: isoTimestamp.nullable(),
  }),
});

export const platformForgeMfaRoutes: RestRoute[] = [enable, verify];
