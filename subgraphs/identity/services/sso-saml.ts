import * as samlify from 'samlify';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import * as xmlValidator from './saml-xml-validator.js';
import type { VerifiedIdentity } from './sso.js';

/**
 * SAML 2.0 with samlify: SP-initiated login over the redirect binding, signed responses over the
 * POST binding. Messages are schema-validated by xmllint (libxml2 compiled to JavaScript, no Java) before any
 * signature is looked at, which is samlify's defence against XML wrapping tricks (on a worker
 * thread: see saml-xml-validator.ts).
 */
samlify.setSchemaValidator(xmlValidator);

const METADATA_TIMEOUT_MS = 10_000;
const MAX_METADATA_BYTES = 512 * 1024;
/** Tolerated clock difference with the IdP for NotBefore / NotOnOrAfter, in ms. */
const CLOCK_DRIFT_MS = 60_000;

const EMAIL_ATTRIBUTES = [
  'email',
  'mail',
  'emailaddress',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  'urn:oid:0.9.2342.19200300.100.1.3',
];
const NAME_ATTRIBUTES = [
  'name',
  'displayname',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  'urn:oid:2.16.840.1.113730.3.1.241',
];

export const samlConfigSchema = z.object({
  idpEntityId: z.string(),
  idpMetadata: z.string(),
  idpMetadataUrl: z.string().nullable(),
  spEntityId: z.string(),
  acsUrl: z.string(),
  attributeMapping: z.record(z.string(), z.string()),
  allowedRedirectUris: z.array(z.string()),
});
export type SamlConnectionConfig = z.infer<typeof samlConfigSchema>;

function invalidMetadata(message: string): AppError {
  return new AppError('VALIDATION_ERROR', `IdP metadata: ${message}`, {
    fields: [{ path: 'idpMetadata', message }],
  });
}

async function fetchMetadata(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(METADATA_TIMEOUT_MS), redirect: 'error' });
  } catch (error) {
    throw invalidMetadata(`could not fetch ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw invalidMetadata(`${url} answered HTTP ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_METADATA_BYTES) throw invalidMetadata(`${url} is larger than ${MAX_METADATA_BYTES} bytes`);
  return text;
}

function identityProvider(xml: string): samlify.IdentityProviderInstance {
  return samlify.IdentityProvider({ metadata: xml, wantAuthnRequestsSigned: false });
}

/** Loads and checks IdP metadata: an entity id, a redirect-binding SSO service, a signing certificate. */
export async function loadSamlIdpMetadata(source: {
  url: string | null;
  xml: string | null;
}): Promise<{ entityId: string; xml: string }> {
  const xml = source.xml ?? (await fetchMetadata(source.url!));
  let idp: samlify.IdentityProviderInstance;
  try {
    idp = identityProvider(xml);
  } catch (error) {
    throw invalidMetadata(`not valid SAML metadata (${(error as Error).message})`);
  }
  const entityId = idp.entityMeta.getEntityID();
  if (!entityId) throw invalidMetadata('no entityID');
  if (!idp.entityMeta.getSingleSignOnService(samlify.Constants.namespace.binding.redirect)) {
    throw invalidMetadata('no SingleSignOnService with the HTTP-Redirect binding');
  }
  const certs = idp.entityMeta.getX509Certificate('signing');
  if (!certs || (Array.isArray(certs) && certs.length === 0)) {
    throw invalidMetadata('no signing certificate: responses could not be verified');
  }
  return { entityId, xml };
}

function serviceProvider(config: SamlConnectionConfig): samlify.ServiceProviderInstance {
  return samlify.ServiceProvider({
    entityID: config.spEntityId,
    assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: config.acsUrl }],
    authnRequestsSigned: false,
    // Unsigned assertions are refused: samlify's POST flow verifies the message or assertion
    // signature against the IdP certificate from the stored metadata, whatever this says.
    wantAssertionsSigned: true,
    clockDrifts: [-CLOCK_DRIFT_MS, CLOCK_DRIFT_MS],
  });
}

export function buildSamlAuthnRequest(config: SamlConnectionConfig, state: string): { url: string; requestId: string } {
  const sp = serviceProvider(config);
  const idp = identityProvider(config.idpMetadata);
  const request = sp.createLoginRequest(idp, 'redirect', { relayState: state });
  return { url: request.context, requestId: request.id };
}

function firstValue(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return null;
}

/** An attribute by the admin's mapping first, then by the names IdPs commonly use. */
function attribute(
  attributes: Record<string, unknown>,
  mapped: string | undefined,
  fallbacks: string[],
): string | null {
  if (mapped) return firstValue(attributes[mapped]);
  const byLowerName = new Map(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of fallbacks) {
    const value = firstValue(byLowerName.get(name));
    if (value) return value;
  }
  return null;
}

interface LoginResponseExtract {
  issuer?: string;
  audience?: string | string[];
  nameID?: string;
  response?: { inResponseTo?: string; destination?: string };
  attributes?: Record<string, unknown>;
}

/**
 * Verifies a POSTed SAMLResponse: samlify checks the schema, the status, the signature (by the IdP
 * certificate from the stored metadata, never one inside the message), the issuer and the time
 * conditions; this adds the audience, the destination, and InResponseTo against our request.
 */
export async function verifySamlResponse(
  config: SamlConnectionConfig,
  message: { samlResponse: string; requestId: string },
): Promise<VerifiedIdentity> {
  const sp = serviceProvider(config);
  const idp = identityProvider(config.idpMetadata);
  let extract: LoginResponseExtract;
  try {
    const result = await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: message.samlResponse } });
    extract = result.extract as LoginResponseExtract;
  } catch (error) {
    throw new AppError(
      'UNAUTHORIZED',
      `SAML response refused: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const audiences = [extract.audience ?? []].flat();
  if (!audiences.includes(config.spEntityId)) {
    throw new AppError('UNAUTHORIZED', 'SAML response refused: the assertion is not for this service provider');
  }
  if (extract.response?.inResponseTo !== message.requestId) {
    throw new AppError('UNAUTHORIZED', 'SAML response refused: it does not answer this login request');
  }
  const destination = extract.response?.destination;
  if (destination && destination !== config.acsUrl) {
    throw new AppError('UNAUTHORIZED', 'SAML response refused: it was sent to another destination');
  }
  const subject = extract.nameID;
  if (!subject) throw new AppError('UNAUTHORIZED', 'SAML response refused: no NameID');
  const attributes = extract.attributes ?? {};
  const email =
    attribute(attributes, config.attributeMapping.email, EMAIL_ATTRIBUTES) ?? (subject.includes('@') ? subject : null);
  return {
    subject,
    email,
    // The assertion is signed by the IdP the tenant's admin chose to trust for this tenant.
    emailVerified: true,
    name: attribute(attributes, config.attributeMapping.name, NAME_ATTRIBUTES),
  };
}
