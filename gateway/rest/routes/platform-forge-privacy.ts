import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge "Privacy Module": the signed-in user's consents and data-subject requests. The
// identity subgraph decides everything (who may, what is valid); these rows only map shapes.

const ConsentStatusFields = graphql(`
  fragment ConsentStatusFields on ConsentStatus {
    analytics
    marketing
    necessary
    preferences
    updatedAt
  }
`);

const consentStatusResponse = z.object({
  consents: z.object({
    analytics: z.boolean(),
    marketing: z.boolean(),
    necessary: z.boolean().describe('Always true'),
    preferences: z.boolean(),
  }),
  updated_at: isoTimestamp.nullable().describe('Null until the user makes a first choice'),
});

function toConsentPayload(status: ResultOf<typeof ConsentStatusFields>) {
  return {
    consents: {
      analytics: status.analytics,
      marketing: status.marketing,
      necessary: status.necessary,
      preferences: status.preferences,
    },
    updated_at: status.updatedAt,
  };
}

const consentStatus = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/privacy/consent/status',
  summary: "The signed-in user's consent status",
  operation: graphql(
    `
      query ConsentStatus {
        consentStatus {
          ...ConsentStatusFields
        }
      }
    `,
    [ConsentStatusFields],
  ),
  respond: (data) => toConsentPayload(data.consentStatus),
  response: consentStatusResponse,
});

const consentUpdateBody = z.object({
  // Strict: an unknown category is a VALIDATION_ERROR naming it, never silently stored or dropped.
  consents: z
    .object({
      analytics: z.boolean().optional(),
      marketing: z.boolean().optional(),
      necessary: z.boolean().optional(),
      preferences: z.boolean().optional(),
    })
    .strict(),
  consent_version: z.string().min(1).max(32),
});

const consentUpdate = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/privacy/consent/update',
  summary: 'Change consent choices; answers the new status',
  operation: graphql(
    `
      mutation UpdateConsent($input: UpdateConsentInput!) {
        updateConsent(input: $input) {
          ...ConsentStatusFields
        }
      }
    `,
    [ConsentStatusFields],
  ),
  input: { body: consentUpdateBody },
  variables: ({ body }) => ({ input: { consents: body.consents, consentVersion: body.consent_version } }),
  respond: (data) => toConsentPayload(data.updateConsent),
  response: consentStatusResponse,
});

const DataRequestFields = graphql(`
  fragment DataRequestFields on DataRequest {
    id
    status
    estimatedCompletion
  }
`);

const dataRequestResponse = z.object({
  request_id: z.string(),
  status: z.enum(['processing', 'completed', 'failed']),
  estimated_completion: isoTimestamp,
});

function toDataRequestPayload(request: ResultOf<typeof DataRequestFields>) {
  return {
    request_id: request.id,
    status: request.status as z.infer<typeof dataRequestResponse>['status'],
    estimated_completion: request.estimatedCompletion,
  };
}

const requestExport = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/privacy/data-requests/export',
  summary:
    'Start an export of all data held about the signed-in user; follow it with the dataRequest GraphQL query, which also delivers the archive',
  operation: graphql(
    `
      mutation RequestDataExport {
        requestDataExport {
          ...DataRequestFields
        }
      }
    `,
    [DataRequestFields],
  ),
  respond: (data) => toDataRequestPayload(data.requestDataExport),
  // Accepted, not done: the archive is built by a job.
  status: 202,
  response: dataRequestResponse,
});

const requestDeletion = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/privacy/data-requests/delete',
  summary: "Delete the signed-in user's account and data; access ends at once, erasure runs as a job",
  operation: graphql(
    `
      mutation RequestDataDeletion($input: RequestDataDeletionInput!) {
        requestDataDeletion(input: $input) {
          ...DataRequestFields
        }
      }
    `,
    [DataRequestFields],
  ),
  input: {
    body: z.object({
      reason: z.string().max(1000).optional(),
      // Literally true: anything else is a VALIDATION_ERROR and nothing is recorded.
      confirm: z.literal(true, { error: 'confirm must be true to delete the account and its data' }),
    }),
  },
  variables: ({ body }) => ({ input: { reason: body.reason ?? null, confirm: body.confirm } }),
  // The documented answer shows no body; the export's shape tells the caller what to follow.
  respond: (data) => toDataRequestPayload(data.requestDataDeletion),
  status: 202,
  response: dataRequestResponse,
});

export const platformForgePrivacyRoutes: RestRoute[] = [consentStatus, consentUpdate, requestExport, requestDeletion];
