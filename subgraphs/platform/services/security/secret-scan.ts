import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Finding, FindingSeverity } from './findings.js';

/**
 * Secrets written into configuration files: private keys, cloud and payment keys, platform API
 * keys, credentials in URLs, and password/secret/token assignments with a literal value.
 * Findings name the file, line and rule, and show the value masked (first 4 characters).
 */

interface Rule {
  id: string;
  severity: FindingSeverity;
  pattern: RegExp;
  /** The capture group holding the secret; 0 for the whole match. */
  group: number;
}

const RULES: Rule[] = [
  {
    id: 'private_key',
    severity: 'critical',
    pattern: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/,
    group: 0,
  },
  { id: 'aws_access_key_id', severity: 'high', pattern: /\b(AKIA[0-9A-Z]{16})\b/, group: 1 },
  { id: 'stripe_live_key', severity: 'critical', pattern: /\b((?:sk|rk)_live_[0-9a-zA-Z]{16,})\b/, group: 1 },
  { id: 'stripe_test_key', severity: 'low', pattern: /\b((?:sk|rk)_test_[0-9a-zA-Z]{16,})\b/, group: 1 },
  { id: 'github_token', severity: 'high', pattern: /\b(gh[pousr]_[A-Za-z0-9]{36,})\b/, group: 1 },
  { id: 'slack_token', severity: 'high', pattern: /\b(xox[abprs]-[A-Za-z0-9-]{10,})\b/, group: 1 },
  { id: 'platform_api_key', severity: 'high', pattern: /\b(tenantsdb_sk_[0-9a-f]{64})\b/, group: 1 },
  {
    id: 'url_credentials',
    severity: 'medium',
    pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/"']+:([^\s@/"'$]{3,})@/i,
    group: 1,
  },
  {
    id: 'literal_secret_assignment',
    severity: 'medium',
    pattern: /\b[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*\s*[:=]\s*["']?([^\s"'#,}$]{8,})/i,
    group: 1,
  },
];

/** Values that are references or placeholders, not secrets. */
const NOT_A_SECRET =
  /^(?:\$\{|process\.env|env\(|<|\*{3,}|x{6,}|your[-_]|example|placeholder|true|false|null|undefined)/i;

const CONFIG_FILE =
  /^(?:\.env(?:\..+)?|docker-compose[^/]*\.ya?ml|Dockerfile|[^/]+\.config\.(?:ts|js|mjs|cjs|json)|[^/]+\.(?:ya?ml|toml|ini|conf|properties)|package\.json)$/;
const MAX_FILES = 200;
const MAX_FILE_BYTES = 1024 * 1024;
const SKIP_DIRS = new Set(['node_modules', '.git', '.data', 'dist', 'coverage']);

export function maskSecret(value: string): string {
  return `${value.slice(0, 4)}… (${value.length} characters)`;
}

export function scanText(text: string, location: string): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, index) => {
    for (const rule of RULES) {
      const match = rule.pattern.exec(line);
      if (!match) continue;
      const value = match[rule.group] ?? match[0];
      if (rule.id === 'literal_secret_assignment' && NOT_A_SECRET.test(value)) continue;
      findings.push({
        check: 'secrets',
        severity: rule.severity,
        title: `Secret in configuration: ${rule.id.replaceAll('_', ' ')}`,
        detail: rule.id === 'private_key' ? 'A private key block' : `Value ${maskSecret(value)}`,
        location: `${location}:${index + 1}`,
      });
      break;
    }
  });
  return findings;
}

/** Configuration files directly in each directory (and one level of `config/`), bounded. */
export async function scanConfigFiles(roots: string[], base: string): Promise<{ findings: Finding[]; files: number }> {
  const files: string[] = [];
  const visit = async (dir: string, depth: number) => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (files.length >= MAX_FILES) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth === 0 && entry.name === 'config' && !SKIP_DIRS.has(entry.name)) await visit(path, depth + 1);
      } else if (entry.isFile() && (CONFIG_FILE.test(entry.name) || depth > 0)) {
        files.push(path);
      }
    }
  };
  for (const root of roots) await visit(root, 0);
  const findings: Finding[] = [];
  for (const file of [...new Set(files)]) {
    const info = await stat(file).catch(() => null);
    if (!info || info.size > MAX_FILE_BYTES) continue;
    findings.push(...scanText(await readFile(file, 'utf8'), relative(base, file) || file));
  }
  return { findings, files: new Set(files).size };
}
