import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp, paginationSchema } from '../schemas.js';

// platform-forge's Admin module: the audit log and user management. The document shows no
// bodies for the user endpoints; these follow the rest of platform-forge: snake_case JSON, the
// changed user back as `{user}`, lists as `{<items>, pagination}` like the audit log's.

const pagination = paginationSchema;

const page = z.coerce.number().int().optional();

/** ISO 8601 instant, or a calendar date (an end date then covers that whole day). */
const isoDateOrInstant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);
const startOfDay = (value: string) => (value.length === 10 ? `${value}T00:00:00.000Z` : value);
const endOfDay = (value: string) => (value.length === 10 ? `${value}T23:59:59.999Z` : value);

const auditLogs = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/admin/audit-logs',
  summary: "The audit trail of the caller's tenant (admin:security)",
  operation: graphql(`
    query AuditLogs($userId: ID, $action: String, $startDate: DateTime, $endDate: DateTime, $page: Int, $limit: Int) {
      auditLogs(
        userId: $userId
        action: $action
        startDate: $startDate
        endDate: $endDate
        page: $page
        limit: $limit
      ) {
        logs {
          id
          actorId
          actorKind
          tenantId
          action
          resource
          resourceId
          outcome
          errorCode
          ip
          userAgent
          requestId
          createdAt
        }
        pagination {
          page
          limit
          total
          pages
        }
      }
    }
  `),
  input: {
    query: z.object({
      page,
      limit: page,
      user_id: z.string().min(1).max(200).optional(),
      action: z.string().min(1).max(120).optional(),
      start_date: isoDateOrInstant.optional(),
      end_date: isoDateOrInstant.optional(),
    }),
  },
  variables: ({ query }) => ({
    userId: query.user_id ?? null,
    action: query.action ?? null,
    startDate: query.start_date ? startOfDay(query.start_date) : null,
    endDate: query.end_date ? endOfDay(query.end_date) : null,
    page: query.page ?? null,
    limit: query.limit ?? null,
  }),
  rateLimit: 'platform-forge.admin',
  // The documented fields, as documented; what else an entry knows (outcome, error code, the
  // resource's id, the request id) travels in `details` beside ip and user_agent.
  respond: ({ auditLogs: result }) => ({
    logs: result.logs.map((log) => ({
      id: log.id,
      user_id: log.actorId,
      action: log.action,
      resource: log.resource,
      details: {
        ip: log.ip,
        user_agent: log.userAgent,
        outcome: log.outcome,
        error_code: log.errorCode,
        resource_id: log.resourceId,
        actor_type: log.actorKind,
        tenant_id: log.tenantId,
        request_id: log.requestId,
      },
      timestamp: log.createdAt,
    })),
    pagination: result.pagination,
  }),
  response: z.object({
    logs: z.array(
      z.object({
        id: z.string(),
        user_id: z
          .string()
          .nullable()
          .describe('The actor: a user, an API key or the operator (see details.actor_type)'),
        action: z.string().describe('e.g. user.login, tenant.create'),
        resource: z.string(),
        details: z.object({
          ip: z.string().nullable(),
          user_agent: z.string().nullable(),
          outcome: z.enum(['success', 'failure']),
          error_code: z.string().nullable(),
          resource_id: z.string().nullable(),
          actor_type: z.string().nullable().describe('user, api_key, operator or service'),
          tenant_id: z.string().nullable(),
          request_id: z.string().nullable(),
        }),
        timestamp: isoTimestamp,
      }),
    ),
    pagination,
  }),
});

const UserFields = graphql(`
  fragment UserFields on User {
    id
    email
    name
    tenantId
    roles
    status
    createdAt
    updatedAt
    lastLoginAt
    deletedAt
  }
`);

function toUser(user: ResultOf<typeof UserFields>) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    tenant_id: user.tenantId,
    roles: user.roles,
    status: user.status,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    last_login_at: user.lastLoginAt,
    deleted_at: user.deletedAt,
  };
}

const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  tenant_id: z.string().nullable(),
  roles: z.array(z.string()),
  status: z.enum(['active', 'suspended', 'deleted']),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
  last_login_at: isoTimestamp.nullable(),
  deleted_at: isoTimestamp.nullable(),
});

const userIdParams = z.object({ user_id: z.string().min(1).max(100) });

