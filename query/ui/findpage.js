// The search page (/search): every trace, executions or not. Filters (service,
// span name, status, duration, time range, attribute = value with suggestions
// from the tag endpoints) or a TraceQL box; an ID box that jumps; results as a
// sortable, paged table under a duration-over-time scatter plot. All of it is in
// the URL (findquery.js), so a search is a link.
import { $, h, api, setCrumbs } from './dom.js';
import { fmtDur, fmtTime } from './format.js';
import { router, navigate } from './nav.js';
import { readState, writeState, hasCriteria, traceql, searchUrl, errorColumn, jumpTarget, rows, RELATIVE, PAGE_SIZE } from './findquery.js';

const go = (query) => { history.pushState(null, '', `/search${query ? `?${query}` : ''}`); router.route(); };

// Suggestions for an input from a Tempo tag-values endpoint, filled once.
function suggest(id, tag) {
  const list = h('datalist', { id });
  api(`/api/v2/search/tag/${encodeURIComponent(tag)}/values?limit=500`)
    .then((r) => list.replaceChildren(...r.tagValues.map((v) => h('option', { value: v.value })))).catch(() => {});
  return list;
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

function attrRow(a, rowsBox) {
  const key = h('input', { type: 'text', class: 'akey', value: a.key, list: 'find-keys', placeholder: 'attribute', 'aria-label': 'Attribute key' });
  const listId = `find-vals-${Math.random().toString(36).slice(2)}`;
  const vals = h('datalist', { id: listId });
  const value = h('input', { type: 'text', class: 'aval', value: a.value, list: listId, placeholder: 'value', 'aria-label': 'Attribute value' });
  const fill = () => key.value && api(`/api/v2/search/tag/${encodeURIComponent(key.value.includes('.') && /^(span|resource)\./.test(key.value) ? key.value : `.${key.value}`)}/values?limit=200`)
    .then((r) => vals.replaceChildren(...r.tagValues.map((v) => h('option', { value: v.value })))).catch(() => {});
  key.addEventListener('change', fill);
  if (a.key) fill();
  const row = h('div', { class: 'attr-row' }, key, h('span', {}, '='), value, vals,
    h('button', { type: 'button', 'aria-label': 'Remove this filter', onclick: () => row.remove() }, '×'));
  rowsBox.append(row);
  return key;
}

function form(s) {
  const status = h('select', { name: 'status', 'aria-label': 'Status' },
    [['', 'any'], ['error', 'error'], ['ok', 'ok'], ['unset', 'unset']].map(([v, t]) => h('option', { value: v, selected: s.status === v }, t)));
  const since = h('select', { name: 'since', 'aria-label': 'Time range' },
    [['', 'any time'], ...Object.keys(RELATIVE).map((k) => [k, `last ${k}`]), ['abs', 'between…']]
      .map(([v, t]) => h('option', { value: v, selected: (s.since || (s.from || s.to ? 'abs' : '')) === v }, t)));
  const from = h('input', { type: 'datetime-local', name: 'from', value: s.from, 'aria-label': 'From' });
  const to = h('input', { type: 'datetime-local', name: 'to', value: s.to, 'aria-label': 'To' });
  const abs = h('span', { class: `abs${since.value === 'abs' ? '' : ' hidden'}` }, from, ' – ', to);
  since.addEventListener('change', () => abs.classList.toggle('hidden', since.value !== 'abs'));
  const attrs = h('div', { class: 'attr-list' });
  const keys = h('datalist', { id: 'find-keys' });
  api('/api/v2/search/tags').then((r) => keys.replaceChildren(...r.scopes.filter((x) => x.name !== 'intrinsic')
    .flatMap((x) => x.tags.map((t) => h('option', { value: x.name === 'span' ? t : `resource.${t}` }))))).catch(() => {});
  for (const a of s.attrs) attrRow(a, attrs);
  const q = h('textarea', { name: 'q', rows: 2, spellcheck: 'false', placeholder: '{ span.http.status_code >= 500 } (TraceQL: replaces the filters above)', 'aria-label': 'TraceQL' }, s.q);
  const f = h('form', { class: 'find-form', autocomplete: 'off' },
    h('div', { class: 'find-grid' },
      field('Service', h('input', { type: 'text', name: 'service', value: s.service, list: 'find-services' })), suggest('find-services', 'resource.service.name'),
      field('Span name', h('input', { type: 'text', name: 'name', value: s.name, list: 'find-names' })), suggest('find-names', 'name'),
      field('Status', status),
      field('Duration', h('span', { class: 'dur' }, h('input', { type: 'text', name: 'min', value: s.min, placeholder: 'min, e.g. 100ms', 'aria-label': 'Minimum duration' }),
        ' – ', h('input', { type: 'text', name: 'max', value: s.max, placeholder: 'max, e.g. 2s', 'aria-label': 'Maximum duration' }))),
      field('Time', h('span', {}, since, ' ', abs))),
    h('div', { class: 'attr-box' }, h('span', { class: 'label' }, 'Attributes'), attrs, keys,
      h('button', { type: 'button', class: 'add-attr', onclick: () => attrRow({ key: '', value: '' }, attrs).focus() }, '+ attribute = value')),
    field('TraceQL', q), h('div', { class: 'q-error hidden', role: 'alert' }),
    h('div', { class: 'find-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'),
      h('button', { type: 'button', onclick: () => go('') }, 'Clear')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = (n) => f.elements[n].value.trim();
    const st = { service: v('service'), name: v('name'), status: v('status'), min: v('min'), max: v('max'),
      since: v('since') === 'abs' ? '' : v('since'), from: v('since') === 'abs' ? v('from') : '', to: v('since') === 'abs' ? v('to') : '',
      attrs: [...f.querySelectorAll('.attr-row')].map((r) => ({ key: $('.akey', r).value.trim(), value: $('.aval', r).value })).filter((a) => a.key),
      q: q.value, limit: s.limit, sort: s.sort, desc: s.desc, page: 0 };
    go(writeState(st));
  });
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); f.requestSubmit(); } });
  return f;
}

