import type { IncomingHttpHeaders } from 'node:http';
import { decodeJwt } from 'jose';
import { USER_REVOKED_CHANNEL } from '../../lib/access-token.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import { sha256Hex } from '../../lib/secrets.js';
import {
  API_KEY_REVOKED_CHANNEL,
  parseApiKeyRevoked,
  STANDING_API_KEYS_MAX,
} from '../../subgraphs/identity/contract.js';
import {
  REFUSED_TENANT_STATUSES,
  TENANT_STATUS_CHANNEL,
  tenantStatusMessage,
} from '../../subgraphs/tenancy/contract.js';
import { readCredential, type Authenticate } from '../pipeline/authenticate.js';

/**
 * Who is connected for real time (one graphql-ws socket or one SSE request is one session), the
 * limits on how much each may hold open, and the reasons a session is ended by the platform.
 * The credential is checked once, at connection time, with the gateway's own authenticator;
 * afterwards the session is ended when that credential stops being valid: its token expires,
 * the key or the user's sessions are revoked, the tenant is suspended, or the schema reloads.
 */

/** Close codes (WebSocket close frames; SSE ends with an error carrying the same code name). */
export const CLOSE_REASONS = {
  UNAUTHORIZED: { code: 4401, reason: 'Unauthorized' },
  TOKEN_EXPIRED: { code: 4401, reason: 'Token expired' },
  SESSION_REVOKED: { code: 4401, reason: 'Session revoked' },
  KEY_REVOKED: { code: 4403, reason: 'API key revoked' },
  TENANT_SUSPENDED: { code: 4403, reason: 'Tenant suspended' },
  // 1012 (service restart): clients reconnect and resubscribe against the new schema.
  SCHEMA_RELOADED: { code: 1012, reason: 'Schema reloaded' },
  SHUTDOWN: { code: 1001, reason: 'Server shutting down' },
} as const;
export type CloseReason = keyof typeof CLOSE_REASONS;

