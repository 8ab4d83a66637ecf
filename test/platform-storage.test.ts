import { describe } from 'vitest';
import { bootPlatform } from './support/platform.js';
import { storageSuite } from './support/storage-suite.js';

// Storage through the gateway on the default object store (the local folder).

describe('storage (default backend)', () => {
  storageSuite(() =>
    bootPlatform({
      trustedProxies: ['127.0.0.1'],
      rateLimitPolicies: { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } },
    }),
  );
});