// Duration over start time, one dot per trace; a click opens it.
function scatter(list) {
  const W = 1000, H = 180, P = 28;
  if (!list.length) return h('div');
  const t0 = Math.min(...list.map((r) => r.startMs)), t1 = Math.max(...list.map((r) => r.startMs));
  const dMax = Math.max(...list.map((r) => r.duration), 1);
  const x = (t) => (t1 > t0 ? P + ((t - t0) / (t1 - t0)) * (W - 2 * P) : W / 2);
  const y = (d) => H - P - (Math.log10(1 + d) / Math.log10(1 + dMax)) * (H - 2 * P);
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, ...kids) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); e.append(...kids); return e; };
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'scatter', role: 'img', 'aria-label': 'Trace durations over time' });
  svg.append(el('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, class: 'axis' }), el('line', { x1: P, y1: P, x2: P, y2: H - P, class: 'axis' }),
    el('text', { x: P, y: H - 8, class: 'tick' }, fmtTime(new Date(t0).toISOString())),
    el('text', { x: W - P, y: H - 8, class: 'tick end' }, fmtTime(new Date(t1).toISOString())),
    el('text', { x: P + 4, y: P - 8, class: 'tick' }, fmtDur(dMax)));
  for (const r of list) {
    const dot = el('circle', { cx: x(r.startMs).toFixed(1), cy: y(r.duration).toFixed(1), r: 5, class: 'dot', tabindex: '0', 'data-id': r.id },
      el('title', {}, `${r.root || r.id} · ${fmtDur(r.duration)} · ${fmtTime(new Date(r.startMs).toISOString())}`));
    const open = () => navigate(`trace=${r.id}`);
    dot.addEventListener('click', open);
    dot.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    svg.append(dot);
  }
  return h('div', { class: 'scatter-box' }, svg);
}

