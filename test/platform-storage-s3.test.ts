import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import { afterAll, beforeAll, describe } from 'vitest';
import { createS3BlobStore } from '../lib/runtime/blob-store-s3.js';
import { bootPlatform } from './support/platform.js';
import { storageSuite } from './support/storage-suite.js';

// The same storage suite on the S3 backend, against a real S3-compatible server (s3rver, in process).

let server: { run(): Promise<AddressInfo>; close(): Promise<void> };
let dir: string;
let endpoint: string;
const bucket = 'platform-test';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir }) as typeof server;
  const address = await server.run();
  endpoint = `http://127.0.0.1:${address.port}`;
  const store = createS3BlobStore({
    bucket,
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  });
  await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('storage (S3 backend, s3rver)', () => {
  storageSuite(() =>
    bootPlatform({
      trustedProxies: ['127.0.0.1'],
      rateLimitPolicies: { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } },
      s3: {
        bucket,
        endpoint,
        region: 'us-east-1',
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
        // Each run its own prefix: the listing checks in the suite see only this run's objects.
        prefix: `run-${Date.now()}`,
      },
    }),
  );
});
