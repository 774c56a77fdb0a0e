// One execution or trace: a virtualised tree + waterfall built on the skeleton
// endpoint, keyboard navigation, in-trace search, the detail panel on demand.
import { $, h, api, copy, copyButton, eachPage, fill, setCrumbs, toast } from './dom.js';
import { fmtDur, fmtNum, fmtTime, ms } from './format.js';
import { buildTree, fromSkeleton, serviceColour, totals, upsert, visibleRows } from './model.js';
import { connect } from './live.js';
import { compile, fmtCost, priceNodes } from './prices.js';
import { criticalOutline, criticalPath, idleGaps, niceTicks, zoomAround } from './waterfall.js';
import { previousRun } from './compare.js';
import { detailView, overview } from './detail.js';
import { router } from './nav.js';

// the row height is the stylesheet's (--row): one place to change it
const ROW = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 26;
const OVERSCAN = 12, PAGE = 10000;

export class TraceView {
  constructor(params) {
    this.kind = params.get('execution') !== null ? 'executions' : 'traces';
    this.id = params.get('execution') ?? params.get('trace');
    this.selected = params.get('span');
    this.query = params.get('q') || '';
    this.hide = params.get('hide') === '1';
    this.showCost = params.get('cost') === '1';
    this.collapsed = new Set((params.get('collapsed') || '').split(',').filter(Boolean));
    this.nodes = new Map();
    this.rows = [];
    this.pool = [];
    this.meta = null;
    this.failure = null; // the error that stopped the load: shown in the grid's place
    this.seq = 0;
    this.complete = false;
    this.closed = false;
    this.detailToken = 0;
    this.renderQueued = false;
    this.build();
    this.load();
  }

  base() { return `/api/${this.kind}/${encodeURIComponent(this.id)}`; }