function table(s, list) {
  const cols = [['id', 'Trace'], ['service', 'Root service'], ['root', 'Root span'], ['start', 'Started'], ['duration', 'Duration'], ['matched', 'Matched spans']];
  const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE)), page = Math.min(s.page, pages - 1);
  const sortBy = (k) => go(writeState({ ...s, sort: k, desc: s.sort === k ? !s.desc : true, page: 0 }));
  const head = h('tr', {}, cols.map(([k, t], i) => h('th', { class: i >= 4 ? 'num' : '', 'aria-sort': s.sort === k ? (s.desc ? 'descending' : 'ascending') : 'none' },
    h('button', { type: 'button', class: 'sort', onclick: () => sortBy(k) }, t, s.sort === k ? (s.desc ? ' ▾' : ' ▴') : ''))));
  const body = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((r) => h('tr', { class: 'run', onclick: () => navigate(`trace=${r.id}`) },
    h('td', {}, h('a', { href: `/?trace=${r.id}`, 'data-nav': `/?trace=${r.id}`, class: 'mono' }, r.id)),
    h('td', {}, r.service), h('td', {}, r.root || h('span', { class: 'note' }, 'root not received')),
    h('td', { title: fmtTime(new Date(r.startMs).toISOString()) }, fmtTime(new Date(r.startMs).toISOString())),
    h('td', { class: 'num' }, fmtDur(r.duration)), h('td', { class: 'num' }, String(r.matched))));
  const pager = h('div', { class: 'pager' },
    h('button', { type: 'button', disabled: page === 0, onclick: () => go(writeState({ ...s, page: page - 1 })) }, '‹ Previous'),
    h('span', {}, ` page ${page + 1} of ${pages} · ${list.length} traces `),
    h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => go(writeState({ ...s, page: page + 1 })) }, 'Next ›'));
  return h('div', {}, h('div', { class: 'table-scroll' }, h('table', { class: 'runs find-results' }, h('thead', {}, head), h('tbody', {}, body))), pager);
}

export async function showSearch(params) {
  router.current?.close();
  router.current = null;
  document.title = 'Search · Arbor';
  setCrumbs(h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), 'Search');
  const s = readState(params);
  const jump = h('input', { type: 'search', class: 'jump', placeholder: 'Trace or execution ID', 'aria-label': 'Go to a trace or execution ID' });
  const jumpForm = h('form', { class: 'jump-form', onsubmit: (e) => { e.preventDefault(); const t = jumpTarget(jump.value); if (t) navigate(t); } },
    jump, h('button', { type: 'submit' }, 'Open'));
  const f = form(s);
  const out = h('div', { class: 'find-out' });
  const view = h('section', { class: 'list find' }, jumpForm, f, out);
  $('#app').replaceChildren(view);
  if (!hasCriteria(s)) {
    out.append(h('div', { class: 'empty' }, 'Pick filters, or type TraceQL, and press Search. Every trace is searched, with or without an execution.'));
    return;
  }
  out.append(h('div', { class: 'note' }, `Searching ${traceql(s)} …`));
  try {
    const answer = await api(searchUrl(s, Date.now()));
    const list = rows(answer, s.sort, s.desc);
    out.replaceChildren(h('div', { class: 'find-summary' }, `${list.length} trace${list.length === 1 ? '' : 's'} for `, h('code', {}, traceql(s)),
      answer.partial ? h('span', { class: 'note' }, ` (partial: ${answer.partialReason || 'not every trace was searched'})`) : ''),
    list.length ? scatter(list) : h('div', { class: 'empty' }, 'No trace matches.'), list.length ? table(s, list) : '');
  } catch (e) {
    out.replaceChildren();
    const err = $('.q-error', f);
    const col = errorColumn(e.message);
    err.replaceChildren(h('div', {}, e.message), col && s.q ? h('pre', { class: 'caret' }, `${s.q.trim()}\n${' '.repeat(col - 1)}^`) : '');
    err.classList.remove('hidden');
  }
}
