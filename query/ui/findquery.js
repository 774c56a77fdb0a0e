// The search page's query: its form state <-> the URL, and the Tempo search it
// asks. Pure (no DOM): unit-tested with node --test.

export const RELATIVE = { '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800, '30d': 2592000 };
export const PAGE_SIZE = 25;

// Form state from the page's query string: every field, so a search is a link.
export function readState(params) {
  return {
    service: params.get('service') || '', name: params.get('name') || '', status: params.get('status') || '',
    min: params.get('min') || '', max: params.get('max') || '', since: params.get('since') || '',
    from: params.get('from') || '', to: params.get('to') || '',
    attrs: params.getAll('attr').map((a) => { const i = a.indexOf('='); return i < 0 ? { key: a, value: '' } : { key: a.slice(0, i), value: a.slice(i + 1) }; })
      .filter((a) => a.key),
    q: params.get('q') || '', limit: Number(params.get('limit')) || 200,
    sort: params.get('sort') || 'start', desc: params.get('asc') === null, page: Math.max(0, Number(params.get('page')) || 0),
  };
}

export function writeState(s) {
  const p = new URLSearchParams();
  for (const k of ['service', 'name', 'status', 'min', 'max', 'since', 'from', 'to', 'q']) if (s[k]) p.set(k, s[k]);
  for (const a of s.attrs) if (a.key) p.append('attr', `${a.key}=${a.value}`);
  if (s.limit && s.limit !== 200) p.set('limit', String(s.limit));
  if (s.sort && s.sort !== 'start') p.set('sort', s.sort);
  if (!s.desc) p.set('asc', '1');
  if (s.page) p.set('page', String(s.page));
  return p.toString();
}

export const hasCriteria = (s) => Boolean(s.service || s.name || s.status || s.min || s.max || s.since || s.from || s.to || s.q || s.attrs.length);

// A TraceQL string literal.
const quote = (v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

// A typed literal for an attribute value as typed: numbers and booleans as such,
// anything else a string.
export function literal(v) {
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  if (v === 'true' || v === 'false') return v;
  return quote(v);
}

// The attribute reference for a key: `span.x`, `resource.x` as typed, else `.x`
// (span or resource). Keys with characters TraceQL names cannot hold are quoted.
export function attrRef(key) {
  const m = /^(span|resource)\.(.+)$/.exec(key);
  const [scope, name] = m ? [m[1], m[2]] : ['', key];
  const safe = /^[A-Za-z_][\w.\-/:]*$/.test(name) ? name : quote(name);
  return `${scope}.${safe}`;
}

// The TraceQL the builder's fields mean (the TraceQL box, when filled, wins).
export function traceql(s) {
  if (s.q.trim()) return s.q.trim();
  const c = [];
  if (s.service) c.push(`resource.service.name = ${quote(s.service)}`);
  if (s.name) c.push(`name = ${quote(s.name)}`);
  if (s.status) c.push(`status = ${s.status}`);
  for (const a of s.attrs) c.push(`${attrRef(a.key)} = ${literal(a.value)}`);
  return c.length ? `{ ${c.join(' && ')} }` : '{}';
}

// The Tempo search URL for the state, at @p nowMs.
export function searchUrl(s, nowMs) {
  const p = new URLSearchParams({ q: traceql(s), limit: String(s.limit), spss: '3' });
  if (s.min) p.set('minDuration', s.min);
  if (s.max) p.set('maxDuration', s.max);
  const now = Math.floor(nowMs / 1000);
  if (s.since && RELATIVE[s.since]) {
    p.set('start', String(now - RELATIVE[s.since]));
    p.set('end', String(now));
  } else {
    if (s.from) p.set('start', String(Math.floor(Date.parse(s.from) / 1000)));
    if (s.to) p.set('end', String(Math.ceil(Date.parse(s.to) / 1000)));
  }
  return `/api/search?${p}`;
}

// "parse error at line 1 col 12: …" -> 12 (1-based), or 0.
export function errorColumn(message) {
  const m = /col (\d+)/.exec(message || '');
  return m ? Number(m[1]) : 0;
}

// Where the ID box leads: a trace for hex IDs of 16 to 32 digits, else an execution.
export function jumpTarget(text) {
  const id = text.trim();
  if (!id) return null;
  if (/^[0-9a-fA-F]{16,32}$/.test(id)) return `trace=${id.toLowerCase().padStart(32, '0')}`;
  return `execution=${encodeURIComponent(id)}`;
}

// Rows of a Tempo search answer, sorted as asked.
export function rows(answer, sort, desc) {
  const r = (answer.traces || []).map((t) => ({
    id: t.traceID.padStart(32, '0'), service: t.rootServiceName || '', root: t.rootTraceName || '',
    startMs: Number(BigInt(t.startTimeUnixNano || '0') / 1000000n), duration: Number(t.durationMs || 0),
    matched: t.spanSet?.matched ?? t.spanSets?.[0]?.matched ?? 0,
  }));
  const key = { start: (x) => x.startMs, duration: (x) => x.duration, matched: (x) => x.matched, service: (x) => x.service,
    root: (x) => x.root, id: (x) => x.id }[sort] || ((x) => x.startMs);
  r.sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1); });
  return r;
}
