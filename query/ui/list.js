// The home page: recent executions, and in-flight traces that have none.
import { $, h, api, badge, setCrumbs } from './dom.js';
import { ms, fmtAge, fmtDur, fmtNum, fmtTime } from './format.js';
import { router, navigate } from './nav.js';

export async function showList() {
  router.current?.close();
  router.current = null;
  document.title = 'Arbor';
  setCrumbs('Recent runs');
  const refresh = h('button', { type: 'button', onclick: () => showList() }, 'Refresh');
  const compare = h('button', { type: 'button', class: 'compare-selected', disabled: true, title: 'Select two executions' }, 'Compare selected');
  compare.addEventListener('click', () => {
    const picked = [...view.querySelectorAll('input.pick:checked')].map((c) => ({ id: c.value, at: Number(c.dataset.started) }))
      .sort((x, y) => x.at - y.at); // the older run is A
    if (picked.length === 2) {
      history.pushState(null, '', `/compare?a=${encodeURIComponent(picked[0].id)}&b=${encodeURIComponent(picked[1].id)}`);
      router.route();
    }
  });
  const view = h('section', { class: 'list' }, h('div', { class: 'toolbar' }, refresh, compare));
  view.addEventListener('change', (e) => {
    if (!e.target.matches('input.pick')) return;
    const n = view.querySelectorAll('input.pick:checked').length;
    compare.disabled = n !== 2;
    compare.textContent = n === 2 ? 'Compare selected' : `Compare selected (${n}/2)`;
  });
  $('#app').replaceChildren(view);
  try {
    const [ex, tr] = await Promise.all([api('/api/executions?limit=100'), api('/api/traces?limit=100&status=running')]);
    view.append(h('h2', {}, 'Executions'), runsTable(ex.executions, true));
    const orphans = tr.traces.filter((t) => !t.execution_id);
    view.append(h('h2', {}, 'In-flight traces'), runsTable(orphans, false));
  } catch (e) {
    view.append(h('div', { class: 'error-box' }, `Could not load runs: ${e.message}`));
  }
}

function runsTable(rows, executions) {
  if (!rows.length) return h('div', { class: 'empty' }, executions ? 'No executions yet.' : 'None right now.');
  const head = h('tr', {}, [executions ? '' : null, 'Status', executions ? 'Execution' : 'Trace', 'Root span', 'Service', 'Started', 'Duration',
    'Spans', 'Errors', 'Tokens in/out'].filter((t) => t !== null).map((t, i) => h('th', { class: i >= (executions ? 6 : 5) ? 'num' : '' }, t)));
  const body = rows.map((r) => {
    const q = executions ? `execution=${encodeURIComponent(r.execution_id)}` : `trace=${r.trace_id}`;
    const dur = r.finished_at ? ms(r.finished_at) - ms(r.started_at) : Date.now() - ms(r.started_at);
    return h('tr', { class: 'run', onclick: () => navigate(q) },
      executions ? h('td', { onclick: (e) => e.stopPropagation() }, h('input', { type: 'checkbox', class: 'pick', value: r.execution_id,
        'data-started': String(ms(r.started_at)), 'aria-label': `Select ${r.execution_id} to compare` })) : null,
      h('td', {}, badge(r.status)),
      h('td', {}, h('a', { href: `/?${q}`, 'data-nav': `/?${q}`, class: 'mono' }, executions ? r.execution_id : r.trace_id)),
      h('td', {}, r.root_name ?? h('span', { class: 'note' }, 'pending')),
      h('td', {}, r.service_name || ''),
      h('td', { title: fmtTime(r.started_at) }, fmtAge(r.started_at)),
      h('td', { class: 'num' }, fmtDur(dur)),
      h('td', { class: 'num' }, fmtNum(r.span_count)),
      h('td', { class: 'num' }, r.error_count ? h('span', { class: 'errs' }, r.error_count) : '0'),
      h('td', { class: 'num' }, `${fmtNum(r.token_usage.input)} / ${fmtNum(r.token_usage.output)}`));
  });
  return h('table', { class: 'runs' }, h('thead', {}, head), h('tbody', {}, body));
}
