import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULT_SUBGRAPH_PORTS } from '../lib/subgraph/topology.js';
import * as envModule from '../lib/env.js';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/env.js';

// No Docker engine runs here, so docker-compose.yml, the Dockerfile and .env.example are checked
// for consistency with the code instead: the files each service runs, the variables each process
// parses (lib/env.ts groups, as bin/*.ts and scripts/*.ts compose them), and the subgraph ports.

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8');
const exists = (path: string) => existsSync(fileURLToPath(new URL(`../${path}`, import.meta.url)));

type EnvValue = string | number | boolean | null | undefined;
interface Service {
  build?: unknown;
  image?: string;
  command?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}

const composeDocument = parseDocument(read('docker-compose.yml'), { merge: true });
const compose = composeDocument.toJS() as { services: Record<string, Service> };
const services = Object.entries(compose.services ?? {});
/** Services run from this repository's image (they have a build section); the rest are postgres and redis. */
const appServices = services.filter(([, service]) => service.build !== undefined);

const dockerfile = read('Dockerfile');
const imageNodeEnv = /^ENV\s[^\n]*\bNODE_ENV=(\w+)/m.exec(dockerfile)?.[1];

/** Every zod object exported by lib/env.ts: the env groups. */
const envGroups: Array<[string, z.ZodObject]> = Object.entries(envModule as Record<string, unknown>).flatMap(
  ([name, value]) => (value instanceof z.ZodObject ? [[name, value] as [string, z.ZodObject]] : []),
);
const groupKeys = new Set(envGroups.flatMap(([, group]) => Object.keys(group.shape)));

const isRequired = (schema: z.ZodType) => !schema.safeParse(undefined).success;

function environmentOf(service: Service): Record<string, EnvValue> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(
    env.map((item) => {
      const at = item.indexOf('=');
      return at === -1 ? [item, undefined] : [item.slice(0, at), item.slice(at + 1)];
    }),
  );
}

function commandOf(service: Service): string {
  return Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
}

/** The repository file a command runs with tsx (`npx tsx bin/gateway.ts`), if any. */
function entryFileOf(command: string): string | undefined {
  return /\btsx\s+((?:bin|scripts)\/[\w./-]+\.ts)\b/.exec(command)?.[1];
}

interface EntryEnv {
  /** Every variable the entry point parses, with the schema it parses it with. */
  shape: Record<string, z.ZodType>;
  /** Passed to requireInProduction: required when NODE_ENV=production. */
  requiredInProduction: string[];
}

/**
 * What an entry point parses, read off its source: the env groups it names, fields it makes
 * required with `<group>.shape.<KEY>.unwrap()`, and the names it hands to requireInProduction.
 */
function entryEnvOf(file: string): EntryEnv {
  const source = read(file);
  const shape: Record<string, z.ZodType> = {};
  for (const [name, group] of envGroups) {
    if (new RegExp(`\\b${name}\\b`).test(source)) Object.assign(shape, group.shape);
  }
  for (const [, groupName, key] of source.matchAll(/\b(\w+)\.shape\.(\w+)\.unwrap\(\)/g)) {
    const field = envGroups.find(([name]) => name === groupName)?.[1].shape[key!];
    if (field instanceof z.ZodOptional) shape[key!] = field.unwrap() as z.ZodType;
  }
  const list = /requireInProduction\(\s*\w+\s*,\s*\[([^\]]*)\]/.exec(source)?.[1] ?? '';
  const requiredInProduction = [...list.matchAll(/['"](\w+)['"]/g)].map((m) => m[1]!);
  return { shape, requiredInProduction };
}

/** Names of the variables docker compose interpolates (`${NAME}`, `${NAME:?msg}`, `${NAME:-default}`). */
function interpolatedNames(value: unknown): string[] {
  if (typeof value === 'string') {
    return [...value.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  }
  if (Array.isArray(value)) return value.flatMap(interpolatedNames);
  if (value && typeof value === 'object') return Object.values(value).flatMap(interpolatedNames);
  return [];
}

/** A value as compose would pass it when it is known without .env: undefined if it needs a variable with no default. */
function resolvedValue(value: EnvValue): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  if (/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?+][^}]*)?\}/.test(text.replaceAll('$$', ''))) return undefined;
  return text.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/g, '$1').replaceAll('$$', '$');
}

function appService(name: string): Service {
  const service = compose.services[name];
  if (!service) throw new Error(`docker-compose.yml has no service "${name}"`);
  return service;
}

function servicesRunning(file: string): string[] {
  return appServices.filter(([, service]) => entryFileOf(commandOf(service)) === file).map(([name]) => name);
}

