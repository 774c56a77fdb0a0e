// Compare two executions (/compare?a=ID&b=ID): a summary of what changed, then
// both trees aligned node by node (compare.js) with duration, token, cost and
// status deltas; nodes only in one run are marked added or removed.
import { $, h, api, badge, eachPage, setCrumbs } from './dom.js';
import { fmtDur, fmtNum } from './format.js';
import { router } from './nav.js';
import { buildTree, fromSkeleton, upsert } from './model.js';
import { compile, fmtCost, priceNodes } from './prices.js';
import { compareRuns } from './compare.js';

async function loadRun(id, prices) {
  const nodes = new Map();
  let meta = null;
  // events=1 brings each span's workflow node ID, which runs are aligned by
  await eachPage(`/api/executions/${encodeURIComponent(id)}/tree?limit=10000&events=1`, (page) => {
    meta = meta || page.execution;
    for (const s of page.spans) upsert(nodes, fromSkeleton(s));
  });
  priceNodes(nodes, prices);
  return { meta, roots: buildTree(nodes).roots };
}

const signed = (v, f) => (v === null || v === undefined || v === 0 ? '' : `${v > 0 ? '+' : '−'}${f(Math.abs(v))}`);
const pct = (a, b) => (a ? ` (${b >= a ? '+' : '−'}${Math.abs(((b - a) / a) * 100).toFixed(0)}%)` : '');

function summaryBox(sum, A, B, cur, priced) {
  const fact = (label, a, b, f, extra = '') => h('div', { class: 'cmp-fact' }, h('span', {}, label),
    h('b', {}, `${f(a)} → ${f(b)}`), h('span', { class: `delta ${b > a ? 'up' : b < a ? 'down' : ''}` }, signed(b - a, f) + extra));
  return h('div', { class: 'cmp-summary' },
    h('div', { class: 'cmp-runs' }, h('span', {}, 'A ', h('a', { href: `/?execution=${encodeURIComponent(A.meta.id)}`, 'data-nav': `/?execution=${encodeURIComponent(A.meta.id)}` }, A.meta.id), ' ', badge(A.meta.status)),
      h('span', {}, 'B ', h('a', { href: `/?execution=${encodeURIComponent(B.meta.id)}`, 'data-nav': `/?execution=${encodeURIComponent(B.meta.id)}` }, B.meta.id), ' ', badge(B.meta.status))),
    h('div', { class: 'cmp-facts' },
      fact('Duration', sum.durA, sum.durB, fmtDur, pct(sum.durA, sum.durB)),
      fact('Tokens', sum.tokA, sum.tokB, fmtNum),
      priced ? fact('Cost', sum.costA, sum.costB, (v) => fmtCost(v, cur)) : null,
      fact('Errors', sum.errA, sum.errB, String),
      fact('Spans', sum.spansA, sum.spansB, String),
      h('div', { class: 'cmp-fact' }, h('span', {}, 'Nodes'), h('b', { 'data-testid': 'cmp-counts' },
        `${sum.added} added · ${sum.removed} removed · ${sum.changed} changed`))));
}

function table(rows, cur, priced) {
  const cols = ['Node', 'A', 'B', 'Δ duration', 'Δ tokens', priced ? 'Δ cost' : null, 'Status'].filter(Boolean);
  const body = rows.map((r) => h('tr', { class: `cmp-row ${r.kind}`, 'data-key': r.key },
    h('td', { style: `padding-left:${8 + r.depth * 16}px` }, r.kind === 'added' ? h('span', { class: 'mark added' }, '+') : r.kind === 'removed' ? h('span', { class: 'mark removed' }, '−') : '', r.name),
    h('td', { class: 'num' }, r.a ? fmtDur(r.a.end - r.a.start) : ''),
    h('td', { class: 'num' }, r.b ? fmtDur(r.b.end - r.b.start) : ''),
    h('td', { class: `num delta ${r.dDur > 0 ? 'up' : r.dDur < 0 ? 'down' : ''}` }, signed(r.dDur, fmtDur)),
    h('td', { class: `num delta ${r.dTok > 0 ? 'up' : r.dTok < 0 ? 'down' : ''}` }, signed(r.dTok, fmtNum)),
    priced ? h('td', { class: 'num delta' }, signed(r.dCost, (v) => fmtCost(v, cur))) : null,
    h('td', {}, r.statusChanged ? h('span', { class: 'status-change' }, badge(r.a.status), ' → ', badge(r.b.status)) : r.b ? badge(r.b.status) : badge(r.a.status))));
  return h('div', { class: 'table-scroll' }, h('table', { class: 'runs cmp' }, h('thead', {}, h('tr', {}, cols.map((c, i) => h('th', { class: i ? 'num' : '' }, c)))), h('tbody', {}, body)));
}

export async function showCompare(params) {
  router.current?.close();
  router.current = null;
  const a = params.get('a') || '', b = params.get('b') || '';
  document.title = 'Compare · Arbor';
  setCrumbs(h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), `Compare ${a} with ${b}`);
  const view = h('section', { class: 'list compare' }, h('div', { class: 'note' }, 'Loading both runs…'));
  $('#app').replaceChildren(view);
  if (!a || !b) {
    view.replaceChildren(h('div', { class: 'empty' }, 'Pick two executions to compare: select them in the list, or use "Compare with previous run" on an execution.'));
    return;
  }
  try {
    const prices = await api('/api/prices').then(compile, () => null);
    const [A, B] = await Promise.all([loadRun(a, prices), loadRun(b, prices)]);
    const { rows, summary } = compareRuns(A.roots, B.roots);
    const priced = prices && prices.rules.length > 0 && (summary.costA > 0 || summary.costB > 0);
    view.replaceChildren(summaryBox(summary, A, B, prices?.currency, priced), table(rows, prices?.currency, priced));
  } catch (e) {
    view.replaceChildren(h('div', { class: 'error-box' }, `Could not load the runs: ${e.message}`));
  }
}
