export const FINDING_SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

/** One result of a security scan; never holds a secret (values are masked before they get here). */
export interface Finding {
  check: string;
  severity: FindingSeverity;
  title: string;
  detail: string;
  location?: string;
  reference?: string;
}

export function severityRank(severity: FindingSeverity): number {
  return FINDING_SEVERITIES.length - FINDING_SEVERITIES.indexOf(severity);
}
