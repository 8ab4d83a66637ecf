import { z } from 'zod';
import { loadEnv } from '../../../../lib/env.js';
import type { Finding } from './findings.js';

/**
 * Configuration checks on the deployment's environment (read through lib/env.ts): TLS to the
 * database, Redis and SMTP when they are not on this host, default or weak keys, debug flags,
 * schema visibility. Open registration comes from identity (scans.ts).
 */

const checkedEnv = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.string().default('info'),
  DATABASE_URL: z.string().optional(),
  REDIS_URL: z.string().optional(),
  SMTP_URL: z.string().optional(),
  SECRETS_ENCRYPTION_KEY: z.string().optional(),
  INTERNAL_SIGNING_SECRET: z.string().optional(),
  ADMIN_API_KEY: z.string().optional(),
  GRAPHQL_SCHEMA_VISIBILITY: z.string().default('authenticated'),
});

export type CheckedEnv = z.output<typeof checkedEnv>;

export function readCheckedEnv(): CheckedEnv {
  return loadEnv(checkedEnv);
}

function isLocal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function parseUrl(value: string | undefined): URL | null {
  if (!value) return null;
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** A key with few distinct characters (`aaaa…`, `a1a1…`) is a default someone typed, not random. */
export function isWeakKey(value: string): boolean {
  return new Set(value).size < 8;
}

export function checkConfiguration(env: CheckedEnv): { findings: Finding[]; checks: string[] } {
  const findings: Finding[] = [];
  const production = env.NODE_ENV === 'production';
  const checks = ['tls', 'default_keys', 'debug_flags'];

  const db = parseUrl(env.DATABASE_URL);
  if (db && !isLocal(db) && !/^(require|verify-ca|verify-full)$/.test(db.searchParams.get('sslmode') ?? '')) {
    findings.push({
      check: 'configuration',
      severity: 'high',
      title: 'Database connection without TLS',
      detail: `DATABASE_URL points at ${db.hostname} without sslmode=require/verify-full`,
      location: 'DATABASE_URL',
    });
  }
  const redis = parseUrl(env.REDIS_URL);
  if (redis && !isLocal(redis) && redis.protocol !== 'rediss:') {
    findings.push({
      check: 'configuration',
      severity: 'medium',
      title: 'Redis connection without TLS',
      detail: `REDIS_URL points at ${redis.hostname} over redis:// (use rediss://)`,
      location: 'REDIS_URL',
    });
  }
  const smtp = parseUrl(env.SMTP_URL);
  if (smtp && !isLocal(smtp) && smtp.protocol === 'smtp:' && smtp.port !== '587') {
    findings.push({
      check: 'configuration',
      severity: 'medium',
      title: 'SMTP without TLS',
      detail: `SMTP_URL uses smtp:// on port ${smtp.port || 25} (use smtps:// or STARTTLS on 587)`,
      location: 'SMTP_URL',
    });
  }

  for (const name of ['SECRETS_ENCRYPTION_KEY', 'INTERNAL_SIGNING_SECRET', 'ADMIN_API_KEY'] as const) {
    const value = env[name];
    if (value && isWeakKey(value)) {
      findings.push({
        check: 'configuration',
        severity: 'high',
        title: `${name} looks like a default`,
        detail: `It uses only ${new Set(value).size} distinct characters`,
        location: name,
      });
    } else if (!value && production && name !== 'ADMIN_API_KEY') {
      findings.push({
        check: 'configuration',
        severity: 'high',
        title: `${name} is not set in production`,
        detail: 'Each process then makes its own, and they cannot read each other’s',
        location: name,
      });
    }
  }

  if (production && (env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace')) {
    findings.push({
      check: 'configuration',
      severity: 'medium',
      title: 'Debug logging in production',
      detail: `LOG_LEVEL=${env.LOG_LEVEL}`,
      location: 'LOG_LEVEL',
    });
  }
  if (!production) {
    findings.push({
      check: 'configuration',
      severity: 'info',
      title: 'Not running in production mode',
      detail: `NODE_ENV=${env.NODE_ENV}: production-only requirements are not enforced`,
      location: 'NODE_ENV',
    });
  }
  if (env.GRAPHQL_SCHEMA_VISIBILITY === 'public') {
    findings.push({
      check: 'configuration',
      severity: 'low',
      title: 'GraphQL schema visible to anonymous callers',
      detail: 'GRAPHQL_SCHEMA_VISIBILITY=public',
      location: 'GRAPHQL_SCHEMA_VISIBILITY',
    });
  }
  return { findings, checks };
}
