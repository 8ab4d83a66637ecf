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
  'read:storage',
  'write:storage',
  'read:secrets',
  'write:secrets',
] as const;

export type Scope = (typeof SCOPES)[number];

/** Scopes about the platform itself (Nexus permission table): operator-only unless granted to a key by the operator. */
export const SYSTEM_SCOPES = [
  'read:system',
  'read:metrics',
  'admin:config',
  'admin:services',
  'write:cache',
  'admin:backup',
  'admin:security',
] as const satisfies readonly Scope[];

/** Scopes about a project's own tenants and their data: what a project owner or its keys may hold. */
export const PROJECT_SCOPES = [
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
  'read:storage',
  'write:storage',
  'read:secrets',
  'write:secrets',
] as const satisfies readonly Scope[];

/**
 * What each user role may do, always inside the user's own tenant (the subgraph enforces the
 * tenant from the principal). Unknown roles grant nothing.
 */
export const ROLE_SCOPES: Readonly<Record<string, readonly Scope[]>> = {
  owner: PROJECT_SCOPES,
  admin: [...PROJECT_SCOPES, 'admin:security'],
  user: ['read:tenants', 'read:telemetry', 'write:telemetry', 'read:edge', 'read:storage', 'write:storage'],
  viewer: ['read:tenants', 'read:telemetry', 'read:edge', 'read:storage'],
};

export function scopesForRoles(roles: readonly string[]): Scope[] {
  return [...new Set(roles.flatMap((role) => ROLE_SCOPES[role] ?? []))];
}
