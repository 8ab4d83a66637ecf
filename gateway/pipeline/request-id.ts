import type { IncomingMessage } from 'node:http';
import { newId } from '../../lib/ids.js';

/** A caller's own X-Request-Id is kept when it looks like an id, so their logs and ours line up. */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{8,128}$/;

export function resolveRequestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && ACCEPTABLE.test(given) ? given : newId('req', 12);
}
