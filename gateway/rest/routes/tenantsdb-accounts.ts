import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb accounts, projects and API keys (identity). The document shows requests and the list
// answers; answers it leaves out (create, delete) follow the same style: the created object's
// fields beside `success`, snake_case.

const apiKeyPattern = z.string().regex(/^tenantsdb_sk_[0-9a-f]{64}$/);

const signup = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/signup',
  summary: 'Create an account, its first project and that project’s first API key',
  // Anonymous and password-bearing: the same tight per-address limit as the other sign-in routes.
  rateLimit: 'platform-forge.auth',
  status: 201,
  input: {
    body: z.object({
      email: z.string().min(1),
      password: z.string().min(1),
      project_name: z.string().min(1),
    }),
  },
  operation: graphql(`
    mutation TenantsdbSignup($input: SignupAccountInput!) {
      signupAccount(input: $input) {
        apiKey
        projectId
      }
    }
  `),
  variables: ({ body }) => ({
    input: { email: body.email, password: body.password, projectName: body.project_name },
  }),
  respond: ({ signupAccount }) => ({
    api_key: signupAccount.apiKey,
    project_id: signupAccount.projectId,
  }),
  response: z.object({
    api_key: apiKeyPattern.describe('The full key: shown this once'),
    project_id: z.string(),
  }),
});

const login = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/login',
  summary: 'Log in: every project of the account with a fresh login-session key (valid 24 hours)',
  rateLimit: 'platform-forge.auth',
  input: { body: z.object({ email: z.string().min(1), password: z.string().min(1) }) },
  operation: graphql(`
    mutation TenantsdbLogin($input: LoginAccountInput!) {
      loginAccount(input: $input) {
        projectId
        name
        apiKey
        expiresAt
      }
    }
  `),
  variables: ({ body }) => ({ input: { email: body.email, password: body.password } }),
  respond: ({ loginAccount }) => ({
    projects: loginAccount.map((p) => ({
      project_id: p.projectId,
      name: p.name,
      api_key: p.apiKey,
      expires_at: p.expiresAt,
    })),
  }),
  response: z.object({
    projects: z.array(
      z.object({
        project_id: z.string(),
        name: z.string(),
        api_key: apiKeyPattern.describe(
          'A new "login session" key, shown once: keys are stored only as hashes, so each login mints one',
        ),
        expires_at: isoTimestamp.describe('When this session key stops working (24 hours)'),
      }),
    ),
  }),
});

const ProjectFields = graphql(`
  fragment ProjectFields on Project {
    id
    name
    apiKeyCount
    createdAt
  }
`);

function toProject(p: ResultOf<typeof ProjectFields>) {
  return { project_id: p.id, name: p.name, api_key_count: p.apiKeyCount, created_at: p.createdAt };
}

const projectSchema = z.object({
  project_id: z.string(),
  name: z.string(),
  api_key_count: z.number().int().describe('Keys that work now: not deleted, not expired'),
  created_at: isoTimestamp,
});

const listProjects = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/projects',
  summary: 'List the account’s projects',
  operation: graphql(
    `
      query TenantsdbProjects {
        projects {
          ...ProjectFields
        }
      }
    `,
    [ProjectFields],
  ),
  respond: ({ projects }) => ({
    count: projects.length,
    projects: projects.map(toProject),
  }),
  response: z.object({ count: z.number().int(), projects: z.array(projectSchema) }),
});

const createProject = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/projects',
  summary: 'Create a project, with a first API key',
  status: 201,
  input: { body: z.object({ name: z.string().min(1) }) },
  operation: graphql(
    `
      mutation TenantsdbCreateProject($name: String!) {
        createProject(name: $name) {
          project {
            ...ProjectFields
          }
          apiKey
        }
      }
    `,
    [ProjectFields],
  ),
  variables: ({ body }) => ({ name: body.name }),
  respond: ({ createProject: created }) => ({
    ...toProject(created.project),
    api_key: created.apiKey,
  }),
  response: projectSchema.extend({
    api_key: apiKeyPattern.describe('The project’s first key ("Default"), shown this once'),
  }),
});

const deleteProject = defineRoute({
  dialect: 'tenantsdb',
  method: 'DELETE',
  path: '/projects/{id}',
  summary: 'Delete a project and revoke its API keys',
  input: { params: z.object({ id: z.string().min(1).max(64) }) },
  operation: graphql(`
    mutation TenantsdbDeleteProject($id: ID!) {
      deleteProject(id: $id) {
        id
        name
      }
    }
  `),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ deleteProject: project }) => ({
    project_id: project.id,
    message: `Project '${project.name}' deleted`,
  }),
  response: z.object({ project_id: z.string(), message: z.string() }),
});

