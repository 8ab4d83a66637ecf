import type { PrivacyHook, PrivacySubject } from '../../lib/subgraph/privacy.js';
import type { Prisma } from '../../prisma/generated/client.js';

/**
 * An event is the user's when the user recorded it (`actor_id`, set from the principal) or when
 * its payload names them under one of these keys (events an API key records about a person).
 * Events that do neither cannot be proven to be theirs and are left alone; the hook says so.
 */
export const USER_REFERENCE_KEYS = ['user_id', 'userId', 'actor_id', 'actorId'] as const;

const LIMITATION =
  'events the user recorded, and events whose payload names the user ' +
  `(${USER_REFERENCE_KEYS.join(', ')}); other events of the tenant are not included`;

const EXPORT_LIMIT = 10_000;

function eventsOf({ userId, tenantId }: Pick<PrivacySubject, 'userId' | 'tenantId'>): Prisma.EventWhereInput {
  return {
    // User ids are unique platform-wide; the tenant narrows the scan to the user's own tenant.
    ...(tenantId ? { tenantId } : {}),
    OR: [{ actorId: userId }, ...USER_REFERENCE_KEYS.map((key) => ({ payload: { path: [key], equals: userId } }))],
  };
}

export const telemetryPrivacyHook: PrivacyHook = {
  subgraph: 'telemetry',
  async exportUserData(subject) {
    const events = await subject.deps.db.prisma.event.findMany({
      where: eventsOf(subject),
      orderBy: { occurredAt: 'asc' },
      take: EXPORT_LIMIT,
    });
    return {
      events: events.map((e) => ({
        id: e.id,
        type: e.type,
        source: e.source,
        payload: e.payload,
        occurred_at: e.occurredAt,
        received_at: e.receivedAt,
      })),
      limitations: [LIMITATION, `at most ${EXPORT_LIMIT} events`],
    };
  },
  async eraseUserData(subject) {
    // An event about a person is its payload; keeping the row with the payload stripped would
    // keep a behavioural trace (type, time) of that person, so the whole event goes.
    const { count } = await subject.deps.db.prisma.event.deleteMany({ where: eventsOf(subject) });
    return { erased: count, anonymized: 0, notes: [LIMITATION] };
  },
};
