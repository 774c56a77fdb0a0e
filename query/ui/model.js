// The trace model: span nodes keyed by ID, the tree built from them, and the rows
// the grid shows. Pure: no DOM, unit-tested under node --test (tests/ui/model.test.mjs).
import { ms } from './format.js';
import { matchSpans } from './search.js';

// A node from the skeleton endpoint (/tree).
export function fromSkeleton(s) {
  return { id: s.span_id, parent: s.parent_span_id, trace: s.trace_id, name: s.name, start: ms(s.start_time),
    end: ms(s.end_time ?? s.start_time), status: s.status, kind: s.kind, tin: s.tokens.input, tout: s.tokens.output,
    placeholder: !!s.placeholder, model: s.model || null, service: s.service || '', nodeId: s.node_id || null,
    events: (s.events || []).map((e) => ({ name: e.name, t: ms(e.time) })) };
}

// The model a span ran on, from its attributes (as the skeleton's "model").
const MODEL_KEYS = ['gen_ai.response.model', 'gen_ai.request.model', 'llm.model_name', 'orcheo.ai.model.actual',
  'orcheo.ai.model.requested', 'orcheo.model', 'model'];
function liveModel(attrs) {
  for (const k of MODEL_KEYS) if (typeof attrs?.[k] === 'string' && attrs[k]) return attrs[k];
  return null;
}

// A node from a live WebSocket message (Canvas span shape).
export function fromLive(s) {
  const ph = s.attributes && s.attributes['arbor.placeholder'] === true;
  return { id: s.span_id, parent: s.parent_span_id, trace: s.trace_id, name: s.name, start: ms(s.start_time),
    end: ms(s.end_time ?? s.start_time), status: s.status.code, kind: s.kind, tin: s.token_usage.input,
    tout: s.token_usage.output, placeholder: ph, model: liveModel(s.attributes),
    service: typeof s.service === 'string' ? s.service : undefined, // as the skeleton's: the bar's colour
    events: (s.events || []).map((e) => ({ name: e.name, t: ms(e.time) })) };
}

// A real span replaces what is held; a placeholder never overwrites a real span.
export function upsert(nodes, n) {
  const old = nodes.get(n.id);
  if (old && !n.placeholder) {
    if (n.service === undefined) n.service = old.service; // a frame that does not name it keeps it
    Object.assign(old, n);
  }
  else if (!old) nodes.set(n.id, n);
}

// A placeholder whose own parent is not known yet (a node span still running
// while its LLM call has come) is a root only because nothing says where it
// hangs: it goes under its trace's root instead of beside it (the real root,
// else the earliest placeholder), marked adoptedBy until its span arrives.
function adoptOrphans(roots) {
  const byTrace = new Map();
  for (const r of roots) {
    if (!byTrace.has(r.trace)) byTrace.set(r.trace, []);
    byTrace.get(r.trace).push(r);
  }
  const earliest = (x, y) => (y.start < x.start || (y.start === x.start && y.id < x.id) ? y : x);
  const kept = [];
  for (const list of byTrace.values()) {
    const real = list.filter((r) => !r.placeholder && !r.parent);
    const anchor = (real.length ? real : list).reduce(earliest);
    for (const r of list) {
      if (r === anchor || !r.placeholder) { kept.push(r); continue; }
      anchor.children.push(r);
      r.adoptedBy = anchor.id;
    }
  }
  return kept;
}

// Children, depths and subtree totals on every node; roots and the time range.
// Iterative (deep chains); siblings by start, then ID; a placeholder spans what
// hangs under it, however much has arrived.
export function buildTree(nodes) {
  for (const n of nodes.values()) { n.children = []; n.adoptedBy = undefined; }
  let roots = [];
  let start = Infinity, end = -Infinity;
  for (const n of nodes.values()) {
    const p = n.parent && nodes.get(n.parent);
    if (p && p !== n) p.children.push(n);
    else roots.push(n);
    if (n.start < start) start = n.start;
    if (n.end > end) end = n.end;
  }
  roots = adoptOrphans(roots);
  const order = (a, b) => a.start - b.start || (a.id < b.id ? -1 : 1);
  roots.sort(order);
  const stack = roots.map((r) => [r, 0, false]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [n, depth, visited] = top;
    if (!visited) {
      top[2] = true;
      n.depth = depth;
      n.children.sort(order);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], depth + 1, false]);
    } else {
      stack.pop();
      n.subIn = n.tin; n.subOut = n.tout; n.subErr = n.status === 'ERROR' ? 1 : 0; n.subCost = n.cost || 0;
      for (const c of n.children) { n.subIn += c.subIn; n.subOut += c.subOut; n.subErr += c.subErr; n.subCost += c.subCost; }
      if (n.placeholder && n.children.length) {
        n.start = Math.min(...n.children.map((c) => c.start));
        n.end = Math.max(...n.children.map((c) => c.end));
      }
    }
  }
  const t0 = isFinite(start) ? start : 0;
  return { roots, t0, t1: end > start ? end : t0 + 1 };
}

// The visible rows in pre-order. A search opens the path to every match (and with
// `hide`, shows only matches and their ancestors); otherwise the collapse set rules.
export function visibleRows(nodes, roots, { query = '', hide = false, collapsed = new Set(), found = null } = {}) {
  const { matches, keep } = matchSpans(nodes, query, found);
  const rows = [];
  const stack = [...roots].reverse();
  while (stack.length) {
    const n = stack.pop();
    if (query && hide && !keep.has(n.id)) continue;
    rows.push(n);
    const open = query ? (keep.has(n.id) && !matches.has(n.id)) || !collapsed.has(n.id) : !collapsed.has(n.id);
    if (open) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
  return { rows, matches, rowIndex: new Map(rows.map((n, i) => [n.id, i])) };
}

// Header figures over the real spans (placeholders are not spans yet).
export function totals(nodes) {
  let spans = 0, errors = 0, tin = 0, tout = 0, cost = 0, priced = 0;
  for (const n of nodes.values()) {
    if (n.placeholder) continue;
    spans++; errors += n.status === 'ERROR'; tin += n.tin; tout += n.tout;
    if (n.cost !== null && n.cost !== undefined) { cost += n.cost; priced++; }
  }
  return { spans, errors, tin, tout, cost, priced };
}

// Which token convention a span's counts were read from: the first pair of
// attribute keys (genai.js, the table the collector uses) with either side a number.
export function tokenSource(attrs, tokenPairs) {
  const isCount = (v) => v !== undefined && v !== null && v !== '' && Number.isFinite(Number(v));
  return tokenPairs.find(([tin, tout]) => isCount(attrs?.[tin]) || isCount(attrs?.[tout])) || null;
}

// One colour per service, the same on every page load: a hash into a palette
// that reads on the dark background (errors stay red, placeholders hatched).
export const SERVICE_COLOURS = ['#4c78c2', '#3f9e8f', '#9c6ade', '#c98a2e', '#5aa65a', '#c0577a', '#6f8fb3', '#b3a13f'];
export function serviceColour(name) {
  let h = 0;
  for (let i = 0; i < (name || '').length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return SERVICE_COLOURS[h % SERVICE_COLOURS.length];
}
