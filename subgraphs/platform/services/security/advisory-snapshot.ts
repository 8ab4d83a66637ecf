/**
 * The offline advisory source of the dependency audit. This machine reaches no advisory database:
 * the npm registry's audit endpoint (`npm audit`, POST /-/npm/v1/security/advisories/bulk) answers
 * 405 here. So the audit compares package-lock.json with this checked-in snapshot: GitHub Advisory
 * Database entries (npm ecosystem) for packages this platform installs directly or transitively,
 * as OSV-style ranges (`introduced` inclusive, `fixed` exclusive). Refresh it where the network
 * allows (`npm audit --json` output maps onto the same fields); SNAPSHOT_DATE says how old it is.
 */
export interface Advisory {
  id: string;
  package: string;
  severity: 'critical' | 'high' | 'moderate' | 'low';
  title: string;
  ranges: { introduced: string; fixed: string }[];
  url: string;
}

export const SNAPSHOT_DATE = '2026-12-04';

const ghsa = (id: string) => `https://github.com/advisories/${id}`;

export const ADVISORIES: readonly Advisory[] = [
  {
    id: 'GHSA-3xgq-45jj-v275',
    package: 'cross-spawn',
    severity: 'high',
    title: 'Regular Expression Denial of Service (ReDoS) in cross-spawn',
    ranges: [
      { introduced: '0.0.0', fixed: '6.0.6' },
      { introduced: '7.0.0', fixed: '7.0.5' },
    ],
    url: ghsa('GHSA-3xgq-45jj-v275'),
  },
  {
    id: 'GHSA-c2qf-rxjj-qqgw',
    package: 'semver',
    severity: 'moderate',
    title: 'semver vulnerable to Regular Expression Denial of Service',
    ranges: [
      { introduced: '0.0.0', fixed: '5.7.2' },
      { introduced: '6.0.0', fixed: '6.3.1' },
      { introduced: '7.0.0', fixed: '7.5.2' },
    ],
    url: ghsa('GHSA-c2qf-rxjj-qqgw'),
  },
  {
    id: 'GHSA-3h5v-q93c-6h6q',
    package: 'ws',
    severity: 'high',
    title: 'ws affected by a DoS when handling a request with many HTTP headers',
    ranges: [
      { introduced: '2.1.0', fixed: '5.2.4' },
      { introduced: '6.0.0', fixed: '6.2.3' },
      { introduced: '7.0.0', fixed: '7.5.10' },
      { introduced: '8.0.0', fixed: '8.17.1' },
    ],
    url: ghsa('GHSA-3h5v-q93c-6h6q'),
  },
  {
    id: 'GHSA-grv7-fg5c-xmjg',
    package: 'braces',
    severity: 'high',
    title: 'Uncontrolled resource consumption in braces',
    ranges: [{ introduced: '0.0.0', fixed: '3.0.3' }],
    url: ghsa('GHSA-grv7-fg5c-xmjg'),
  },
  {
    id: 'GHSA-952p-6rrq-rcjv',
    package: 'micromatch',
    severity: 'moderate',
    title: 'Regular Expression Denial of Service (ReDoS) in micromatch',
    ranges: [{ introduced: '0.0.0', fixed: '4.0.8' }],
    url: ghsa('GHSA-952p-6rrq-rcjv'),
  },
  {
    id: 'GHSA-mwcw-c2x4-8c55',
    package: 'nanoid',
    severity: 'moderate',
    title: 'Predictable results in nanoid generation when given non-integer values',
    ranges: [
      { introduced: '0.0.0', fixed: '3.3.8' },
      { introduced: '4.0.0', fixed: '5.0.9' },
    ],
    url: ghsa('GHSA-mwcw-c2x4-8c55'),
  },
  {
    id: 'GHSA-v6h2-p8h4-qcjw',
    package: 'brace-expansion',
    severity: 'low',
    title: 'brace-expansion Regular Expression Denial of Service vulnerability',
    ranges: [
      { introduced: '1.0.0', fixed: '1.1.12' },
      { introduced: '2.0.0', fixed: '2.0.2' },
    ],
    url: ghsa('GHSA-v6h2-p8h4-qcjw'),
  },
  {
    id: 'GHSA-fjxv-7rqg-78g4',
    package: 'form-data',
    severity: 'critical',
    title: 'form-data uses unsafe random function for choosing boundary',
    ranges: [
      { introduced: '0.0.0', fixed: '2.5.4' },
      { introduced: '3.0.0', fixed: '3.0.4' },
      { introduced: '4.0.0', fixed: '4.0.4' },
    ],
    url: ghsa('GHSA-fjxv-7rqg-78g4'),
  },
  {
    id: 'GHSA-67mh-4wv8-2f99',
    package: 'esbuild',
    severity: 'moderate',
    title: 'esbuild enables any website to send any requests to the development server and read the response',
    ranges: [{ introduced: '0.0.0', fixed: '0.25.0' }],
    url: ghsa('GHSA-67mh-4wv8-2f99'),
  },
  {
    id: 'GHSA-crh6-fp67-6883',
    package: '@xmldom/xmldom',
    severity: 'critical',
    title: 'xmldom allows multiple root nodes in a DOM',
    ranges: [
      { introduced: '0.0.0', fixed: '0.7.6' },
      { introduced: '0.8.0', fixed: '0.8.4' },
    ],
    url: ghsa('GHSA-crh6-fp67-6883'),
  },
  {
    id: 'GHSA-9p8x-f768-wp2g',
    package: 'xml-crypto',
    severity: 'critical',
    title: 'xml-crypto vulnerable to XML signature verification bypass due to DigestValue comment',
    ranges: [
      { introduced: '0.0.0', fixed: '2.1.6' },
      { introduced: '3.0.0', fixed: '3.2.1' },
      { introduced: '4.0.0', fixed: '6.0.1' },
    ],
    url: ghsa('GHSA-9p8x-f768-wp2g'),
  },
  {
    id: 'GHSA-pxg6-pf52-xh8x',
    package: 'cookie',
    severity: 'low',
    title: 'cookie accepts cookie name, path, and domain with out of bounds characters',
    ranges: [{ introduced: '0.0.0', fixed: '0.7.0' }],
    url: ghsa('GHSA-pxg6-pf52-xh8x'),
  },
  {
    id: 'GHSA-qwcr-r2fm-qrc7',
    package: 'body-parser',
    severity: 'high',
    title: 'body-parser vulnerable to denial of service when url encoding is enabled',
    ranges: [{ introduced: '0.0.0', fixed: '1.20.3' }],
    url: ghsa('GHSA-qwcr-r2fm-qrc7'),
  },
  {
    id: 'GHSA-f5x3-32g6-xq36',
    package: 'tar',
    severity: 'moderate',
    title: 'Denial of service while parsing a tar file due to lack of folders count validation',
    ranges: [{ introduced: '0.0.0', fixed: '6.2.1' }],
    url: ghsa('GHSA-f5x3-32g6-xq36'),
  },
];
