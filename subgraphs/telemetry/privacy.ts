import type { PrivacyHook, PrivacySubject } from '../../lib/subgraph/privacy.js';
import type { Prisma } from '../../prisma/generated/client.js';

/**
 * Payload keys by which an event names the person it is about. telemetry.events has no actor
 * column (recordEvent stores the caller's tenant, not the caller), so an event is attributable to
 * a user only through its payload. Events that do not name the user cannot be proven to be theirs
 * and are left alone; the hook says so in what it returns.
 */
export const USER_REFERENCE_KEYS = ['user_id', 'userId', 'actor_id', 'actorId'] as const;

const LIMITATION =
  'telemetry.events has no actor column: only events whose payload names the user ' +
  `(${USER_REFERENCE_KEYS.join(', ')}) can be attributed to them; other events of the tenant are not included`;

const EXPORT_LIMIT = 10_000;

function eventsOf({ userId, tenantId }: Pick<PrivacySubject, 'userId' | 'tenantId'>): Prisma.EventWhereInput {
  return {
    // User ids are unique platform-wide; the tenant narrows the scan to the user's own tenant.
    ...(tenantId ? { tenantId } : {}),
    OR: USER_REFERENCE_KEYS.map((key) => ({ payload: { path: [key], equals: userId } })),
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
