import type { PrivacyHook } from '../lib/subgraph/privacy.js';
import { identityPrivacyHook } from './identity/privacy.js';
import { telemetryPrivacyHook } from './telemetry/privacy.js';

/**
 * Every subgraph that holds data about a person, for export and erasure requests. Not listed,
 * because their models hold no per-user data: platform (incidents, maintenance windows), tenancy
 * (tenants), billing (plans), edge (devices, which belong to a tenant, not a person). A subgraph
 * that starts storing user data adds its `privacy.ts` here.
 */
export const PRIVACY_HOOKS: readonly PrivacyHook[] = [identityPrivacyHook, telemetryPrivacyHook];