const listUsers = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/admin/users',
  summary: "The tenant's users, newest first (read:users)",
  operation: graphql(
    `
      query AdminUsers($page: Int, $limit: Int, $status: String, $role: String, $search: String) {
        users(page: $page, limit: $limit, status: $status, role: $role, search: $search) {
          users {
            ...UserFields
          }
          pagination {
            page
            limit
            total
            pages
          }
        }
      }
    `,
    [UserFields],
  ),
  input: {
    query: z.object({
      page,
      limit: page,
      status: z.enum(['active', 'suspended', 'deleted']).optional(),
      role: z.string().min(1).max(40).optional(),
      search: z.string().min(1).max(320).optional().describe('Part of the email or name'),
    }),
  },
  variables: ({ query }) => ({
    page: query.page ?? null,
    limit: query.limit ?? null,
    status: query.status ?? null,
    role: query.role ?? null,
    search: query.search ?? null,
  }),
  rateLimit: 'platform-forge.admin',
  respond: ({ users: result }) => ({
    users: result.users.map(toUser),
    pagination: result.pagination,
  }),
  response: z.object({ users: z.array(userSchema), pagination }),
});

const updateUser = defineRoute({
  dialect: 'platform-forge',
  method: 'PUT',
  path: '/api/v1/admin/users/{user_id}',
  summary: 'Change a user’s name, email or roles (write:users; only roles you hold)',
  operation: graphql(
    `
      mutation AdminUpdateUser($id: ID!, $input: UpdateUserInput!) {
        updateUser(id: $id, input: $input) {
          ...UserFields
        }
      }
    `,
    [UserFields],
  ),
  input: {
    params: userIdParams,
    // Strict: a field this endpoint does not change (status, password) is refused, not ignored.
    body: z
      .object({
        name: z.string().optional(),
        email: z.string().optional(),
        roles: z.array(z.string()).optional().describe('The complete new set of roles'),
      })
      .strict(),
  },
  variables: ({ params, body }) => ({
    id: params.user_id,
    input: { name: body.name ?? null, email: body.email ?? null, roles: body.roles ?? null },
  }),
  rateLimit: 'platform-forge.admin',
  respond: ({ updateUser: user }) => ({ user: toUser(user) }),
  response: z.object({ user: userSchema }),
});

const USER_ACTIONS = {
  deleteUser: graphql(
    `
      mutation AdminDeleteUser($id: ID!) {
        user: deleteUser(id: $id) {
          ...UserFields
        }
      }
    `,
    [UserFields],
  ),
  suspendUser: graphql(
    `
      mutation AdminSuspendUser($id: ID!) {
        user: suspendUser(id: $id) {
          ...UserFields
        }
      }
    `,
    [UserFields],
  ),
  activateUser: graphql(
    `
      mutation AdminActivateUser($id: ID!) {
        user: activateUser(id: $id) {
          ...UserFields
        }
      }
    `,
    [UserFields],
  ),
};

function userAction(options: {
  method: 'POST' | 'DELETE';
  path: string;
  field: keyof typeof USER_ACTIONS;
  summary: string;
}) {
  return defineRoute({
    dialect: 'platform-forge',
    method: options.method,
    path: options.path,
    summary: options.summary,
    operation: USER_ACTIONS[options.field],
    input: { params: userIdParams },
    variables: ({ params }) => ({ id: params.user_id }),
    rateLimit: 'platform-forge.admin',
    respond: ({ user }) => ({ user: toUser(user) }),
    response: z.object({ user: userSchema }),
  });
}

const deleteUser = userAction({
  method: 'DELETE',
  path: '/api/v1/admin/users/{user_id}',
  field: 'deleteUser',
  summary: 'Delete a user (soft: sessions end at once, the email is freed; write:users)',
});

const suspendUser = userAction({
  method: 'POST',
  path: '/api/v1/admin/users/{user_id}/suspend',
  field: 'suspendUser',
  summary: 'Suspend a user: every session ends at once (write:users)',
});

const activateUser = userAction({
  method: 'POST',
  path: '/api/v1/admin/users/{user_id}/activate',
  field: 'activateUser',
  summary: 'Lift a suspension or a sign-in lockout (write:users)',
});

export const platformForgeAdminRoutes: RestRoute[] = [
  auditLogs,
  listUsers,
  updateUser,
  deleteUser,
  suspendUser,
  activateUser,
];
