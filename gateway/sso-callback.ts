import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, appErrorFromGraphQL } from '../lib/errors.js';
import { readBody } from '../lib/http/body.js';
import type { ClientInfo } from '../lib/principal.js';
import { getDialect } from './rest/dialects.js';
import { graphql, type ResultOf } from './rest/graphql.js';
import type { ExecuteArgs, ExecuteResult } from './rest/handler.js';
import type { RequestPipeline } from './pipeline/index.js';

/**
 * Where identity providers send the browser back after an SSO login. No spec documents these
 * paths (the IdP is configured with them), so they live outside the REST route table, which holds
 * documented endpoints only. Each runs one identity mutation that verifies the IdP's answer and
 * issues a session, then sends the browser on to the client with the tokens.
 */
export const SSO_CALLBACK_PATHS = {
  oidc: '/api/v1/sso/callback/oidc',
  saml: '/api/v1/sso/callback/saml',
} as const;

const SignInFields = graphql(`
  fragment SignInFields on SsoSignIn {
    accessToken
    refreshToken
    tokenType
    expiresIn
    userId
    tenantId
    email
    provisioned
    redirectTo
  }
`);

const OIDC_OPERATION = graphql(
  `
    mutation CompleteOidcLogin($callbackQuery: String!) {
      completeOidcLogin(callbackQuery: $callbackQuery) {
        ...SignInFields
      }
    }
  `,
  [SignInFields],
);

const SAML_OPERATION = graphql(
  `
    mutation CompleteSamlLogin($samlResponse: String!, $relayState: String!) {
      completeSamlLogin(samlResponse: $samlResponse, relayState: $relayState) {
        ...SignInFields
      }
    }
  `,
  [SignInFields],
);

type SignInData = ResultOf<typeof SignInFields>;

export interface SsoCallbackOptions {
  execute: (args: ExecuteArgs) => Promise<ExecuteResult>;
  pipeline: RequestPipeline;
}

export type SsoCallbackHandler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

export function isSsoCallbackPath(pathname: string): boolean {
  return pathname === SSO_CALLBACK_PATHS.oidc || pathname === SSO_CALLBACK_PATHS.saml;
}

const FORM_TYPE = 'application/x-www-form-urlencoded';

async function readSamlForm(req: IncomingMessage): Promise<{ samlResponse: string; relayState: string }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== FORM_TYPE) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `The SAML POST binding sends ${FORM_TYPE}, got ${type || 'nothing'}`);
  }
  const form = new URLSearchParams(await readBody(req));
  const samlResponse = form.get('SAMLResponse');
  const relayState = form.get('RelayState');
  if (!samlResponse) throw new AppError('VALIDATION_ERROR', 'SAMLResponse is missing');
  // IdP-initiated logins carry no RelayState of ours; without it there is no request to tie the
  // response to (InResponseTo), so they are refused rather than trusted.
  if (!relayState)
    throw new AppError('VALIDATION_ERROR', 'RelayState is missing: only logins started here are accepted');
  return { samlResponse, relayState };
}

/** Tokens in the response: nothing on the way may keep a copy or pass the URL on. */
function setPrivateHeaders(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

export function createSsoCallbackHandler(options: SsoCallbackOptions): SsoCallbackHandler {
  const { execute, pipeline } = options;
  const { logger } = pipeline;
  const dialect = getDialect('platform-forge');

  async function complete(
    req: IncomingMessage,
    pathname: string,
    requestId: string,
    client: ClientInfo,
  ): Promise<SignInData> {
    const method = (req.method ?? 'GET').toUpperCase();
    // The OIDC callback is a GET (query response mode); SAML's POST binding is a form POST.
    const expected = pathname === SSO_CALLBACK_PATHS.oidc ? 'GET' : 'POST';
    if (method !== expected) {
      throw new AppError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`, {
        allowed_methods: [expected],
      });
    }
    const [document, variables] =
      pathname === SSO_CALLBACK_PATHS.oidc
        ? [OIDC_OPERATION, { callbackQuery: new URL(`http://localhost${req.url ?? '/'}`).search.slice(1) }]
        : [SAML_OPERATION, await readSamlForm(req)];
    // Anonymous: who the user is comes from the IdP's verified answer, never from a credential here.
    const result = await execute({ document, variables, principal: null, requestId, client });
    const error = result.errors?.[0];
    if (error) {
      const appError = appErrorFromGraphQL(error);
      if (appError.status >= 500) logger.error({ requestId, errors: result.errors }, 'SSO callback failed');
      throw appError;
    }
    // One of the two operations ran: its result is the one of the two fields that is present.
    const data = (result.data ?? {}) as Partial<ResultOf<typeof OIDC_OPERATION> & ResultOf<typeof SAML_OPERATION>>;
    const signIn = data.completeOidcLogin ?? data.completeSamlLogin;
    if (!signIn) throw new Error('SSO callback operation returned no data and no errors');
    return signIn;
  }

  return async (req, res, requestId) => {
    const now = new Date();
    const { pathname } = new URL(`http://localhost${req.url ?? '/'}`);
    setPrivateHeaders(res);
    try {
      // A callback is a login attempt: it spends the sign-in allowance (platform-forge.auth).
      const { client } = await pipeline.admit(req, res, { requestId, policy: 'platform-forge.auth', anonymous: true });
      const signIn = await complete(req, pathname, requestId, client);
      if (signIn.redirectTo) {
        // Tokens travel in the fragment, which browsers never send to a server: they stay out of
        // the client's access logs, proxies and Referer headers, and only its page script reads them.
        res.statusCode = 302;
        res.setHeader('Location', signIn.redirectTo);
        res.setHeader('Content-Length', 0);
        res.end();
        return;
      }
      sendJson(
        res,
        200,
        dialect.success(
          {
            access_token: signIn.accessToken,
            refresh_token: signIn.refreshToken,
            token_type: signIn.tokenType,
            expires_in: signIn.expiresIn,
            user: { id: signIn.userId, email: signIn.email, tenant_id: signIn.tenantId },
            provisioned: signIn.provisioned,
          },
          { requestId, now },
        ),
      );
    } catch (error) {
      const appError =
        error instanceof AppError
          ? error
          : (logger.error({ err: error, requestId }, 'unexpected error in SSO callback'),
            new AppError('INTERNAL_ERROR', 'Internal server error'));
      if (appError.code === 'METHOD_NOT_ALLOWED') {
        res.setHeader('Allow', pathname === SSO_CALLBACK_PATHS.oidc ? 'GET' : 'POST');
      }
      sendJson(res, appError.status, dialect.error(appError, { requestId, now }));
    }
  };
}
