import { builder } from '../builder.js';
import {
  enableMfa,
  listMfaFactors,
  verifyMfaEnrolment,
  type MfaEnrolment,
  type MfaFactorStatus,
} from '../services/mfa.js';

const MfaEnrolmentRef = builder.objectRef<MfaEnrolment>('MfaEnrolment').implement({
  description: 'A started MFA enrolment. Pending until confirmed with verifyMfa; backup codes are shown only here.',
  fields: (t) => ({
    method: t.exposeString('method', { description: 'totp or email' }),
    secret: t.exposeString('secret', { nullable: true, description: 'TOTP: the base32 shared secret' }),
    qrCode: t.exposeString('qrCode', { nullable: true, description: 'TOTP: the otpauth URI as a PNG data URL' }),
    otpauthUri: t.exposeString('otpauthUri', { nullable: true }),
    destination: t.exposeString('destination', { nullable: true, description: 'Email: where the code went, masked' }),
    codeSent: t.exposeBoolean('codeSent'),
    backupCodes: t.exposeStringList('backupCodes', {
      description: 'One-time codes for when the factor is unavailable; replace any earlier set',
    }),
  }),
});

const MfaFactorRef = builder.objectRef<MfaFactorStatus>('MfaFactor').implement({
  fields: (t) => ({
    method: t.exposeString('method'),
    enabled: t.exposeBoolean('enabled', { description: 'Verified, so sign-in asks for it' }),
    verifiedAt: t.field({ type: 'DateTime', nullable: true, resolve: (f) => f.verifiedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (f) => f.createdAt }),
  }),
});

builder.queryField('mfaFactors', (t) =>
  t.field({
    type: [MfaFactorRef],
    description: "The signed-in user's MFA methods, pending ones included.",
    resolve: (_root, _args, ctx) => listMfaFactors({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

builder.mutationField('enableMfa', (t) =>
  t.field({
    type: MfaEnrolmentRef,
    description:
      'Signed-in user. Starts enrolment of totp or email (sms needs a provider: NOT_CONFIGURED). Email needs SMTP.',
    args: {
      method: t.arg.string({ required: true, description: 'totp, email or sms' }),
      phone: t.arg.string({ description: 'E.164, required for sms' }),
    },
    resolve: (_root, args, ctx) =>
      enableMfa({
        deps: ctx.deps,
        principal: ctx.principal,
        logger: ctx.logger,
        input: { method: args.method, phone: args.phone },
      }),
  }),
);

builder.mutationField('verifyMfa', (t) =>
  t.field({
    type: MfaFactorRef,
    description: 'Signed-in user. Confirms an enrolment with a code from the new factor; MFA is then on.',
    args: {
      method: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      verifyMfaEnrolment({ deps: ctx.deps, principal: ctx.principal, input: { method: args.method, code: args.code } }),
  }),
);
