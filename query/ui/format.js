// Pure formatting: no DOM, so the model and node --test can use it.

// ISO-8601 to milliseconds, keeping the microseconds the API sends (Date.parse drops them)
export function ms(iso) {
  if (!iso) return NaN;
  const frac = /\.(\d+)Z$/.exec(iso);
  return Date.parse(frac ? iso.replace(/\.\d+Z$/, 'Z') : iso) + (frac ? Number(`0.${frac[1]}`) * 1000 : 0);
}

export function fmtDur(d) {
  if (!isFinite(d) || d < 0) return '';
  if (d < 1) return `${Math.round(d * 1000)} µs`;
  if (d < 1000) return `${d < 10 ? d.toFixed(2) : d.toFixed(1)} ms`;
  if (d < 60000) return `${(d / 1000).toFixed(2)} s`;
  const m = Math.floor(d / 60000);
  return `${m}m ${Math.round((d % 60000) / 1000)}s`;
}

export function fmtAge(iso) {
  const d = Date.now() - ms(iso);
  if (!isFinite(d)) return '';
  if (d < 60000) return `${Math.max(0, Math.round(d / 1000))}s ago`;
  if (d < 3600000) return `${Math.round(d / 60000)}m ago`;
  if (d < 86400000) return `${Math.round(d / 3600000)}h ago`;
  return new Date(ms(iso)).toISOString().slice(0, 16).replace('T', ' ');
}

export const fmtTime = (iso) => (iso ? new Date(ms(iso)).toISOString().replace('T', ' ').replace('Z', ' UTC') : '—');
export const fmtNum = (n) => (n >= 10000 ? `${(n / 1000).toFixed(n >= 100000 ? 0 : 1)}k` : String(n));
export const fmtValue = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));
