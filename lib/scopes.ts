/**
 * Every scope the platform knows. The Nexus permission table names the first ones; each
 * subgraph checks the scopes for the data it owns.
 */
export const SCOPES = [
  'read:system',
  'read:metrics',
  'admin:config',
  'admin:services',
  'write:cache',
  'admin:backup',
  'admin:security',
  'read:tenants',
  'write:tenants',
  'read:users',
  'write:users',
  'read:billing',
  'write:billing',
  'read:telemetry',
  'write:telemetry',
  'read:edge',
  'write:edge',
] as const;

export type Scope = (typeof SCOPES)[number];
