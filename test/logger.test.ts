import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';

describe('logger', () => {
  it('redacts secrets at the top level and nested, and keeps everything else', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    logger.info(
      {
        password: 'hunter2-top',
        input: { email: 'a@example.com', password: 'hunter2-nested', refresh_token: 'rt_secret' },
        variables: { input: { client_secret: 'cs_secret', mfaCode: '123456' } },
        headers: { authorization: 'Bearer eyJ.secret', 'x-api-key': 'tenantsdb_sk_secret' },
        requestId: 'req_1',
      },
      'sign-in',
    );
    const line = lines.join('');
    for (const secret of [
      'hunter2-top',
      'hunter2-nested',
      'rt_secret',
      'cs_secret',
      '123456',
      'eyJ.secret',
      'tenantsdb_sk_secret',
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line)).toMatchObject({ requestId: 'req_1', input: { email: 'a@example.com' }, msg: 'sign-in' });
  });
});
