import { expect } from 'vitest';
import { uniqueSlug, type TestPlatform } from './platform.js';

// Tenants and their signed-in admins, made the way a client makes them, for the suites that
// need "tenant A's key" (tenant SQL, its escape attempts).

export interface TenantInfo {
  id: string;
  slug: string;
  schemaName: string;
}

/** A tenant created through GraphQL by `token` (a key with write:tenants). */
export async function createTenant(
  t: TestPlatform,
  token: string,
  headers: Record<string, string>,
  prefix = 't',
): Promise<TenantInfo> {
  const slug = uniqueSlug(prefix);
  const { body } = await t.graphql<{ createTenant: TenantInfo }>(
    `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id slug schemaName } }`,
    { input: { name: `Tenant ${slug}`, slug } },
    { token, headers },
  );
  expect(body.errors).toBeUndefined();
  return body.data!.createTenant;
}

/**
 * A user of the tenant registered, promoted to admin by the operator and signed in: an access
 * token bound to that tenant with write:tenants.
 */
export async function signInTenantAdmin(
  t: TestPlatform,
  tenantId: string,
  { password, headers }: { password: string; headers: Record<string, string> },
): Promise<string> {
  const email = `${uniqueSlug('adm')}@example.com`;
  const reg = await t.graphql<{ register: { user: { id: string } } }>(
    `mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
      register(email: $email, password: $password, name: $name, tenantId: $tenantId) { user { id } }
    }`,
    { email, password, name: 'Tenant Admin', tenantId },
    { headers },
  );
  expect(reg.body.errors).toBeUndefined();
  const promoted = await t.rest(`/api/v1/admin/users/${reg.body.data!.register.user.id}`, {
    method: 'PUT',
    body: { roles: ['admin'] },
    headers,
  });
  expect(promoted.status).toBe(200);
  // The role change revoked the user's earlier tokens (to the millisecond): sign in right away.
  const login = await t.graphql<{ login: { accessToken: string } }>(
    `mutation ($email: String!, $password: String!, $tenantId: ID) {
      login(email: $email, password: $password, tenantId: $tenantId) { accessToken }
    }`,
    { email, password, tenantId },
    { token: null, headers },
  );
  expect(login.body.errors).toBeUndefined();
  return login.body.data!.login.accessToken;
}

export const TEST_PASSWORD = 'correct horse battery 42';

/** A tenantsdb account made as its document shows (POST /signup, no credential): its API key and project. */
export async function signUp(
  t: TestPlatform,
  prefix = 'acct',
): Promise<{ apiKey: string; projectId: string; email: string }> {
  const email = `${uniqueSlug(prefix)}@example.com`;
  const answer = await t.rest('/signup', {
    method: 'POST',
    token: null,
    body: { email, password: TEST_PASSWORD, project_name: uniqueSlug('P') },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return { apiKey: answer.body.api_key as string, projectId: answer.body.project_id as string, email };
}
