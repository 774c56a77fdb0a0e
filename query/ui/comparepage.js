// Compare two executions (/compare?a=ID&b=ID): a summary of what changed, then
// the two runs' waterfalls side by side on one time scale, rows aligned node by
// node (compare.js), with duration, subtree token and cost deltas and what
// changed (status, model); a node only in one run leaves the other side empty.
// A run that does not exist is said to be missing, not compared as empty.
import { $, h, api, badge, eachPage, setCrumbs } from './dom.js';
import { fmtDur, fmtNum } from './format.js';
import { router } from './nav.js';
import { buildTree, fromSkeleton, serviceColour, upsert } from './model.js';
import { compile, fmtCost, priceNodes } from './prices.js';
import { compareRuns } from './compare.js';
import { niceTicks } from './waterfall.js';

// One run's tree, or { missing: true } when Arbor holds no span of it.
async function loadRun(id, prices) {
  const nodes = new Map();
  let meta = null;
  try {
    // events=1 brings each span's workflow node ID and model, which runs are aligned by
    await eachPage(`/api/executions/${encodeURIComponent(id)}/tree?limit=10000&events=1`, (page) => {
      meta = meta || page.execution;
      for (const s of page.spans) upsert(nodes, fromSkeleton(s));
    });
  } catch (e) {
    if (e.status === 404) return { id, missing: true };
    throw e;
  }
  if (![...nodes.values()].some((n) => !n.placeholder)) return { id, missing: true };
  priceNodes(nodes, prices);
  const { roots, t0 } = buildTree(nodes);
  return { id, meta, roots, t0 };
}

const signed = (v, f) => (v === null || v === undefined || v === 0 ? '' : `${v > 0 ? '+' : '−'}${f(Math.abs(v))}`);
const pct = (a, b) => (a ? ` (${b >= a ? '+' : '−'}${Math.abs(((b - a) / a) * 100).toFixed(0)}%)` : '');
const runLink = (id, span) => {
  const to = `/?execution=${encodeURIComponent(id)}${span ? `&span=${span}` : ''}`;
  return (...kids) => h('a', { href: to, 'data-nav': to }, ...kids);
};

function summaryBox(sum, A, B, cur, priced) {
  const fact = (label, a, b, f, extra = '') => h('div', { class: 'cmp-fact' }, h('span', {}, label),
    h('b', {}, `${f(a)} → ${f(b)}`), h('span', { class: `delta ${b > a ? 'up' : b < a ? 'down' : ''}` }, signed(b - a, f) + extra));
  return h('div', { class: 'cmp-summary' },
    h('div', { class: 'cmp-runs' }, h('span', {}, 'A ', runLink(A.id)(A.id), ' ', badge(A.meta.status)),
      h('span', {}, 'B ', runLink(B.id)(B.id), ' ', badge(B.meta.status))),
    h('div', { class: 'cmp-facts' },
      fact('Duration', sum.durA, sum.durB, fmtDur, pct(sum.durA, sum.durB)),
      fact('Tokens', sum.tokA, sum.tokB, fmtNum),
      priced ? fact('Cost', sum.costA, sum.costB, (v) => fmtCost(v, cur)) : null,
      fact('Errors', sum.errA, sum.errB, String),
      fact('Spans', sum.spansA, sum.spansB, String),
      h('div', { class: 'cmp-fact' }, h('span', {}, 'Nodes'), h('b', { 'data-testid': 'cmp-counts' },
        `${sum.added} added · ${sum.removed} removed · ${sum.changed} changed`))));
}

// A time axis from 0 to @p scale (ms), ticks spaced for its width as it is drawn.
function axis(scale) {
  const el = h('div', { class: 'axis cmp-axis' });
  const draw = () => el.replaceChildren(...niceTicks(0, scale, el.clientWidth || 200, 0)
    .map((t) => h('span', { class: 'tick', style: `left:${t.frac * 100}%` }, fmtDur(t.offset))));
  new ResizeObserver(draw).observe(el);
  return el;
}

// One side of a row: the node's name (a link to it in its run), its duration and
// its bar on the shared scale; empty cells where the run has no such node.
function side(which, run, n, r, scale) {
  if (!n) return [h('td', { class: `${which}-name absent${which === 'b' ? ' sep' : ''}` }), h('td', { class: `${which}-dur absent` }), h('td', { class: `${which}-bar absent` })];
  const mark = r.kind === 'added' ? h('span', { class: 'mark added' }, '+') : r.kind === 'removed' ? h('span', { class: 'mark removed' }, '−') : null;
  const left = ((n.start - run.t0) / scale) * 100, width = Math.max(0.3, ((n.end - n.start) / scale) * 100);
  return [
    h('td', { class: `${which}-name${which === 'b' ? ' sep' : ''}`, title: n.name, style: `padding-left:${6 + r.depth * 12}px` }, mark, runLink(run.id, n.id)(n.name)),
    h('td', { class: `${which}-dur num` }, fmtDur(n.end - n.start)),
    h('td', { class: `${which}-bar` }, h('div', { class: 'cmp-track' }, h('div', {
      class: `cmp-bar${n.status === 'ERROR' ? ' ERROR' : ''}`, title: `${n.service ? `${n.service}: ` : ''}${n.name}: ${fmtDur(n.end - n.start)}`,
      style: `left:${left}%;width:${width}%${n.status === 'ERROR' || !n.service ? '' : `;background:${serviceColour(n.service)}`}` })))];
}

