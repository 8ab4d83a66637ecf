const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * What keeps a string out of PostgreSQL, if anything: for input that must be refused rather
 * than cleaned (REST requests), with the same rules storableText cleans by.
 */
export function unstorableReason(value: string): 'nul' | 'lone_surrogate' | undefined {
  if (value.includes('\u0000')) return 'nul';
  // A fresh search each call: the shared regex is global, and test() would keep its lastIndex.
  if (value.search(LONE_SURROGATE) !== -1) return 'lone_surrogate';
  return undefined;
}

/**
 * Text PostgreSQL will store. It refuses NUL in `text` and in `jsonb` (`\u0000`), and a lone
 * UTF-16 surrogate in `jsonb`; a caller who can put either into a value that is written together
 * with others (an audit batch, say) could make the whole write fail. These drop NUL, replace lone
 * surrogates with U+FFFD and cap the length (in UTF-16 units, without splitting a pair).
 */
export function storableText(value: string, maxLength: number): string {
  // eslint-disable-next-line no-control-regex -- NUL is exactly what is being removed
  let text = value.replace(/\u0000/g, '').replace(LONE_SURROGATE, '\ufffd');
  if (text.length > maxLength) {
    text = text.slice(0, maxLength);
    // A cut between the halves of a pair would leave a lone high surrogate.
    if (/[\ud800-\udbff]$/.test(text)) text = text.slice(0, -1);
  }
  return text;
}

/**
 * A JSON value made storable: every string and key cleaned as above, nesting and sizes bounded,
 * so no part of it can make the row it belongs to fail. Values that JSON cannot hold become null.
 */
export function storableJson(
  value: unknown,
  {
    maxString = 1000,
    maxDepth = 6,
    maxEntries = 100,
  }: { maxString?: number; maxDepth?: number; maxEntries?: number } = {},
): unknown {
  const clean = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return storableText(v, maxString);
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v === 'boolean' || v === null) return v;
    if (typeof v !== 'object' || depth >= maxDepth) return null;
    if (Array.isArray(v)) return v.slice(0, maxEntries).map((item) => clean(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(v).slice(0, maxEntries)) {
      if (item !== undefined) out[storableText(key, 200)] = clean(item, depth + 1);
    }
    return out;
  };
  return clean(value, 0);
}