const ApiKeyFields = graphql(`
  fragment ApiKeyFields on ApiKey {
    id
    projectId
    name
    maskedKey
    scopes
    tier
    isActive
    expiresAt
    lastUsedAt
    createdAt
  }
`);

interface ApiKeyPayload {
  id: number;
  key: string;
  project_id: string;
  project_name: string;
  tier: string;
  is_active: boolean;
  scopes: string[];
  created_at: string;
  last_used_at?: string;
  expires_at?: string;
}

/**
 * The document's `project_name` on a key is the key's own name ("CI Pipeline", "Default" on one
 * project), which is what POST /apikeys {project_name} sets. Timestamps that are unset are left
 * out, as the document leaves out `last_used_at` on a key never used.
 */
function toApiKey(k: ResultOf<typeof ApiKeyFields>, key: string): ApiKeyPayload {
  return {
    id: k.id,
    key,
    project_id: k.projectId,
    project_name: k.name,
    tier: k.tier,
    is_active: k.isActive,
    scopes: k.scopes,
    created_at: k.createdAt,
    ...(k.lastUsedAt === null ? {} : { last_used_at: k.lastUsedAt }),
    ...(k.expiresAt === null ? {} : { expires_at: k.expiresAt }),
  };
}

const apiKeySchema = z.object({
  id: z.number().int(),
  key: z.string(),
  project_id: z.string(),
  project_name: z.string().describe('The key’s name'),
  tier: z.string(),
  is_active: z.boolean().describe('Not expired (deleted keys are not listed)'),
  scopes: z.array(z.string()),
  created_at: isoTimestamp,
  last_used_at: isoTimestamp
    .optional()
    .describe('Absent until first used; updated at most once a minute (gateways cache a key that long)'),
  expires_at: isoTimestamp.optional().describe('Only on login-session keys'),
});

const listApiKeys = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/apikeys',
  summary: 'List the account’s API keys, masked',
  operation: graphql(
    `
      query TenantsdbApiKeys {
        apiKeys {
          ...ApiKeyFields
        }
      }
    `,
    [ApiKeyFields],
  ),
  respond: ({ apiKeys }) => ({
    count: apiKeys.length,
    api_keys: apiKeys.map((k) => toApiKey(k, k.maskedKey)),
  }),
  response: z.object({
    count: z.number().int(),
    api_keys: z.array(apiKeySchema.extend({ key: z.string().describe('Masked: tenantsdb_sk_3cc0…d501') })),
  }),
});

const createApiKey = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/apikeys',
  summary: 'Generate a new API key for the caller’s project',
  status: 201,
  input: {
    body: z.object({
      project_name: z.string().min(1).describe('The new key’s name'),
      project_id: z.string().min(1).optional().describe("Which project; default: the calling key's"),
      scopes: z.array(z.string()).optional().describe("Narrower than the caller's own; default: the caller's"),
    }),
  },
  operation: graphql(
    `
      mutation TenantsdbCreateApiKey($projectId: ID, $name: String!, $scopes: [String!]) {
        createApiKey(projectId: $projectId, name: $name, scopes: $scopes) {
          key
          apiKey {
            ...ApiKeyFields
          }
        }
      }
    `,
    [ApiKeyFields],
  ),
  variables: ({ body }) => ({
    projectId: body.project_id ?? null,
    name: body.project_name,
    scopes: body.scopes ?? null,
  }),
  respond: ({ createApiKey: created }) => toApiKey(created.apiKey, created.key),
  response: apiKeySchema.extend({ key: apiKeyPattern.describe('The full key: shown this once') }),
});

const deleteApiKey = defineRoute({
  dialect: 'tenantsdb',
  method: 'DELETE',
  path: '/apikeys/{id}',
  summary: 'Delete (revoke) an API key; it stops working at once',
  input: { params: z.object({ id: z.coerce.number().int().positive().max(2_147_483_647) }) },
  operation: graphql(`
    mutation TenantsdbDeleteApiKey($id: Int!) {
      deleteApiKey(id: $id) {
        id
      }
    }
  `),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ deleteApiKey: key }) => ({
    id: key.id,
    message: `API key ${key.id} deleted`,
  }),
  response: z.object({ id: z.number().int(), message: z.string() }),
});

export const tenantsdbAccountRoutes = [
  signup,
  login,
  listProjects,
  createProject,
  deleteProject,
  listApiKeys,
  createApiKey,
  deleteApiKey,
];
