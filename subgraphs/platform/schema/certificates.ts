import { builder } from '../builder.js';
import {
  getCertificateAuthority,
  issueCertificate,
  listCertificates,
  revokeCertificate,
  type CertificateAuthorityInfo,
  type IssuedCertificate,
  type IssuedCertificateWithKey,
} from '../services/ca/certificates.js';

const IssuedCertificateRef = builder.objectRef<IssuedCertificate>('IssuedCertificate').implement({
  description: 'An X.509 certificate issued by the platform’s internal CA.',
  fields: (t) => ({
    id: t.exposeID('id'),
    serialNumber: t.exposeString('serialNumber', { description: 'Hex.' }),
    serviceName: t.exposeString('serviceName'),
    commonName: t.exposeString('commonName'),
    san: t.exposeStringList('san'),
    keyUsage: t.exposeStringList('keyUsage'),
    extendedKeyUsage: t.exposeStringList('extendedKeyUsage'),
    notBefore: t.field({ type: 'DateTime', resolve: (c) => c.notBefore }),
    notAfter: t.field({ type: 'DateTime', resolve: (c) => c.notAfter }),
    certificatePem: t.exposeString('certificatePem'),
    fingerprintSha256: t.exposeString('fingerprint'),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.revokedAt }),
    revocationReason: t.exposeString('revocationReason', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

const IssuedCertificateWithKeyRef = builder.objectRef<IssuedCertificateWithKey>('IssuedCertificateWithKey').implement({
  fields: (t) => ({
    certificate: t.field({ type: IssuedCertificateRef, resolve: (r) => r.certificate }),
    privateKeyPem: t.exposeString('privateKeyPem', {
      nullable: true,
      description: 'PKCS#8 PEM of the generated key, shown once and never stored; null when a CSR was sent.',
    }),
    caCertificatePem: t.exposeString('caCertificatePem'),
  }),
});

const CertificatePageRef = builder
  .objectRef<Awaited<ReturnType<typeof listCertificates>>>('IssuedCertificatePage')
  .implement({
    fields: (t) => ({
      certificates: t.field({ type: [IssuedCertificateRef], resolve: (p) => p.certificates }),
      page: t.int({ resolve: (p) => p.pagination.page }),
      limit: t.int({ resolve: (p) => p.pagination.limit }),
      total: t.int({ resolve: (p) => p.pagination.total }),
      pages: t.int({ resolve: (p) => p.pagination.pages }),
    }),
  });

const CertificateAuthorityRef = builder.objectRef<CertificateAuthorityInfo>('CertificateAuthority').implement({
  fields: (t) => ({
    certificatePem: t.exposeString('certificatePem'),
    notBefore: t.field({ type: 'DateTime', resolve: (c) => c.notBefore }),
    notAfter: t.field({ type: 'DateTime', resolve: (c) => c.notAfter }),
    crlPem: t.exposeString('crlPem', { description: 'A freshly signed revocation list (valid 24 h).' }),
    crlNumber: t.exposeInt('crlNumber'),
  }),
});

const IssueCertificateInput = builder.inputType('IssueCertificateInput', {
  fields: (t) => ({
    serviceName: t.string({ required: true }),
    commonName: t.string({ required: true }),
    san: t.stringList({ description: 'DNS names, IP addresses, spiffe:// URIs; default the common name.' }),
    validityDays: t.int({ description: 'Default 365, at most 825.' }),
    keyUsage: t.stringList({ description: 'digital_signature, key_encipherment, key_agreement, non_repudiation' }),
    extendedKeyUsage: t.stringList({ description: 'server_auth, client_auth (default both)' }),
    csr: t.string({ description: 'PKCS#10 PEM: certify its key instead of generating one.' }),
  }),
});

builder.queryFields((t) => ({
  certificates: t.field({
    type: CertificatePageRef,
    description: 'Certificates issued by the internal CA, newest first. Requires admin:security.',
    args: { serviceName: t.arg.string(), page: t.arg.int(), limit: t.arg.int() },
    resolve: (_root, args, ctx) => listCertificates({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
  certificateAuthority: t.field({
    type: CertificateAuthorityRef,
    description: 'The internal CA certificate and a current CRL. Requires read:system.',
    resolve: (_root, _args, ctx) => getCertificateAuthority({ deps: ctx.deps, principal: ctx.principal }),
  }),
}));

builder.mutationFields((t) => ({
  issueCertificate: t.field({
    type: IssuedCertificateWithKeyRef,
    description: 'Issues an X.509 certificate from the internal CA. Requires admin:security.',
    args: { input: t.arg({ type: IssueCertificateInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      issueCertificate({ deps: ctx.deps, principal: ctx.principal, input: input as never }),
  }),
  revokeCertificate: t.field({
    type: IssuedCertificateRef,
    description: 'Adds the certificate to the CRL. Requires admin:security.',
    args: {
      id: t.arg.id({ required: true }),
      reason: t.arg.string({
        description: 'unspecified, key_compromise, affiliation_changed, superseded, cessation_of_operation',
      }),
    },
    resolve: (_root, args, ctx) =>
      revokeCertificate({ deps: ctx.deps, principal: ctx.principal, id: String(args.id), reason: args.reason }),
  }),
}));
