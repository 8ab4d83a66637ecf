import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Secret, TOTP } from 'otpauth';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { enableMfa } from '../subgraphs/identity/services/mfa.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';

const PASSWORD = 'Correct-Horse-Battery-9';

interface ReceivedMail {
  to: string[];
  raw: string;
}

/**
 * A real SMTP server on an ephemeral port: the platform's nodemailer transport talks SMTP to it,
 * and the tests read the codes out of what it received.
 */
class Mailbox {
  private readonly messages: ReceivedMail[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        this.messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        for (const wake of this.waiters.splice(0)) wake();
        callback();
      });
    },
  });

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.server.address() as AddressInfo).port;
  }

  /** Waits for the next message to `to` (delivery is asynchronous to nothing here, but be patient). */
  async next(to: string, timeoutMs = 5000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex((m) => m.to.includes(to));
      if (index !== -1) return this.messages.splice(index, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no mail for ${to} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async nextCode(to: string): Promise<string> {
    const mail = await this.next(to);
    const code = /verification code is (\d{6})/.exec(mail.raw)?.[1];
    if (!code) throw new Error(`no code in mail:\n${mail.raw}`);
    return code;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const mailbox = new Mailbox();
let t: TestPlatform;

beforeAll(async () => {
  const port = await mailbox.listen();
  t = await bootPlatform({
    trustedProxies: ['127.0.0.1'],
    smtp: { url: `smtp://127.0.0.1:${port}`, from: 'Platform <no-reply@test.example>' },
  });
});

afterAll(async () => {
  await t?.close();
  await mailbox.close();
});

async function registerUser(): Promise<{ email: string; tenantId: string; ip: string }> {
  const tenantId = uniqueSlug('ten');
  const email = `${uniqueSlug('mfa')}@example.com`;
  const res = await t.graphql(
    `mutation ($email: String!, $password: String!, $tenantId: ID!) {
      register(email: $email, password: $password, name: "MFA Test", tenantId: $tenantId) { user { id } }
    }`,
    { email, password: PASSWORD, tenantId },
  );
  expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
  const hex = randomBytes(6).toString('hex');
  return { email, tenantId, ip: `2001:db8:${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8)}::1` };
}

interface LoginOutcome {
  code: string;
  status: number;
  token?: string;
  details?: Record<string, unknown>;
}

/** The documented REST sign-in, each user from its own address so the per-ip auth limit stays per test. */
async function login(user: { email: string; tenantId: string; ip: string }, mfaCode?: string): Promise<LoginOutcome> {
  const res = await t.rest('/api/v1/auth/login', {
    method: 'POST',
    token: null,
    clientIp: user.ip,
    body: {
      email: user.email,
      password: PASSWORD,
      tenant_id: user.tenantId,
      ...(mfaCode === undefined ? {} : { mfa_code: mfaCode }),
    },
  });
  const body = res.body as {
    status: string;
    data?: { access_token: string };
    error?: { code: string; details?: Record<string, unknown> };
  };
  if (body.status === 'error') return { code: body.error!.code, status: res.status, details: body.error!.details };
  return { code: 'OK', status: res.status, token: body.data!.access_token };
}

async function post(
  path: string,
  body: unknown,
  token: string,
): Promise<{ status: number; body: { status: string; data?: never; error?: { code: string; details?: never } } }> {
  const res = await t.rest(path, { method: 'POST', token, body });
  return { status: res.status, body: res.body as never };
}

function totpAt(secret: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: step * 30_000,
  });
}

const currentStep = () => Math.floor(Date.now() / 30_000);

describe('TOTP MFA, end to end', () => {
  it('enrols with a QR code, then asks for a code at sign-in and accepts each code once', async () => {
    const user = await registerUser();
    const first = await login(user);
    expect(first.code).toBe('OK');

    const enabled = await post('/api/v1/auth/mfa/enable', { method: 'totp' }, first.token!);
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    const data = enabled.body.data as unknown as { secret: string; qr_code: string; backup_codes: string[] };
    expect(data.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(data.qr_code).toMatch(/^data:image\/png;base64,/);
    const png = Buffer.from(data.qr_code.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(data.backup_codes).toHaveLength(10);
    for (const code of data.backup_codes) expect(code).toMatch(/^[A-Z2-9]{8}$/);
    expect(new Set(data.backup_codes).size).toBe(10);

    // Pending until verified: sign-in does not ask for it yet.
    expect((await login(user)).code).toBe('OK');

    const step = currentStep();
    const valid = new Set([-1, 0, 1].map((d) => totpAt(data.secret, step + d)));
    const wrong = ['000000', '111111', '222222', '333333'].find((c) => !valid.has(c))!;
    const rejected = await post('/api/v1/auth/mfa/verify', { method: 'totp', code: wrong }, first.token!);
    expect(rejected.status).toBe(401);
    expect(rejected.body.error?.code).toBe('INVALID_MFA_CODE');

    const verifyCode = totpAt(data.secret, step);
    const verified = await post('/api/v1/auth/mfa/verify', { method: 'totp', code: verifyCode }, first.token!);
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.data).toMatchObject({ method: 'totp', mfa_enabled: true });

    const required = await login(user);
    expect(required).toMatchObject({ status: 401, code: 'MFA_REQUIRED', details: { methods: ['totp'] } });
    expect(await login(user, wrong)).toMatchObject({ status: 401, code: 'INVALID_MFA_CODE' });
    // The step that confirmed enrolment is spent.
    expect((await login(user, verifyCode)).code).toBe('INVALID_MFA_CODE');

    const nextCode = totpAt(data.secret, step + 1);
    const signedIn = await login(user, nextCode);
    expect(signedIn.code).toBe('OK');
    expect(signedIn.token).toMatch(/^ey/);
    expect((await login(user, nextCode)).code).toBe('INVALID_MFA_CODE');

    // A backup code works once, typed in lower case with a dash or not.
    const backup = data.backup_codes[3]!;
    expect((await login(user, `${backup.slice(0, 4).toLowerCase()}-${backup.slice(4)}`)).code).toBe('OK');
    expect((await login(user, backup)).code).toBe('INVALID_MFA_CODE');
    expect((await login(user, data.backup_codes[4]!)).code).toBe('OK');

    // Re-enabling a verified method is refused rather than silently replacing the secret.
    const again = await post('/api/v1/auth/mfa/enable', { method: 'totp' }, first.token!);
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('CONFLICT');
  });

  it('needs a signed-in user and a known method', async () => {
    const anonymous = await t.rest('/api/v1/auth/mfa/enable', {
      method: 'POST',
      token: null,
      body: { method: 'totp' },
    });
    expect(anonymous.status).toBe(401);

    // The operator key is not a user: MFA belongs to a person.
    const operator = await post('/api/v1/auth/mfa/enable', { method: 'totp' }, t.operatorKey);
    expect(operator.status).toBe(403);

    const user = await registerUser();
    const { token } = await login(user);
    const bad = await post('/api/v1/auth/mfa/enable', { method: 'carrier-pigeon' }, token!);
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('VALIDATION_ERROR');
    const notEnabled = await post('/api/v1/auth/mfa/verify', { method: 'totp', code: '123456' }, token!);
    expect(notEnabled.status).toBe(404);
  });
});

describe('email MFA through a real SMTP server', () => {
  it('sends a code to enrol and a fresh one at each sign-in', async () => {
    const user = await registerUser();
    const { token } = await login(user);

    const enabled = await post('/api/v1/auth/mfa/enable', { method: 'email' }, token!);
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    expect(enabled.body.data).toMatchObject({
      method: 'email',
      code_sent: true,
      destination: expect.stringMatching(/^m\*\*\*@example\.com$/),
    });
    expect(enabled.body.data).not.toHaveProperty('secret');
    const enrolCode = await mailbox.nextCode(user.email);

    const verified = await post('/api/v1/auth/mfa/verify', { method: 'email', code: enrolCode }, token!);
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.data).toMatchObject({ method: 'email', mfa_enabled: true });

    const required = await login(user);
    expect(required.code).toBe('MFA_REQUIRED');
    expect(required.details).toMatchObject({ methods: ['email'], email_code_sent: true });
    const loginCode = await mailbox.nextCode(user.email);
    // The enrolment code was consumed by verify.
    expect((await login(user, enrolCode)).code).toBe('INVALID_MFA_CODE');
    expect((await login(user, loginCode)).code).toBe('OK');
    expect((await login(user, loginCode)).code).toBe('INVALID_MFA_CODE');
  });

  it('answers NOT_CONFIGURED without SMTP, and for SMS, which has no provider', async () => {
    const user = await registerUser();
    const { token } = await login(user);
    const sms = await post('/api/v1/auth/mfa/enable', { method: 'sms', phone: '+14155550100' }, token!);
    expect(sms.status).toBe(501);
    expect(sms.body.error?.code).toBe('NOT_CONFIGURED');

    // The same service on a deployment whose env has no SMTP_URL: no mailer in its deps.
    const { db } = t.platform;
    const noMailer: SubgraphDeps = { ...t.platform.deps, mailer: undefined };
    const me = await db.prisma.user.findFirstOrThrow({ where: { email: user.email } });
    await expect(
      enableMfa({
        deps: noMailer,
        principal: { kind: 'user', id: me.id, projectId: null, tenantId: me.tenantId, roles: ['user'], scopes: [] },
        input: { method: 'email' },
      }),
    ).rejects.toMatchObject({ code: 'NOT_CONFIGURED', message: expect.stringContaining('SMTP_URL') });
  });

  it('changes nothing when the mail server refuses: no pending factor, the backup codes stay', async () => {
    const user = await registerUser();
    const { token } = await login(user);
    const totp = await post('/api/v1/auth/mfa/enable', { method: 'totp' }, token!);
    expect(totp.status).toBe(200);
    const { db } = t.platform;
    const me = await db.prisma.user.findFirstOrThrow({ where: { email: user.email } });
    const before = await db.prisma.mfaBackupCode.findMany({ where: { userId: me.id }, orderBy: { id: 'asc' } });
    const downDeps: SubgraphDeps = {
      ...t.platform.deps,
      mailer: { send: () => Promise.reject(new Error('421 try later')), close: () => undefined },
    };
    await expect(
      enableMfa({
        deps: downDeps,
        principal: { kind: 'user', id: me.id, projectId: null, tenantId: me.tenantId, roles: ['user'], scopes: [] },
        input: { method: 'email' },
      }),
    ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(await db.prisma.mfaFactor.count({ where: { userId: me.id, method: 'email' } })).toBe(0);
    expect(await db.prisma.mfaBackupCode.findMany({ where: { userId: me.id }, orderBy: { id: 'asc' } })).toEqual(
      before,
    );
  });
});