export interface SubscriptionLimits {
  maxPerConnection: number;
  maxPerPrincipal: number;
  /** Ping interval for graphql-ws sockets; a socket that has not answered the last ping is dropped. */
  keepAliveMs: number;
  /** API key sessions are re-checked this often (key expiry has no announcement). */
  recheckMs: number;
  /** cloudpioneer event streams: ping interval, and how long a pong may take before the close. */
  streamPingMs: number;
  streamPongTimeoutMs: number;
  /**
   * Identical subscriptions (same document, variables and principal) share one resolution per
   * event. false only to measure the difference (npm run bench:subscriptions runs both).
   */
  shareIdentical: boolean;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = {
  maxPerConnection: 25,
  maxPerPrincipal: 200,
  keepAliveMs: 12_000,
  recheckMs: 60_000,
  streamPingMs: 30_000,
  streamPongTimeoutMs: 10_000,
  shareIdentical: true,
};

export interface Session {
  id: string;
  principal: Principal;
  /** stream: a cloudpioneer event stream (its creator's principal, claimed with the stream token). */
  transport: 'ws' | 'sse' | 'stream';
  /** sha256 of the credential: what API key revocations name. Never the credential itself. */
  credentialHash: string;
  /**
   * The tenant whose data the session receives: the principal's own, or for an event stream run as
   * a project's key, the tenant the stream watches. Its suspension ends the session.
   */
  tenantId: string | null;
  headers: IncomingHttpHeaders;
  subscriptions: Set<string>;
  /** Ends the session for a reason; idempotent. */
  end(reason: CloseReason): void;
}

export interface SessionRegistry {
  /** Authenticates and registers a session; throws AppError (UNAUTHORIZED, TENANT_SUSPENDED...). */
  open(args: {
    headers: IncomingHttpHeaders;
    transport: Session['transport'];
    end: (reason: CloseReason) => void;
  }): Promise<Session>;
  /**
   * Registers a session for a principal already established elsewhere (an event stream runs as its
   * creator): same limits, and ended when the tenant is suspended or the user's sessions revoked.
   */
  adopt(args: {
    principal: Principal;
    /** The tenant the session watches, when the principal is not bound to one (a project's key). */
    tenantId?: string | null;
    transport: Session['transport'];
    end: (reason: CloseReason) => void;
  }): Session;
  close(session: Session): void;
  /** Takes a subscription slot or throws LIMIT_EXCEEDED. */
  acquire(session: Session, id: string): void;
  release(session: Session, id: string): void;
  endAll(reason: CloseReason): void;
  stats(): { sessions: number; subscriptions: number; byTransport: Record<Session['transport'], number> };
  stop(): Promise<void>;
}

function principalKey(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

/** Of these API key ids, the ones still valid (identity's answer); throws when identity cannot say. */
export type StandingKeys = (keyIds: string[]) => Promise<Set<string>>;

export async function createSessionRegistry(options: {
  authenticate: Authenticate;
  /** Re-checks the keys of adopted sessions, which hold a key's principal but not the key. */
  standingKeys?: StandingKeys;
  kv: Kv;
  logger: Logger;
  limits: SubscriptionLimits;
}): Promise<SessionRegistry> {
  const { authenticate, limits } = options;
  const logger = options.logger.child({ component: 'realtime-sessions' });
  const sessions = new Set<Session>();
  const perPrincipal = new Map<string, number>();
  const timers = new Map<Session, NodeJS.Timeout[]>();

  const endWhere = (predicate: (session: Session) => boolean, reason: CloseReason) => {
    for (const session of [...sessions]) if (predicate(session)) session.end(reason);
  };

  const listeners = await Promise.all([
    options.kv.pubsub.subscribe(API_KEY_REVOKED_CHANNEL, (message) => {
      const revoked = parseApiKeyRevoked(message);
      if (!revoked) return;
      endWhere(
        (s) =>
          s.credentialHash === revoked.keyHash || (s.principal.kind === 'api_key' && s.principal.id === revoked.keyId),
        'KEY_REVOKED',
      );
    }),
    options.kv.pubsub.subscribe(USER_REVOKED_CHANNEL, (userId) =>
      endWhere((s) => s.principal.kind === 'user' && s.principal.id === userId, 'SESSION_REVOKED'),
    ),
    options.kv.pubsub.subscribe(TENANT_STATUS_CHANNEL, (message) => {
      let parsed;
      try {
        parsed = tenantStatusMessage.safeParse(JSON.parse(message));
      } catch {
        return;
      }
      if (!parsed.success || !REFUSED_TENANT_STATUSES.has(parsed.data.status)) return;
      const tenantId = parsed.data.id;
      endWhere((s) => s.tenantId === tenantId, 'TENANT_SUSPENDED');
    }),
  ]);

  // Sessions opened with a key re-authenticate it (below); adopted ones run as a key they never
  // held, so their key ids are asked of identity in one call per interval. An expired key or a
  // suspended account has no announcement to listen for.
  const adoptedKeyCheck = setInterval(() => {
    const adopted = [...sessions].filter((s) => s.credentialHash === '' && s.principal.kind === 'api_key');
    if (adopted.length === 0 || !options.standingKeys) return;
    const ids = [...new Set(adopted.map((s) => s.principal.id))];
    const check = options.standingKeys;
    // Identity answers for at most STANDING_API_KEYS_MAX ids a call.
    const batches = Array.from({ length: Math.ceil(ids.length / STANDING_API_KEYS_MAX) }, (_, i) =>
      check(ids.slice(i * STANDING_API_KEYS_MAX, (i + 1) * STANDING_API_KEYS_MAX)),
    );
    Promise.all(batches).then(
      (answers) => {
        const standing = new Set(answers.flatMap((answer) => [...answer]));
        for (const session of adopted) if (!standing.has(session.principal.id)) session.end('UNAUTHORIZED');
      },
      // Identity briefly down is not the caller's fault: keep the sessions, ask again next time.
      (error: unknown) => logger.warn({ err: error }, 're-checking the API keys of event streams failed'),
    );
  }, limits.recheckMs).unref();

  const registry: SessionRegistry = {
    async open({ headers, transport, end }) {
      const credential = readCredential(headers);
      if (credential === null) throw new AppError('UNAUTHORIZED', 'Subscriptions need an API key or access token');
      const principal = await authenticate(headers);
      if (!principal) throw new AppError('UNAUTHORIZED', 'Subscriptions need an API key or access token');
      let ended = false;
      const session: Session = {
        id: newId('rt'),
        principal,
        transport,
        credentialHash: sha256Hex(credential),
        tenantId: principal.tenantId,
        headers: { authorization: headers.authorization, 'x-api-key': headers['x-api-key'] },
        subscriptions: new Set(),
        end(reason) {
          if (ended) return;
          ended = true;
          logger.info({ session: session.id, reason }, 'real-time session ended by the platform');
          end(reason);
        },
      };
      sessions.add(session);
      const sessionTimers: NodeJS.Timeout[] = [];
      const expiresAt = tokenExpiry(credential);
      if (expiresAt !== null) {
        const delay = Math.max(0, expiresAt - Date.now());
        // setTimeout holds at most ~24.8 days; a token that outlives it is rechecked like a key.
        if (delay < 2 ** 31 - 1) sessionTimers.push(setTimeout(() => session.end('TOKEN_EXPIRED'), delay).unref());
      }
      if (principal.kind === 'api_key') {
        const recheck = setInterval(() => {
          authenticate(session.headers).then(
            (current) => {
              if (!current) session.end('UNAUTHORIZED');
            },
            (error: unknown) => {
              if (error instanceof AppError && error.code === 'TENANT_SUSPENDED') session.end('TENANT_SUSPENDED');
              else if (error instanceof AppError && error.code === 'UNAUTHORIZED') session.end('TOKEN_EXPIRED');
              // Anything else (identity briefly down) is not the caller's fault: keep the session.
            },
          );
        }, limits.recheckMs).unref();
        sessionTimers.push(recheck);
      }
      timers.set(session, sessionTimers);
      return session;
    },
    adopt({ principal, tenantId = null, transport, end }) {
      let ended = false;
      const session: Session = {
        id: newId('rt'),
        principal,
        transport,
        credentialHash: '',
        tenantId: principal.tenantId ?? tenantId,
        headers: {},
        subscriptions: new Set(),
        end(reason) {
          if (ended) return;
          ended = true;
          logger.info({ session: session.id, reason }, 'real-time session ended by the platform');
          end(reason);
        },
      };
      sessions.add(session);
      timers.set(session, []);
      return session;
    },
    close(session) {
      if (!sessions.delete(session)) return;
      for (const timer of timers.get(session) ?? []) clearTimeout(timer);
      timers.delete(session);
      for (const id of [...session.subscriptions]) registry.release(session, id);
    },
    acquire(session, id) {
      if (session.subscriptions.has(id)) return;
      if (session.subscriptions.size >= limits.maxPerConnection) {
        throw new AppError('LIMIT_EXCEEDED', `At most ${limits.maxPerConnection} subscriptions per connection`, {
          limit: 'subscriptions_per_connection',
          allowed: limits.maxPerConnection,
        });
      }
      const key = principalKey(session.principal);
      const held = perPrincipal.get(key) ?? 0;
      if (held >= limits.maxPerPrincipal) {
        throw new AppError('LIMIT_EXCEEDED', `At most ${limits.maxPerPrincipal} subscriptions per caller`, {
          limit: 'subscriptions_per_principal',
          allowed: limits.maxPerPrincipal,
        });
      }
      perPrincipal.set(key, held + 1);
      session.subscriptions.add(id);
    },
    release(session, id) {
      if (!session.subscriptions.delete(id)) return;
      const key = principalKey(session.principal);
      const held = (perPrincipal.get(key) ?? 1) - 1;
      if (held <= 0) perPrincipal.delete(key);
      else perPrincipal.set(key, held);
    },
    endAll(reason) {
      endWhere(() => true, reason);
    },
    stats() {
      let subscriptions = 0;
      const byTransport = { ws: 0, sse: 0, stream: 0 };
      for (const session of sessions) {
        subscriptions += session.subscriptions.size;
        byTransport[session.transport] += 1;
      }
      return { sessions: sessions.size, subscriptions, byTransport };
    },
    async stop() {
      clearInterval(adoptedKeyCheck);
      for (const session of [...sessions]) registry.close(session);
      await Promise.all(listeners.map((unsubscribe) => unsubscribe()));
    },
  };
  return registry;
}

/** When an access token expires (its `exp`, already verified by the authenticator); null for keys. */
function tokenExpiry(credential: string): number | null {
  if (credential.split('.').length !== 3) return null;
  try {
    const { exp } = decodeJwt(credential);
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}