  // --- layout ---
  build() {
    this.header = h('div', { class: 'theader' });
    this.search = h('input', { type: 'search', placeholder: 'Search spans  (/)', 'aria-label': 'Search spans', value: this.query });
    this.hideBox = h('input', { type: 'checkbox', checked: this.hide });
    this.matchCount = h('span', { class: 'count' });
    this.search.addEventListener('input', () => { this.query = this.search.value.trim(); this.refresh(true); this.findInSpans(); });
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); this.nextMatch(e.shiftKey ? -1 : 1); }
      if (e.key === 'Escape') { e.preventDefault(); this.search.value = ''; this.query = ''; this.refresh(true); this.grid.focus(); }
    });
    this.hideBox.addEventListener('change', () => { this.hide = this.hideBox.checked; this.refresh(true); });
    this.costBox = h('input', { type: 'checkbox', class: 'cost-toggle', checked: this.showCost });
    this.costBox.addEventListener('change', () => { this.showCost = this.costBox.checked; this.grid.classList.toggle('show-cost', this.showCost); this.refresh(true); });
    const toolbar = h('div', { class: 'toolbar' }, this.search,
      h('label', {}, this.hideBox, 'Matches only'), this.matchCount,
      h('label', { title: 'Each span\'s model, tokens and cost (ARBOR_PRICES), own and Σ subtree' }, this.costBox, 'Cost'),
      h('button', { type: 'button', onclick: () => { this.collapsed.clear(); this.refresh(true); } }, 'Expand all'),
      h('button', { type: 'button', onclick: () => this.collapseAll() }, 'Collapse all'),
      this.resetZoom = h('button', { type: 'button', class: 'reset-zoom hidden', title: 'Show the whole trace (0)', onclick: () => this.setView(null) }, 'Reset zoom'));
    this.legend = h('div', { class: 'legend', 'aria-label': 'Services' });
    this.minimap = h('canvas', { class: 'minimap', height: 28, 'aria-label': 'The whole trace; the visible window is outlined. Click to move it there.' });
    this.minimap.addEventListener('click', (e) => {
      if (!this.view) return;
      const r = this.minimap.getBoundingClientRect(), w = this.view.b - this.view.a;
      const at = this.t0 + ((e.clientX - r.left) / r.width) * (this.t1 - this.t0);
      this.setView({ a: Math.max(this.t0, Math.min(at - w / 2, this.t1 - w)), b: 0 }, w);
    });
    this.axis = h('div', { class: 'axis' });
    this.spacer = h('div', { class: 'spacer-rows' });
    this.emptyState = h('div', { class: 'empty-state hidden', role: 'status' });
    this.viewport = h('div', { class: 'viewport' }, this.emptyState, this.spacer);
    this.grid = h('div', { class: `grid${this.showCost ? ' show-cost' : ''}`, role: 'treegrid', tabindex: '0', 'aria-label': 'Spans', 'aria-multiselectable': 'false' },
      h('div', { class: 'ghead', role: 'row' }, h('div', { role: 'columnheader' }, 'Span'),
        h('div', { role: 'columnheader', class: 'hcost' }, 'Cost · model'),
        h('div', { role: 'columnheader', style: 'text-align:right' }, 'Duration'), h('div', { role: 'columnheader', class: 'axis-wrap' }, this.axis)),
      this.viewport);
    this.detail = h('aside', { class: 'detail hidden', 'aria-label': 'Span detail' });
    this.viewport.addEventListener('scroll', () => this.render());
    this.grid.addEventListener('keydown', (e) => this.onKey(e));
    this.viewport.addEventListener('click', (e) => {
      const row = e.target.closest('.row');
      if (!row) return;
      const id = row.dataset.id;
      if (e.target.closest('.twisty')) this.toggle(id);
      else this.select(id, true);
      this.grid.focus({ preventScroll: true });
    });
    new ResizeObserver(() => this.render()).observe(this.viewport);
    new ResizeObserver(() => this.renderAxis()).observe(this.axis); // the detail panel or Cost column took room: fewer ticks
    this.bindZoom();
    this.section = h('section', { class: 'trace' }, this.header, toolbar, this.legend, this.minimap, h('div', { class: 'body' }, this.grid, this.detail));
    $('#app').replaceChildren(this.section);
    setCrumbs(h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), `${this.kind === 'executions' ? 'Execution' : 'Trace'} ${this.id}`);
    document.title = `Arbor · ${this.id}`;
    this.renderHeader();
  }

  // --- data ---
  async load() {
    try {
      const prices = api('/api/prices').then(compile, () => null); // no table: no cost figures
      let first = true;
      await eachPage(`${this.base()}/tree?limit=${PAGE}&events=1`, (page) => {
        if (this.closed) return false;
        if (first) { this.meta = page.execution; this.seq = page.seq; first = false; }
        for (const s of page.spans) upsert(this.nodes, fromSkeleton(s));
        return true;
      });
      if (this.closed) return;
      this.prices = await prices;
      this.loaded = true;
      this.refresh(false);
      if (this.query) this.findInSpans();
      if (this.selected && this.nodes.has(this.selected)) this.select(this.selected, true, true);
      connect(this);
    } catch (e) {
      if (this.closed) return;
      this.failure = e;
      this.renderHeader();
    }
  }

  async reloadMeta() {
    try {
      const page = await api(`${this.base()}/tree?limit=1`);
      this.meta = page.execution;
      this.renderHeader();
    } catch { /* the header keeps what it had */ }
  }

  close() {
    this.closed = true;
    clearTimeout(this.reconnect);
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
  }

  // --- model (model.js) ---
  rebuild() {
    priceNodes(this.nodes, this.prices);
    Object.assign(this, buildTree(this.nodes)); // roots, t0, t1
    const { outline, everySpan } = criticalOutline(criticalPath(this.roots), this.nodes);
    this.critical = outline;
    this.gaps = idleGaps(this.nodes, this.t0, this.t1);
    this.renderLegend(everySpan);
  }

  // What the bars' colours, outline and hatching mean: the services (when there
  // is more than one), the critical path, idle time.
  renderLegend(everySpan) {
    const services = [...new Set([...this.nodes.values()].map((n) => n.service).filter(Boolean))].sort();
    const key = [...services, this.critical.size > 0, everySpan, this.gaps.length > 0].join('\n');
    if (key === this.legendKey) return;
    this.legendKey = key;
    fill(this.legend, services.length > 1 ? services.map((sv) => h('span', { class: 'svc' },
      h('i', { style: `background:${serviceColour(sv)}` }), sv)) : null,
    this.critical.size ? h('span', { class: 'key-crit', title: 'The chain of spans that decided when the run ended: from the last to end, the child that ended last, the one before it, …' },
      h('i'), 'critical path') : null,
    everySpan ? h('span', { class: 'key-crit every' }, 'every span is on the critical path (nothing ran in parallel)') : null,
    this.gaps.length ? h('span', { class: 'key-idle', title: 'Nothing of the run was running' }, h('i'), 'idle') : null);
    this.legend.classList.toggle('hidden', !this.legend.childElementCount);
  }

  // --- zoom: the window of time the bars and the axis show ---
  win() { return this.view || { a: this.t0, b: this.t1 }; }

  setView(view, width) {
    if (view && width) view.b = view.a + width;
    this.view = view && view.b - view.a < (this.t1 - this.t0) * 0.999 ? view : null;
    this.resetZoom.classList.toggle('hidden', !this.view);
    this.renderAxis();
    this.render();
  }

  // Drag across the axis to zoom to a range; the wheel over the axis (or with
  // Ctrl over the bars) zooms around the pointer.
  bindZoom() {
    const frac = (e, el) => { const r = el.getBoundingClientRect(); return Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)); };
    const wheel = (e, el) => {
      e.preventDefault();
      this.setView(zoomAround(this.win(), this.t0, this.t1, frac(e, el), e.deltaY < 0 ? 0.8 : 1.25));
    };
    this.axis.addEventListener('wheel', (e) => wheel(e, this.axis), { passive: false });
    this.viewport.addEventListener('wheel', (e) => {
      const bar = e.target.closest('.cbar');
      if (e.ctrlKey && bar) wheel(e, bar);
    }, { passive: false });
    this.axis.addEventListener('mousedown', (e) => {
      const from = frac(e, this.axis), band = h('div', { class: 'zoom-band' });
      this.axis.append(band);
      const move = (ev) => { const to = frac(ev, this.axis); band.style.left = `${Math.min(from, to) * 100}%`; band.style.width = `${Math.abs(to - from) * 100}%`; };
      const up = (ev) => {
        document.removeEventListener('mousemove', move);
        document.removeEventListener('mouseup', up);
        band.remove();
        const to = frac(ev, this.axis), w = this.win();
        if (Math.abs(to - from) * this.axis.clientWidth < 5) return;
        const span = w.b - w.a;
        this.setView({ a: w.a + Math.min(from, to) * span, b: w.a + Math.max(from, to) * span });
      };
      document.addEventListener('mousemove', move);
      document.addEventListener('mouseup', up);
    });
  }

  flatten() {
    const found = this.found && this.found.query === this.query ? this.found.ids : null;
    Object.assign(this, visibleRows(this.nodes, this.roots, { query: this.query, hide: this.hide, collapsed: this.collapsed, found }));
  }

  // Names match here at once; attribute values, event text and status messages
  // are searched by the server (the skeleton's ?match=), a moment after typing stops.
  findInSpans() {
    clearTimeout(this.findTimer);
    const q = this.query;
    if (!q) { this.found = null; return; }
    this.findTimer = setTimeout(async () => {
      try {
        const page = await api(`${this.base()}/tree?limit=1&match=${encodeURIComponent(q)}`);
        if (this.closed || this.query !== q) return;
        this.found = { query: q, ids: new Set(page.matches || []), truncated: !!page.matches_truncated };
        this.refresh(false);
      } catch { /* names still match */ }
    }, 250);
  }

  refresh(stateChanged) {
    if (stateChanged) this.saveUrl();
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (this.closed) return;
      this.rebuild();
      this.flatten();
      this.renderHeader();
      this.renderAxis();
      this.spacer.style.height = `${this.rows.length * ROW}px`;
      this.grid.setAttribute('aria-rowcount', String(this.rows.length));
      const searching = this.query && !(this.found && this.found.query === this.query);
      this.matchCount.textContent = this.query ? `${this.matches.size} match${this.matches.size === 1 ? '' : 'es'}` +
        (searching ? ' (searching attributes…)' : this.found?.truncated ? ' (search stopped early)' : '') : '';
      this.render();
    });
  }

  saveUrl() {
    const p = new URLSearchParams();
    p.set(this.kind === 'executions' ? 'execution' : 'trace', this.id);
    if (this.selected) p.set('span', this.selected);
    if (this.query) p.set('q', this.query);
    if (this.hide) p.set('hide', '1');
    if (this.showCost) p.set('cost', '1');
    if (this.collapsed.size && this.collapsed.size <= 200) p.set('collapsed', [...this.collapsed].join(','));
    history.replaceState(null, '', `/?${p}`);
  }

  // --- rendering ---
  renderHeader() {
    const m = this.meta;
    this.renderState();
    if (this.failure) {
      const missing = this.failure.status === 404;
      fill(this.header, h('h1', {}, this.id), h('span', { class: `badge ${missing ? 'unknown' : 'error'}` }, missing ? 'not found' : 'error'),
        missing ? null : h('span', { class: 'note' }, 'Could not load'), h('span', { class: 'spacer' }),
        h('button', { type: 'button', onclick: () => this.reload() }, 'Refresh'));
      return;
    }
    if (!m) { this.header.replaceChildren(h('h1', {}, this.id), h('span', { class: 'note' }, 'Loading…')); return; }
    const { spans, errors, tin, tout, cost, priced } = totals(this.nodes);
    const started = this.nodes.size ? this.t0 : ms(m.started_at);
    const running = m.status === 'running' || m.status === 'unknown';
    const dur = m.finished_at ? ms(m.finished_at) - ms(m.started_at) : (this.nodes.size ? this.t1 - this.t0 : NaN);
    // one badge: the run's status, and whether it is followed live
    const follow = this.complete ? 'done' : this.live ? 'live' : running ? 'offline' : '';
    const statusBadge = h('span', { class: `badge ${m.status}${follow ? ` ${follow}` : ''}`,
      title: follow === 'live' ? 'Receiving spans as they commit' : follow === 'offline' ? 'Not following live updates' : '' },
    m.status + (follow === 'live' ? ' · live' : follow === 'offline' ? ' · offline' : ''));
    const links = (m.external_links || []).map((l) => h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer' }, l.name));
    const traceId = m.trace_id;
    fill(this.header,
      h('h1', {}, this.id), statusBadge,
      h('div', { class: 'facts' },
        h('span', {}, 'Start ', h('b', {}, isFinite(started) ? fmtTime(new Date(started).toISOString()) : '—')),
        h('span', {}, 'Duration ', h('b', {}, isFinite(dur) ? fmtDur(dur) : '—'), running ? ' (so far)' : ''),
        h('span', {}, 'Spans ', h('b', { 'data-testid': 'span-count' }, String(spans))),
        h('span', {}, 'Errors ', h('b', { class: errors ? 'errs' : '' }, String(errors))),
        h('span', {}, 'Tokens in/out ', h('b', {}, `${tin} / ${tout}`)),
        priced ? h('span', { title: `${priced} priced span${priced === 1 ? '' : 's'} (ARBOR_PRICES)` }, 'Cost ',
          h('b', { 'data-testid': 'cost' }, fmtCost(cost, this.prices.currency))) : null,
        traceId ? h('span', {}, 'Trace ', h('code', {}, traceId), copyButton(traceId)) : null),
      h('span', { class: 'spacer' }), ...links,
      this.kind === 'executions' && m.workflow_id ? h('button', { type: 'button', class: 'compare-prev', onclick: () => this.compareWithPrevious() }, 'Compare with previous run') : null,
      h('button', { type: 'button', class: 'dl-otlp', title: 'The trace as OTLP JSON, the shape of Tempo\'s /api/v2/traces', onclick: () => this.download('otlp') }, 'OTLP JSON'),
      h('button', { type: 'button', class: 'dl-canvas', title: 'The TraceResponse the Canvas reads, every page', onclick: () => this.download('canvas') }, 'Canvas JSON'),
      h('button', { type: 'button', onclick: () => this.reload() }, 'Refresh'));
  }

  // What stands in the grid's place while there are no rows to show: loading,
  // nothing yet (an execution is followed live until its spans come), not found,
  // or why it could not load (then the grid, its toolbar and minimap are gone).
  renderState() {
    const what = this.kind === 'executions' ? 'execution' : 'trace';
    const f = this.failure;
    this.section.classList.toggle('failed', Boolean(f));
    this.emptyState.classList.toggle('hidden', !f && this.loaded && this.nodes.size > 0);
    this.emptyState.classList.toggle('failure', Boolean(f) && f.status !== 404);
    this.emptyState.textContent = f?.status === 404
      ? `No ${what} ${this.id}: Arbor holds no span with this ID. Check the ID; a ${what} removed by retention is gone too.`
      : f ? `Could not load ${what} ${this.id}: ${f.message}`
        : !this.loaded ? 'Loading spans…'
          : this.meta?.status === 'unknown'
            ? `Arbor has no span of ${what} ${this.id} yet: the ID may be wrong, or its first span has not arrived. This view follows it live and fills in when it does.`
            : 'No spans yet.';
  }

  // The same workflow's run before this one, side by side with this one.
  async compareWithPrevious() {
    try {
      const list = await api(`/api/executions?workflow_id=${encodeURIComponent(this.meta.workflow_id)}&limit=1000`);
      const prev = previousRun(list.executions, { execution_id: this.id, started_at: this.meta.started_at });
      if (!prev) { toast('No earlier run of this workflow'); return; }
      history.pushState(null, '', `/compare?a=${encodeURIComponent(prev.execution_id)}&b=${encodeURIComponent(this.id)}`);
      router.route();
    } catch (e) {
      toast(`Could not list the workflow's runs: ${e.message}`);
    }
  }

  // Save the trace: OTLP JSON ({"trace": {"resourceSpans": …}} over every trace
  // of the execution) or the Canvas's TraceResponse with every page.
  async download(kind) {
    try {
      let body;
      if (kind === 'otlp') {
        const ids = this.kind === 'traces' ? [this.id] : (this.meta?.trace_ids || []);
        const parts = await Promise.all(ids.map((t) => api(`/api/v2/traces/${t}`)));
        body = { trace: { resourceSpans: parts.flatMap((p) => p.trace?.resourceSpans || []) } };
      } else {
        let first = null;
        await eachPage(`${this.base()}/trace?limit=10000`, (page) => { if (first) first.spans.push(...page.spans); else first = page; });
        first.page_info = { has_next_page: false, cursor: null };
        body = first;
      }
      const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 1)], { type: 'application/json' }));
      const a = h('a', { href: url, download: `${this.id}.${kind}.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      toast(`Download failed: ${e.message}`);
    }
  }

  reload() {
    this.close();
    router.current = new TraceView(new URLSearchParams(location.search));
  }

  // Ticks at a 1-2-5 step, ~90 px apart at any width; times from the trace's start.
  renderAxis() {
    const w = this.win();
    const ticks = niceTicks(w.a, w.b, this.axis.clientWidth || 600, this.t0);
    this.axis.replaceChildren(...ticks.map((t) => h('span', { class: 'tick', style: `left:${t.frac * 100}%` }, fmtDur(t.offset))));
    this.drawMinimap();
  }

  // Every span as a thin line (x: time, y: row), and the zoom window on top.
  drawMinimap() {
    const c = this.minimap, width = c.clientWidth || 600;
    if (c.width !== width) c.width = width;
    const g = c.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, c.width, c.height);
    const span = this.t1 - this.t0 || 1, rows = this.rows.length || 1, step = Math.max(1, Math.floor(rows / 2000));
    g.fillStyle = '#4c78c2';
    for (let i = 0; i < this.rows.length; i += step) {
      const n = this.rows[i];
      g.fillRect(((n.start - this.t0) / span) * width, (i / rows) * (c.height - 2), Math.max(1, ((n.end - n.start) / span) * width), 1.5);
    }
    if (this.view) {
      g.strokeStyle = '#e6e9ef';
      g.lineWidth = 1.5;
      g.strokeRect(((this.view.a - this.t0) / span) * width + 0.5, 0.5, ((this.view.b - this.view.a) / span) * width - 1, c.height - 1);
    }
  }

  render() {
    const vh = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((this.viewport.scrollTop + vh) / ROW) + OVERSCAN);
    const need = last - first;
    while (this.pool.length < need) {
      const el = rowElement();
      this.pool.push(el);
      this.spacer.append(el);
    }
    for (let i = 0; i < this.pool.length; i++) {
      const el = this.pool[i];
      if (i >= need) { el.hidden = true; continue; }
      el.hidden = false;
      this.fillRow(el, this.rows[first + i], first + i);
    }
  }

  fillRow(el, n, index) {
    const { a: va, b: vb } = this.win(), span = vb - va;
    el.style.top = `${index * ROW}px`;
    el.dataset.id = n.id;
    el.setAttribute('aria-rowindex', String(index + 1));
    el.setAttribute('aria-level', String(n.depth + 1));
    el.setAttribute('aria-selected', String(n.id === this.selected));
    if (n.children.length) el.setAttribute('aria-expanded', String(!this.collapsed.has(n.id) || (this.query !== '' && !this.hide)));
    else el.removeAttribute('aria-expanded');
    el.className = `row${this.matches.has(n.id) ? ' match' : ''}${n.placeholder ? ' placeholder' : ''}`;
    const [name, costCell, dur, bar] = el.children;
    name.style.paddingLeft = `${6 + n.depth * 14}px`;
    const [tw, dot, kind, label, tok, errs] = name.children;
    tw.textContent = n.children.length ? (el.getAttribute('aria-expanded') === 'true' ? '▾' : '▸') : '';
    tw.className = `twisty${n.children.length ? '' : ' leaf'}`;
    dot.className = `dot ${n.status}`;
    dot.title = n.status;
    kind.textContent = KIND[n.kind] || '';
    kind.hidden = !kind.textContent;
    label.textContent = n.name;
    label.title = n.name;
    const t = n.tin + n.tout, st = n.subIn + n.subOut;
    tok.textContent = t ? `${fmtNum(t)} tok` : st ? `Σ ${fmtNum(st)} tok` : '';
    tok.title = `own ${n.tin}/${n.tout}, subtree ${n.subIn}/${n.subOut} (in/out)`;
    errs.textContent = n.subErr && n.status !== 'ERROR' ? `${n.subErr} err below` : '';
    // its own column (Cost on): the figure first and whole, the model after it (cut to an ellipsis if need be)
    const cur = this.prices?.currency, own = n.cost !== null && n.cost !== undefined;
    const [amount, model] = costCell.children;
    model.textContent = own ? n.model : '';
    amount.textContent = own ? fmtCost(n.cost, cur) : n.subCost ? `Σ ${fmtCost(n.subCost, cur)}` : '';
    costCell.title = n.model ? `${n.model}: ${n.tin} in / ${n.tout} out; subtree ${fmtCost(n.subCost, cur)}` : `subtree ${fmtCost(n.subCost, cur)}`;
    dur.textContent = n.placeholder ? '…' : fmtDur(n.end - n.start);
    const b = bar.firstChild;
    b.style.left = `${((n.start - va) / span) * 100}%`;
    b.style.width = `${Math.max(0.15, ((n.end - n.start) / span) * 100)}%`;
    const gaps = bar.lastChild; // idle stretches of the whole trace, shaded on every row
    if (gaps.dataset.key !== `${va},${vb},${this.gaps.length}`) {
      gaps.dataset.key = `${va},${vb},${this.gaps.length}`;
      gaps.replaceChildren(...this.gaps.map(([ga, gb]) => h('div', { class: 'gap', title: `idle ${fmtDur(gb - ga)}`,
        style: `left:${((ga - va) / span) * 100}%;width:${((gb - ga) / span) * 100}%` })));
    }
    b.className = `bar ${n.status}${n.placeholder ? ' ph' : ''}${this.critical.has(n.id) ? ' crit' : ''}`;
    b.style.background = n.placeholder || n.status === 'ERROR' || !n.service ? '' : serviceColour(n.service);
    b.title = n.service ? `${n.service}: ${n.name}` : n.name;
    const ticks = bar.children[1]; // span events, where they happened
    ticks.replaceChildren(...(n.events || []).slice(0, 20).map((e) => h('i', { class: 'ev', title: `${e.name} at +${fmtDur(e.t - n.start)}`,
      style: `left:${((e.t - va) / span) * 100}%` })));
  }

  // --- interaction ---
  toggle(id) {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    this.refresh(true);
  }

  collapseAll() {
    for (const n of this.nodes.values()) if (n.children && n.children.length) this.collapsed.add(n.id);
    this.refresh(true);
  }

  select(id, openDetail, scroll) {
    this.selected = id;
    this.saveUrl();
    const i = this.rowIndex?.get(id);
    if (i !== undefined && scroll) {
      const top = i * ROW, vh = this.viewport.clientHeight;
      if (top < this.viewport.scrollTop || top + ROW > this.viewport.scrollTop + vh) this.viewport.scrollTop = Math.max(0, top - vh / 3);
    }
    this.render();
    if (openDetail) this.showDetail(id);
  }

  move(delta) {
    const i = this.rowIndex.get(this.selected) ?? -1;
    const j = Math.max(0, Math.min(this.rows.length - 1, i + delta));
    if (this.rows[j]) this.selectVisible(this.rows[j].id);
  }

  selectVisible(id) {
    this.select(id, true, true);
    const i = this.rowIndex.get(id);
    const top = i * ROW, vh = this.viewport.clientHeight;
    if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + ROW > this.viewport.scrollTop + vh) this.viewport.scrollTop = top + ROW - vh;
  }

  nextMatch(dir) {
    const ids = this.rows.filter((n) => this.matches.has(n.id)).map((n) => n.id);
    if (!ids.length) return;
    const cur = ids.indexOf(this.selected);
    this.selectVisible(ids[(cur + dir + ids.length) % ids.length]);
  }

  onKey(e) {
    if (e.target !== this.grid) return;
    const n = this.nodes.get(this.selected);
    switch (e.key) {
      case 'ArrowDown': case 'j': this.move(1); break;
      case 'ArrowUp': case 'k': this.move(-1); break;
      case 'Home': this.move(-Infinity); break;
      case 'End': this.move(Infinity); break;
      case 'PageDown': this.move(Math.floor(this.viewport.clientHeight / ROW)); break;
      case 'PageUp': this.move(-Math.floor(this.viewport.clientHeight / ROW)); break;
      case 'ArrowRight':
        if (!n) { this.move(1); break; }
        if (n.children.length && this.collapsed.has(n.id)) this.toggle(n.id);
        else if (n.children.length) this.selectVisible(n.children[0].id);
        break;
      case 'ArrowLeft':
        if (!n) break;
        if (n.children.length && !this.collapsed.has(n.id) && !this.query) this.toggle(n.id);
        else if (n.parent && this.nodes.has(n.parent)) this.selectVisible(n.parent);
        else if (n.adoptedBy) this.selectVisible(n.adoptedBy);
        break;
      case 'Enter': case ' ': if (n) this.showDetail(n.id); break;
      case 'n': this.nextMatch(e.shiftKey ? -1 : 1); break;
      case 'N': this.nextMatch(-1); break;
      case 'c': if (n) copy(n.id); break;
      case '0': this.setView(null); break;
      case 'y': copy(location.href); break;
      default: return;
    }
    e.preventDefault();
  }

  // --- detail panel ---
  async showDetail(id) {
    const n = this.nodes.get(id);
    const token = ++this.detailToken;
    this.detail.classList.remove('hidden');
    if (!n) return;
    if (n.placeholder) {
      this.detail.replaceChildren(h('h2', {}, n.name), h('p', { class: 'note' },
        'This span has not been received yet. OpenTelemetry exports a span when it ends, so parents arrive after their children; it will be filled in when it commits.'),
        overview(n, null, this));
      return;
    }
    this.detail.replaceChildren(h('h2', {}, n.name), h('p', { class: 'note' }, 'Loading…'));
    try {
      const s = await api(`/api/traces/${n.trace}/spans/${n.id}`);
      if (token !== this.detailToken || this.closed) return;
      this.detail.replaceChildren(...detailView(s, n, this));
    } catch (e) {
      if (token === this.detailToken) this.detail.replaceChildren(h('h2', {}, n.name), h('div', { class: 'error-box' }, e.message));
    }
  }
}

const KIND = { SERVER: 'SRV', CLIENT: 'CLI', PRODUCER: 'PROD', CONSUMER: 'CONS', INTERNAL: '', UNSPECIFIED: '' };

function rowElement() {
  const bar = h('div', { class: 'cbar', role: 'gridcell' }, h('div', { class: 'bar' }), h('div', { class: 'ticks' }), h('div', { class: 'gaps' }));
  return h('div', { class: 'row', role: 'row' },
    h('div', { class: 'cname', role: 'gridcell' }, h('span', { class: 'twisty' }), h('span', { class: 'dot' }),
      h('span', { class: 'kind' }), h('span', { class: 'name' }), h('span', { class: 'tok' }), h('span', { class: 'errs' })),
    h('div', { class: 'ccost cost', role: 'gridcell' }, h('span', { class: 'amount' }), h('span', { class: 'model' })),
    h('div', { class: 'cdur', role: 'gridcell' }), bar);
}
