// Runs `prisma generate` offline. The Prisma CLI insists on locating a native schema engine
// before generating, and downloading one is impossible without network access; generate does
// not use it, so any existing file satisfies the check (see STACK-NOTES).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('prisma/schema')) process.exit(0);
execFileSync('npx', ['prisma', 'generate'], {
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath },
});
