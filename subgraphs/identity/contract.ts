import { z } from 'zod';
import { storableJson, storableText } from '../../lib/storable-text.js';

/**
 * Identity's public contract: what the gateway may rely on without importing identity's
 * services — key formats, channel names, and the audit entries it records for every process. Data only; a change here is a change to the contract.
 */

/** Every tenantsdb key starts with this, so the gateway can tell a key from a JWT or the operator key without a lookup. */
export const API_KEY_PREFIX = 'tenantsdb_sk_';
/** 32 random bytes as 64 lowercase hex characters: 256 bits, so a plain SHA-256 of the key is a safe thing to store. */
export const API_KEY_PATTERN = /^tenantsdb_sk_[0-9a-f]{64}$/;

/**
 * Identity publishes every revoked key here (after the revocation committed), as JSON
 * `{ keyHash, keyId }`: every gateway drops the hash from its principal cache at once, whatever
 * instance served the delete, and ends the real-time sessions running as that key id (an event
 * stream runs as its creator's principal and never held the key itself).
 */
export const API_KEY_REVOKED_CHANNEL = 'identity:api-key-revoked';

/** The most key ids one `standingApiKeys` call answers for. */
export const STANDING_API_KEYS_MAX = 1_000;
export const apiKeyRevokedMessage = z.object({ keyHash: z.string(), keyId: z.string() });
export type ApiKeyRevokedMessage = z.infer<typeof apiKeyRevokedMessage>;

/** A message of API_KEY_REVOKED_CHANNEL, or null when it is not one. */
export function parseApiKeyRevoked(raw: string): ApiKeyRevokedMessage | null {
  try {
    const parsed = apiKeyRevokedMessage.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * One audit entry as the gateway hands it over (through the record-audit job). The id is made by
 * the producer, so a retried job writes the same rows again and the duplicates are skipped.
 * Only ids and codes travel here: never argument values, tokens or passwords.
 */
export const auditEntrySchema = z.object({
  id: z.string().min(1).max(64),
  tenantId: z.string().max(100).nullable(),
  projectId: z.string().max(100).nullable(),
  actorId: z.string().max(200).nullable(),
  actorKind: z.string().max(40).nullable(),
  action: z.string().min(1).max(120),
  resource: z.string().min(1).max(120),
  resourceId: z.string().max(200).nullable(),
  outcome: z.enum(['success', 'failure']),
  errorCode: z.string().max(60).nullable(),
  ip: z.string().max(100).nullable(),
  userAgent: z.string().max(1000).nullable(),
  requestId: z.string().max(128).nullable(),
  details: z.record(z.string(), z.unknown()),
  /** When the operation ran (not when the job got to it): ISO 8601, as job payloads are JSON. */
  createdAt: z.iso.datetime(),
});
export type AuditEntry = z.output<typeof auditEntrySchema>;

/** Lengths of the text fields above: sanitising caps to them, so a long value never fails the schema. */
const AUDIT_TEXT_LIMITS = {
  tenantId: 100,
  projectId: 100,
  actorId: 200,
  actorKind: 40,
  resourceId: 200,
  errorCode: 60,
  ip: 100,
  userAgent: 1000,
  requestId: 128,
} as const satisfies Partial<Record<keyof AuditEntry, number>>;

/**
 * An entry made safe to queue and store, whatever a caller put into the ids it carries: NUL bytes
 * and lone surrogates removed (PostgreSQL refuses them), every string capped to its column's limit,
 * details bounded. Applied by the producer and again by identity before writing, because one bad
 * entry must never cost its siblings their place in the trail.
 */
export function sanitizeAuditEntry(entry: AuditEntry): AuditEntry {
  const text = <K extends keyof typeof AUDIT_TEXT_LIMITS>(key: K): string | null => {
    const value = entry[key];
    return value === null || value === undefined ? null : storableText(String(value), AUDIT_TEXT_LIMITS[key]);
  };
  const details = storableJson(entry.details, { maxString: 200, maxDepth: 4, maxEntries: 50 });
  return {
    id: storableText(entry.id, 64),
    tenantId: text('tenantId'),
    projectId: text('projectId'),
    actorId: text('actorId'),
    actorKind: text('actorKind'),
    action: storableText(entry.action, 120) || 'unknown',
    resource: storableText(entry.resource, 120) || 'unknown',
    resourceId: text('resourceId'),
    outcome: entry.outcome === 'success' ? 'success' : 'failure',
    errorCode: text('errorCode'),
    ip: text('ip'),
    userAgent: text('userAgent'),
    requestId: text('requestId'),
    details:
      details !== null && typeof details === 'object' && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : {},
    createdAt: entry.createdAt,
  };
}

/** The job by which every process hands audit entries to identity (run by the worker). */
export const RECORD_AUDIT_JOB = 'identity.record-audit';