describe('docker-compose.yml', () => {
  it('parses as YAML and has the app services, postgres and redis', () => {
    expect(composeDocument.errors.map(String), 'docker-compose.yml does not parse').toEqual([]);
    expect(Object.keys(compose.services ?? {})).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'migrate', 'gateway', 'worker', ...SUBGRAPH_NAMES]),
    );
  });

  it.each(appServices)('service %s runs a bin/ or scripts/ file that exists', (name, service) => {
    const command = commandOf(service);
    const file = entryFileOf(command);
    expect(
      file,
      `service "${name}": command "${command}" does not run bin/*.ts or scripts/*.ts with tsx`,
    ).toBeDefined();
    expect(exists(file!), `service "${name}": command runs ${file}, which does not exist`).toBe(true);
  });

  it.each(appServices)('service %s sets only variables its process reads', (name, service) => {
    const file = entryFileOf(commandOf(service));
    if (!file || !exists(file)) return; // reported by the command test
    const { shape } = entryEnvOf(file);
    const problems = Object.keys(environmentOf(service)).flatMap((variable) => {
      if (!groupKeys.has(variable))
        return [`service "${name}": ${variable} is not a key of any env group in lib/env.ts`];
      if (!(variable in shape)) return [`service "${name}": ${variable} is set but ${file} does not read it`];
      return [];
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it.each(appServices)('service %s sets every variable its process requires', (name, service) => {
    const file = entryFileOf(commandOf(service));
    if (!file || !exists(file)) return;
    const { shape, requiredInProduction } = entryEnvOf(file);
    const environment = environmentOf(service);
    const production = (resolvedValue(environment.NODE_ENV) ?? imageNodeEnv) === 'production';
    const required = [
      ...Object.keys(shape).filter((key) => isRequired(shape[key]!)),
      ...(production ? requiredInProduction : []),
    ];
    const problems = required
      .filter((variable) => environment[variable] === undefined || environment[variable] === null)
      .map((variable) => `service "${name}": ${file} requires ${variable}, which is not set`);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it.each(appServices)('service %s does not fall back to the embedded database or in-memory Redis', (name, service) => {
    // Unset DATABASE_URL / REDIS_URL mean PGlite in the container and in-memory queues: state that
    // other processes never see. Every process that reads them in production must be given them.
    const file = entryFileOf(commandOf(service));
    if (!file || !exists(file)) return;
    const { shape } = entryEnvOf(file);
    const environment = environmentOf(service);
    const problems = ['DATABASE_URL', 'REDIS_URL']
      .filter((variable) => variable in shape && !environment[variable])
      .map(
        (variable) => `service "${name}": ${file} reads ${variable}, which is not set: it would run on embedded state`,
      );
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it.each(appServices)('service %s sets values its process accepts', (name, service) => {
    const file = entryFileOf(commandOf(service));
    if (!file || !exists(file)) return;
    const { shape } = entryEnvOf(file);
    const problems = Object.entries(environmentOf(service)).flatMap(([variable, raw]) => {
      const value = resolvedValue(raw);
      const schema = shape[variable];
      if (value === undefined || !schema) return [];
      const result = schema.safeParse(value);
      return result.success ? [] : [`service "${name}": ${variable}=${value}: ${result.error.issues[0]?.message}`];
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('runs each subgraph as its own service on its default port, where the gateway looks for it', () => {
    const gatewayNames = servicesRunning('bin/gateway.ts');
    expect(gatewayNames, 'exactly one service should run bin/gateway.ts').toHaveLength(1);
    const gateway = appService(gatewayNames[0]!);
    const gatewayEnvironment = environmentOf(gateway);
    const gatewayDependsOn = Array.isArray(gateway.depends_on) ? {} : (gateway.depends_on ?? {});
    const problems: string[] = [];

    const subgraphServices = servicesRunning('bin/subgraph.ts');
    for (const name of subgraphServices) {
      const value = resolvedValue(environmentOf(appService(name)).SUBGRAPH);
      if (!SUBGRAPH_NAMES.includes(value as SubgraphName)) {
        problems.push(`service "${name}": SUBGRAPH=${value} is not one of ${SUBGRAPH_NAMES.join(', ')}`);
      }
    }
    for (const subgraph of SUBGRAPH_NAMES) {
      const running = subgraphServices.filter((name) => environmentOf(appService(name)).SUBGRAPH === subgraph);
      if (running.length !== 1) {
        problems.push(
          `subgraph ${subgraph}: ${running.length} services run it (${running.join(', ') || 'none'}), expected 1`,
        );
        continue;
      }
      const service = running[0]!;
      // The supergraph's default URLs are http://<subgraph>:<port>/graphql: the service must be named after it.
      if (service !== subgraph) problems.push(`service "${service}" runs subgraph ${subgraph}: name it "${subgraph}"`);
      const expectedPort = DEFAULT_SUBGRAPH_PORTS[subgraph];
      const port = resolvedValue(environmentOf(appService(service)).PORT);
      if (port !== String(expectedPort)) {
        problems.push(`service "${service}": PORT=${port}, but DEFAULT_SUBGRAPH_PORTS.${subgraph} is ${expectedPort}`);
      }
      const variable = `SUBGRAPH_${subgraph.toUpperCase()}_URL`;
      const url = resolvedValue(gatewayEnvironment[variable]);
      if (!url) {
        problems.push(`service "${gatewayNames[0]}": ${variable} is not set`);
      } else {
        const parsed = new URL(url);
        if (parsed.hostname !== service || parsed.port !== port) {
          problems.push(
            `service "${gatewayNames[0]}": ${variable}=${url} does not point at service "${service}" port ${port}`,
          );
        }
      }
      if (gatewayDependsOn[service]?.condition !== 'service_healthy') {
        problems.push(`service "${gatewayNames[0]}": should depend on "${service}" with condition service_healthy`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('depends only on services that exist, and waits for health only where there is a health check', () => {
    const problems = services.flatMap(([name, service]) => {
      const dependsOn: Record<string, { condition?: string }> = Array.isArray(service.depends_on)
        ? Object.fromEntries(service.depends_on.map((target) => [target, {}]))
        : (service.depends_on ?? {});
      return Object.entries(dependsOn).flatMap(([target, { condition }]) => {
        const targetService = compose.services[target];
        if (!targetService) return [`service "${name}": depends_on "${target}", which is not a service`];
        if (condition === 'service_healthy' && !targetService.healthcheck?.test) {
          return [`service "${name}": waits for "${target}" to be healthy, but it has no healthcheck`];
        }
        return [];
      });
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('has a health check on every service except migrate, probing the port the service listens on', () => {
    const problems = services.flatMap(([name, service]) => {
      if (name === 'migrate') return [];
      const test = service.healthcheck?.test;
      if (!test || service.healthcheck?.disable) return [`service "${name}": no healthcheck`];
      const text = Array.isArray(test) ? test.join(' ') : test;
      const port = resolvedValue(environmentOf(service).PORT);
      if (port && !text.includes(port) && !text.includes('process.env.PORT')) {
        return [`service "${name}": healthcheck does not probe its PORT ${port}`];
      }
      return [];
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('runs the gateway by default, in production mode', () => {
    const cmd = /^CMD\s+(.*)$/m.exec(dockerfile)?.[1] ?? '';
    const file = entryFileOf((JSON.parse(cmd || '[]') as string[]).join(' '));
    expect(file, `Dockerfile CMD ${cmd} should run bin/gateway.ts with tsx`).toBe('bin/gateway.ts');
    expect(exists(file!), `Dockerfile CMD runs ${file}, which does not exist`).toBe(true);
    expect(imageNodeEnv, 'Dockerfile should set ENV NODE_ENV=production').toBe('production');
  });
});

describe('.env.example', () => {
  const lines = read('.env.example').split('\n');
  /** Variables it lists, set (`NAME=value`) or commented out (`# NAME=value`), with their line index. */
  const documented = new Map<string, number>();
  lines.forEach((line, index) => {
    const name = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1];
    if (name && !documented.has(name)) documented.set(name, index);
  });

  it('documents every key of the env groups in lib/env.ts', () => {
    const missing = [...groupKeys].filter((key) => !documented.has(key));
    expect(missing, `.env.example does not document: ${missing.join(', ')}`).toEqual([]);
  });

  it('documents every variable docker-compose.yml interpolates or sets on an app service', () => {
    const used = new Set([
      ...interpolatedNames(compose.services),
      ...appServices.flatMap(([, service]) => Object.keys(environmentOf(service))),
    ]);
    const missing = [...used].filter((name) => !documented.has(name));
    expect(missing, `.env.example does not document: ${missing.join(', ')}`).toEqual([]);
  });

  it('explains every variable in a comment above it', () => {
    const bare = [...documented].filter(([, index]) => !lines[index - 1]?.startsWith('#')).map(([name]) => name);
    expect(bare, `.env.example has no comment above: ${bare.join(', ')}`).toEqual([]);
  });
});