// What changed on a node besides time: its status, its model.
function change(r) {
  return [r.statusChanged ? h('span', { class: 'status-change' }, badge(r.a.status), ' → ', badge(r.b.status)) : null,
    r.modelChanged ? h('span', { class: 'model-change' }, `model ${r.a.model || '—'} → ${r.b.model || '—'}`) : null];
}

function sideBySide(rows, A, B, sum, cur, priced) {
  const scale = Math.max(sum.durA, sum.durB, 0.001);
  const deltaCell = (cls, v, f) => h('td', { class: `${cls} num delta ${v > 0 ? 'up' : v < 0 ? 'down' : ''}` }, signed(v, f));
  const money = (v) => fmtCost(v, cur);
  const body = rows.map((r) => h('tr', { class: `cmp-row ${r.kind}${r.statusChanged || r.modelChanged ? ' changed' : ''}`, 'data-kind': r.kind, 'data-key': r.key },
    side('a', A, r.a, r, scale), side('b', B, r.b, r, scale),
    deltaCell('d-dur sep', r.dDur, fmtDur), deltaCell('d-tok', r.dTok, fmtNum), priced ? deltaCell('d-cost', r.dCost, money) : null,
    h('td', { class: 'change' }, change(r))));
  const runHead = (label, run) => h('th', { colspan: 3, class: `run-head${label === 'B' ? ' sep' : ''}` }, `${label} · `, runLink(run.id)(run.id), ' ',
    badge(run.meta.status), h('span', { class: 'note' }, ` ${fmtDur(label === 'A' ? sum.durA : sum.durB)}`));
  const cols = (sep) => [h('th', { class: sep }, 'Node'), h('th', { class: 'num' }, 'Duration'), h('th', { class: 'axis-head' }, axis(scale))];
  return h('div', { class: 'table-scroll' }, h('table', { class: `runs cmp${priced ? ' priced' : ''}` },
    h('colgroup', {}, ['name', 'dur', 'bar', 'name', 'dur', 'bar', 'delta', 'delta', priced ? 'delta' : null, 'change'].filter(Boolean)
      .map((c) => h('col', { class: `c-${c}` }))),
    h('thead', {}, h('tr', {}, runHead('A', A), runHead('B', B), h('th', { colspan: priced ? 4 : 3, class: 'sep' }, 'B − A (Δ tokens and cost: the node and all under it)')),
      h('tr', {}, cols(''), cols('sep'),
        h('th', { class: 'num sep' }, 'Δ duration'), h('th', { class: 'num' }, 'Δ tokens'), priced ? h('th', { class: 'num' }, 'Δ cost') : null,
        h('th', {}, 'Changed'))),
    h('tbody', {}, body)));
}

// One or both runs do not exist: say which, and link the one that does.
function notFound(A, B) {
  return h('div', { class: 'not-found', role: 'status' }, h('h2', {}, 'Cannot compare these runs'),
    [A, B].map((run, i) => h('p', {}, `${i ? 'B' : 'A'}: `, run.missing
      ? `No execution ${run.id}: Arbor holds no span of it. Check the ID; a run whose first span has not arrived yet is not here either.`
      : [runLink(run.id)(run.id), ' ', badge(run.meta.status)])),
    h('p', { class: 'note' }, 'Pick two executions in ', h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), ', or use "Compare with previous run" on one.'));
}

export async function showCompare(params) {
  router.current?.close();
  router.current = null;
  const a = params.get('a') || '', b = params.get('b') || '';
  document.title = 'Compare · Arbor';
  setCrumbs(h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), a && b ? `Compare ${a} with ${b}` : 'Compare');
  const view = h('section', { class: 'list compare' }, h('div', { class: 'note' }, 'Loading both runs…'));
  $('#app').replaceChildren(view);
  if (!a || !b) {
    view.replaceChildren(h('div', { class: 'empty' }, 'Pick two executions to compare: select them in the list, or use "Compare with previous run" on an execution.'));
    return;
  }
  try {
    const prices = await api('/api/prices').then(compile, () => null);
    const [A, B] = await Promise.all([loadRun(a, prices), loadRun(b, prices)]);
    if (A.missing || B.missing) { view.replaceChildren(notFound(A, B)); return; }
    const { rows, summary } = compareRuns(A.roots, B.roots);
    const priced = prices && prices.rules.length > 0 && (summary.costA > 0 || summary.costB > 0);
    view.replaceChildren(summaryBox(summary, A, B, prices?.currency, priced), sideBySide(rows, A, B, summary, prices?.currency, priced));
  } catch (e) {
    view.replaceChildren(h('div', { class: 'error-box' }, `Could not load the runs: ${e.message}`));
  }
}
