// Comparing two runs: their trees aligned node by node, and the differences.
// Pure: unit-tested under node --test.
//
// Two spans are "the same node" when they have the same workflow node ID
// (orcheo.node.id) under the same parent node; an LLM call (a span with a model,
// from the model attributes the page reads) is its parent's first, second, …
// model call whatever it is named, so `chat gpt-4o` -> `chat claude-…` is one
// call whose model changed; any other span is matched by name and rank among
// same-named siblings (by start time): the third `tool` under `agent` in one run
// is the third in the other. Placeholders are left out (not spans yet).

// Each node's alignment key, in pre-order: [[key, node, depth], …].
export function keyed(roots) {
  const stack = [...roots].filter((r) => !r.placeholder).reverse().map((n) => [n, '', 0]);
  const seen = new Map(); // parent key -> name -> count
  const rank = (parentKey, name) => {
    let m = seen.get(parentKey);
    if (!m) seen.set(parentKey, (m = new Map()));
    const k = m.get(name) || 0;
    m.set(name, k + 1);
    return k;
  };
  // roots share the empty parent key; ranks follow start order (buildTree sorts siblings)
  const order = [];
  while (stack.length) {
    const [n, parentKey, depth] = stack.pop();
    const label = n.nodeId ? `@${n.nodeId}` : n.model ? '~model call' : n.name;
    const key = `${parentKey}/${label}#${rank(parentKey, label)}`;
    order.push([key, n, depth]);
    const kids = n.children.filter((c) => !c.placeholder);
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], key, depth + 1]);
  }
  return order;
}

const dur = (n) => (n ? n.end - n.start : null);
const tok = (n) => (n ? n.tin + n.tout : null);
const delta = (a, b) => (a === null || b === null || a === undefined || b === undefined ? null : b - a);
// what a node and everything under it spent (buildTree's rollups); 0 for a node not in that run
const subTok = (n) => (n ? n.subIn + n.subOut : 0);
const subCost = (n) => (n ? n.subCost || 0 : 0);

// The aligned rows, in A's order with B's added nodes placed where B has them:
// [{key, depth, name, a, b, kind: 'same'|'added'|'removed', dDur, dTok, dCost
// (subtree: what the node and all under it spent more or less; a node in one run
// only counts in full), statusChanged, modelChanged}], and a summary.
export function compareRuns(rootsA, rootsB) {
  const A = keyed(rootsA), B = keyed(rootsB);
  const inA = new Map(A), inB = new Map(B), depth = new Map([...A, ...B].map(([k, , d]) => [k, d]));
  const rows = [];
  const row = (key, a, b) => {
    const n = b || a;
    const dTok = subTok(b) - subTok(a), dCost = subCost(b) - subCost(a);
    return { key, depth: depth.get(key), name: n.name, a, b, kind: a && b ? 'same' : b ? 'added' : 'removed',
      dDur: delta(dur(a), dur(b)), dTok: a && b ? dTok : dTok || null, dCost: a && b ? dCost : dCost || null,
      statusChanged: Boolean(a && b && a.status !== b.status), modelChanged: Boolean(a && b && (a.model || b.model) && a.model !== b.model) };
  };
  // A's order, with B's added nodes placed where B has them
  const idxB = new Map(B.map(([k], i) => [k, i]));
  let ib = 0;
  const flushAdded = (upto) => {
    for (; ib < upto; ib++) if (!inA.has(B[ib][0])) rows.push(row(B[ib][0], null, B[ib][1]));
  };
  for (const [k, a] of A) {
    const j = idxB.get(k);
    if (j === undefined) {
      rows.push(row(k, a, null));
      continue;
    }
    if (j >= ib) {
      flushAdded(j);
      ib = j + 1;
    }
    rows.push(row(k, a, inB.get(k)));
  }
  flushAdded(B.length);
  const total = (roots) => {
    const real = roots.filter((r) => !r.placeholder);
    let s = Infinity, e = -Infinity;
    for (const r of real) { s = Math.min(s, r.start); e = Math.max(e, r.end); }
    return real.length ? e - s : 0;
  };
  const sum = (list, f) => list.reduce((x, [, n]) => x + (f(n) || 0), 0);
  const summary = {
    durA: total(rootsA), durB: total(rootsB),
    tokA: sum(A, tok), tokB: sum(B, tok),
    costA: sum(A, (n) => n.cost), costB: sum(B, (n) => n.cost),
    errA: A.filter(([, n]) => n.status === 'ERROR').length, errB: B.filter(([, n]) => n.status === 'ERROR').length,
    spansA: A.length, spansB: B.length,
    added: rows.filter((r) => r.kind === 'added').length, removed: rows.filter((r) => r.kind === 'removed').length,
    changed: rows.filter((r) => r.kind === 'same' && (r.statusChanged || r.modelChanged || (r.dDur && Math.abs(r.dDur) >= 0.001))).length,
  };
  return { rows, summary };
}

// The newest execution of the same workflow that started before @p current
// (from /api/executions?workflow_id=…), or null.
export function previousRun(list, current) {
  const t = Date.parse(current.started_at);
  return list.filter((e) => e.execution_id !== current.execution_id && Date.parse(e.started_at) < t)
    .sort((x, y) => Date.parse(y.started_at) - Date.parse(x.started_at))[0] || null;
}
