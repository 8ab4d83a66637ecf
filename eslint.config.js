import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'prisma/generated/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through the env module (lib/env.ts).' },
      ],
    },
  },
  {
    // Module boundaries. The gateway depends on the supergraph contract and on each subgraph's
    // small public contract file, never on a subgraph's services; lib/ is shared by everything and
    // imports none of it; a subgraph reaches another only through federation or the subgraph
    // client; entry points (bin/) go through the composition root (app/).
    plugins: { 'import-x': importX },
    // Resolves `./x.js` to `./x.ts` as TypeScript does; an import the rule cannot resolve is not checked.
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './gateway',
              from: './subgraphs',
              except: [
                './identity/contract.ts',
                './tenancy/contract.ts',
                './platform/contract.ts',
                './billing/contract.ts',
                './telemetry/contract.ts',
                './edge/contract.ts',
              ],
              message: 'The gateway may import only a subgraph’s contract.ts.',
            },
            {
              target: './gateway',
              from: ['./app', './bin'],
              message: 'The gateway is assembled by app/, not the other way round.',
            },
            {
              target: './lib',
              from: ['./gateway', './subgraphs', './app', './bin'],
              message: 'lib/ is shared and depends on nothing above it.',
            },
            {
              target: './subgraphs',
              from: ['./gateway', './app', './bin'],
              message: 'A subgraph does not know the gateway or the composition root.',
            },
            ...['platform', 'tenancy', 'billing', 'identity', 'telemetry', 'edge'].map((name) => ({
              target: `./subgraphs/${name}`,
              from: './subgraphs',
              except: [`./${name}`],
              message: 'A subgraph reaches another through federation or the subgraph client, not its code.',
            })),
            {
              target: './bin',
              from: ['./gateway', './subgraphs'],
              message: 'Entry points go through the composition root (app/).',
            },
          ],
        },
      ],
    },
  },
  {
    // Entry points and test setup are where the environment is read.
    files: ['lib/env.ts', 'lib/bootstrap.ts', 'scripts/**', 'test/**', 'bench/**', 'vitest.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
