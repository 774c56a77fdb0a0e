// Arbor's built-in Trace tab: plain JavaScript, no build step, no runtime fetch
// from anywhere but this origin. The list of recent runs, and one execution or
// trace as a virtualised tree + waterfall built on the skeleton endpoint, with
// span detail on demand and live updates over WebSocket. All view state lives in
// the URL: /?execution=ID|trace=ID&span=ID&q=text&hide=1&collapsed=ID,ID
'use strict';
(() => {
  // the row height is the stylesheet's (--row): one place to change it
  const ROW = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row')) || 26;
  const OVERSCAN = 12, PAGE = 10000;
  const $ = (sel, el = document) => el.querySelector(sel);
  const app = $('#app');

  // ---------- small helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike style attributes
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false)
      el.append(kid instanceof Node ? kid : String(kid));
    return el;
  }
  async function api(path) {
    const r = await fetch(path, { cache: 'no-store' });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch { /* not JSON */ }
      throw new Error(`${r.status} ${detail}`);
    }
    return r.json();
  }
  // ISO-8601 to milliseconds, keeping the microseconds the API sends (Date.parse drops them)
  function ms(iso) {
    if (!iso) return NaN;
    const frac = /\.(\d+)Z$/.exec(iso);
    return Date.parse(frac ? iso.replace(/\.\d+Z$/, 'Z') : iso) + (frac ? Number(`0.${frac[1]}`) * 1000 : 0);
  }
  function fmtDur(d) {
    if (!isFinite(d) || d < 0) return '';
    if (d < 1) return `${Math.round(d * 1000)} µs`;
    if (d < 1000) return `${d < 10 ? d.toFixed(2) : d.toFixed(1)} ms`;
    if (d < 60000) return `${(d / 1000).toFixed(2)} s`;
    const m = Math.floor(d / 60000);
    return `${m}m ${Math.round((d % 60000) / 1000)}s`;
  }
  function fmtAge(iso) {
    const d = Date.now() - ms(iso);
    if (!isFinite(d)) return '';
    if (d < 60000) return `${Math.max(0, Math.round(d / 1000))}s ago`;
    if (d < 3600000) return `${Math.round(d / 60000)}m ago`;
    if (d < 86400000) return `${Math.round(d / 3600000)}h ago`;
    return new Date(ms(iso)).toISOString().slice(0, 16).replace('T', ' ');
  }
  const fmtTime = (iso) => (iso ? new Date(ms(iso)).toISOString().replace('T', ' ').replace('Z', ' UTC') : '—');
  const fmtNum = (n) => (n >= 10000 ? `${(n / 1000).toFixed(n >= 100000 ? 0 : 1)}k` : String(n));
  function toast(text) {
    const t = $('#toast');
    t.textContent = text;
    t.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove('show'), 1400);
  }
  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = h('textarea', { style: 'position:fixed;opacity:0' }, text);
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    toast('Copied');
  }
  const copyButton = (text, label = 'copy') =>
    h('button', { class: 'copy', type: 'button', 'aria-label': `Copy ${text}`, onclick: (e) => { e.stopPropagation(); copy(text); } }, label);
  const badge = (status) => h('span', { class: `badge ${status}` }, status);
  function setCrumbs(...parts) {
    const c = $('#crumbs');
    c.replaceChildren(...parts.flatMap((p, i) => (i ? [' › ', p] : [p])));
  }
  function navigate(search) {
    history.pushState(null, '', search ? `/?${search}` : '/');
    route();
  }
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-nav]');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(a.getAttribute('data-nav').replace(/^\/\??/, ''));
  });
  window.addEventListener('popstate', () => route());

  // ---------- list of recent runs ----------
  async function showList() {
    current?.close();
    current = null;
    document.title = 'Arbor';
    setCrumbs('Recent runs');
    const refresh = h('button', { type: 'button', onclick: () => showList() }, 'Refresh');
    const view = h('section', { class: 'list' }, h('div', { class: 'toolbar' }, refresh));
    app.replaceChildren(view);
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
    const head = h('tr', {}, ['Status', executions ? 'Execution' : 'Trace', 'Root span', 'Service', 'Started', 'Duration',
      'Spans', 'Errors', 'Tokens in/out'].map((t, i) => h('th', { class: i >= 5 ? 'num' : '' }, t)));
    const body = rows.map((r) => {
      const q = executions ? `execution=${encodeURIComponent(r.execution_id)}` : `trace=${r.trace_id}`;
      const dur = r.finished_at ? ms(r.finished_at) - ms(r.started_at) : Date.now() - ms(r.started_at);
      return h('tr', { class: 'run', onclick: () => navigate(q) },
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

  // ---------- one execution or trace ----------
  let current = null;

  class TraceView {
    constructor(params) {
      this.kind = params.get('execution') !== null ? 'executions' : 'traces';
      this.id = params.get('execution') ?? params.get('trace');
      this.selected = params.get('span');
      this.query = params.get('q') || '';
      this.hide = params.get('hide') === '1';
      this.collapsed = new Set((params.get('collapsed') || '').split(',').filter(Boolean));
      this.nodes = new Map();
      this.rows = [];
      this.pool = [];
      this.meta = null;
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
      this.search.addEventListener('input', () => { this.query = this.search.value.trim(); this.refresh(true); });
      this.search.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); this.nextMatch(e.shiftKey ? -1 : 1); }
        if (e.key === 'Escape') { e.preventDefault(); this.search.value = ''; this.query = ''; this.refresh(true); this.grid.focus(); }
      });
      this.hideBox.addEventListener('change', () => { this.hide = this.hideBox.checked; this.refresh(true); });
      const toolbar = h('div', { class: 'toolbar' }, this.search,
        h('label', {}, this.hideBox, 'Matches only'), this.matchCount,
        h('button', { type: 'button', onclick: () => { this.collapsed.clear(); this.refresh(true); } }, 'Expand all'),
        h('button', { type: 'button', onclick: () => this.collapseAll() }, 'Collapse all'));
      this.axis = h('div', { class: 'axis' });
      this.spacer = h('div', { class: 'spacer-rows' });
      this.viewport = h('div', { class: 'viewport' }, this.spacer);
      this.grid = h('div', { class: 'grid', role: 'treegrid', tabindex: '0', 'aria-label': 'Spans', 'aria-multiselectable': 'false' },
        h('div', { class: 'ghead', role: 'row' }, h('div', { role: 'columnheader' }, 'Span'),
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
      app.replaceChildren(h('section', { class: 'trace' }, this.header, toolbar, h('div', { class: 'body' }, this.grid, this.detail)));
      setCrumbs(h('a', { href: '/', 'data-nav': '/' }, 'Recent runs'), `${this.kind === 'executions' ? 'Execution' : 'Trace'} ${this.id}`);
      document.title = `Arbor · ${this.id}`;
      this.renderHeader();
    }

    // --- data ---
    async load() {
      try {
        let cursor = null, first = true;
        do {
          const page = await api(`${this.base()}/tree?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          if (this.closed) return;
          if (first) { this.meta = page.execution; this.seq = page.seq; first = false; }
          for (const s of page.spans) this.upsert(fromSkeleton(s));
          cursor = page.page_info.cursor;
        } while (cursor);
        this.loaded = true;
        this.refresh(false);
        if (this.selected && this.nodes.has(this.selected)) this.select(this.selected, true, true);
        this.connect();
      } catch (e) {
        if (!this.closed) app.append(h('div', { class: 'error-box' }, `Could not load: ${e.message}`));
      }
    }

    upsert(n) {
      const old = this.nodes.get(n.id);
      if (old && !n.placeholder) Object.assign(old, n);
      else if (!old) this.nodes.set(n.id, n);
    }

    connect() {
      if (this.closed) return;
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const path = this.kind === 'executions' ? `${this.base()}/trace/live` : `${this.base()}/live`;
      const ws = new WebSocket(`${proto}//${location.host}${path}?since=${this.seq}`);
      this.ws = ws;
      ws.onopen = () => { this.live = true; this.backoff = 1000; this.renderHeader(); };
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.seq > this.seq) this.seq = m.seq;
        for (const s of m.spans) this.upsert(fromLive(s));
        if (m.spans.length && this.meta && this.meta.status === 'unknown') this.meta.status = 'running'; // spans exist now
        if (m.complete) { this.complete = true; this.reloadMeta(); }
        else if (m.spans.length) this.complete = false;
        if (m.spans.some((s) => s.parent_span_id === null && !(s.attributes || {})['arbor.placeholder'])) this.reloadMeta(); // a root
        this.refresh(false);
      };
      ws.onclose = () => {
        this.live = false;
        this.renderHeader();
        if (this.closed) return;
        this.backoff = Math.min((this.backoff || 1000) * 2, 10000);
        this.reconnect = setTimeout(() => this.connect(), this.backoff); // resume with since=seq
      };
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

    // --- model ---
    rebuild() {
      const nodes = this.nodes;
      for (const n of nodes.values()) n.children = [];
      this.roots = [];
      let start = Infinity, end = -Infinity;
      for (const n of nodes.values()) {
        const p = n.parent && nodes.get(n.parent);
        if (p && p !== n) p.children.push(n);
        else this.roots.push(n);
        if (n.start < start) start = n.start;
        if (n.end > end) end = n.end;
      }
      const order = (a, b) => a.start - b.start || (a.id < b.id ? -1 : 1);
      this.roots.sort(order);
      // iterative post-order for depths and subtree totals (no recursion: deep chains)
      const stack = this.roots.map((r) => [r, 0, false]);
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
          n.subIn = n.tin; n.subOut = n.tout; n.subErr = n.status === 'ERROR' ? 1 : 0;
          for (const c of n.children) { n.subIn += c.subIn; n.subOut += c.subOut; n.subErr += c.subErr; }
          // a placeholder spans what hangs under it, however much has arrived
          if (n.placeholder && n.children.length) {
            n.start = Math.min(...n.children.map((c) => c.start));
            n.end = Math.max(...n.children.map((c) => c.end));
          }
        }
      }
      this.t0 = isFinite(start) ? start : 0;
      this.t1 = end > start ? end : this.t0 + 1;
    }

    // visible rows: pre-order, honouring collapse and search
    flatten() {
      const q = this.query.toLowerCase();
      this.matches = new Set();
      const keep = new Set();
      if (q) {
        for (const n of this.nodes.values()) {
          if (n.name.toLowerCase().includes(q) || n.id.startsWith(q)) {
            this.matches.add(n.id);
            for (let p = n; p && !keep.has(p.id); p = this.nodes.get(p.parent)) keep.add(p.id); // the match and its ancestors
          }
        }
      }
      const rows = [];
      const stack = [...this.roots].reverse();
      while (stack.length) {
        const n = stack.pop();
        if (q && this.hide && !keep.has(n.id)) continue;
        rows.push(n);
        // a search opens the path to every match; otherwise the collapse set rules
        const open = q ? (keep.has(n.id) && !this.matches.has(n.id)) || !this.collapsed.has(n.id) : !this.collapsed.has(n.id);
        if (open) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
      }
      this.rows = rows;
      this.rowIndex = new Map(rows.map((n, i) => [n.id, i]));
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
        this.matchCount.textContent = this.query ? `${this.matches.size} match${this.matches.size === 1 ? '' : 'es'}` : '';
        this.render();
      });
    }

    saveUrl() {
      const p = new URLSearchParams();
      p.set(this.kind === 'executions' ? 'execution' : 'trace', this.id);
      if (this.selected) p.set('span', this.selected);
      if (this.query) p.set('q', this.query);
      if (this.hide) p.set('hide', '1');
      if (this.collapsed.size && this.collapsed.size <= 200) p.set('collapsed', [...this.collapsed].join(','));
      history.replaceState(null, '', `/?${p}`);
    }

    // --- rendering ---
    renderHeader() {
      const m = this.meta;
      if (!m) { this.header.replaceChildren(h('h1', {}, this.id), h('span', { class: 'note' }, 'Loading…')); return; }
      let spans = 0, errors = 0, tin = 0, tout = 0;
      for (const n of this.nodes.values()) if (!n.placeholder) { spans++; errors += n.status === 'ERROR'; tin += n.tin; tout += n.tout; }
      const started = this.nodes.size ? this.t0 : ms(m.started_at);
      const running = m.status === 'running' || m.status === 'unknown';
      const dur = m.finished_at ? ms(m.finished_at) - ms(m.started_at) : (this.nodes.size ? this.t1 - this.t0 : NaN);
      const liveBadge = this.complete ? h('span', { class: 'badge done' }, 'Complete')
        : this.live ? h('span', { class: 'badge live', title: 'Receiving spans as they commit' }, 'Live')
        : h('span', { class: 'badge' }, 'Offline');
      const links = (m.external_links || []).map((l) => h('a', { href: l.url, target: '_blank', rel: 'noopener noreferrer' }, l.name));
      const traceId = m.trace_id;
      this.header.replaceChildren(
        h('h1', {}, this.id), badge(m.status), liveBadge,
        h('div', { class: 'facts' },
          h('span', {}, 'Start ', h('b', {}, isFinite(started) ? fmtTime(new Date(started).toISOString()) : '—')),
          h('span', {}, 'Duration ', h('b', {}, isFinite(dur) ? fmtDur(dur) : '—'), running ? ' (so far)' : ''),
          h('span', {}, 'Spans ', h('b', { 'data-testid': 'span-count' }, String(spans))),
          h('span', {}, 'Errors ', h('b', { class: errors ? 'errs' : '' }, String(errors))),
          h('span', {}, 'Tokens in/out ', h('b', {}, `${tin} / ${tout}`)),
          traceId ? h('span', {}, 'Trace ', h('code', {}, traceId), copyButton(traceId)) : null),
        h('span', { class: 'spacer' }), ...links,
        h('button', { type: 'button', onclick: () => this.reload() }, 'Refresh'));
    }

    reload() {
      this.close();
      current = new TraceView(new URLSearchParams(location.search));
    }

    renderAxis() {
      const span = this.t1 - this.t0;
      this.axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { style: `left:${f * 100}%` }, fmtDur(span * f))));
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
      const span = this.t1 - this.t0;
      el.style.top = `${index * ROW}px`;
      el.dataset.id = n.id;
      el.setAttribute('aria-rowindex', String(index + 1));
      el.setAttribute('aria-level', String(n.depth + 1));
      el.setAttribute('aria-selected', String(n.id === this.selected));
      if (n.children.length) el.setAttribute('aria-expanded', String(!this.collapsed.has(n.id) || (this.query !== '' && !this.hide)));
      else el.removeAttribute('aria-expanded');
      el.className = `row${this.matches.has(n.id) ? ' match' : ''}${n.placeholder ? ' placeholder' : ''}`;
      const [name, dur, bar] = el.children;
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
      dur.textContent = n.placeholder ? '…' : fmtDur(n.end - n.start);
      const b = bar.firstChild;
      b.style.left = `${((n.start - this.t0) / span) * 100}%`;
      b.style.width = `${Math.max(0.15, ((n.end - n.start) / span) * 100)}%`;
      b.className = `bar ${n.status}${n.placeholder ? ' ph' : ''}`;
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
          break;
        case 'Enter': case ' ': if (n) this.showDetail(n.id); break;
        case 'n': this.nextMatch(e.shiftKey ? -1 : 1); break;
        case 'N': this.nextMatch(-1); break;
        case 'c': if (n) copy(n.id); break;
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
    const bar = h('div', { class: 'cbar', role: 'gridcell' }, h('div', { class: 'bar' }));
    return h('div', { class: 'row', role: 'row' },
      h('div', { class: 'cname', role: 'gridcell' }, h('span', { class: 'twisty' }), h('span', { class: 'dot' }),
        h('span', { class: 'kind' }), h('span', { class: 'name' }), h('span', { class: 'tok' }), h('span', { class: 'errs' })),
      h('div', { class: 'cdur', role: 'gridcell' }), bar);
  }

  function fromSkeleton(s) {
    return { id: s.span_id, parent: s.parent_span_id, trace: s.trace_id, name: s.name, start: ms(s.start_time),
      end: ms(s.end_time ?? s.start_time), status: s.status, kind: s.kind, tin: s.tokens.input, tout: s.tokens.output,
      placeholder: !!s.placeholder };
  }
  function fromLive(s) {
    const ph = s.attributes && s.attributes['arbor.placeholder'] === true;
    return { id: s.span_id, parent: s.parent_span_id, trace: s.trace_id, name: s.name, start: ms(s.start_time),
      end: ms(s.end_time ?? s.start_time), status: s.status.code, kind: s.kind, tin: s.token_usage.input,
      tout: s.token_usage.output, placeholder: ph };
  }

  // ---------- detail ----------
  const fmtValue = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

  function overview(n, s, view) {
    const dl = h('dl', { class: 'kv' });
    const row = (k, ...v) => dl.append(h('dt', {}, k), h('dd', {}, ...v));
    row('Status', badge(s ? s.status.code : 'UNSET'), s && s.status.message ? ` ${s.status.message}` : '');
    if (s) row('Kind', s.kind);
    row('Start', fmtTime(s ? s.start_time : new Date(n.start).toISOString()));
    row('End', fmtTime(s ? s.end_time : new Date(n.end).toISOString()));
    row('Duration', fmtDur(n.end - n.start));
    row('Span ID', h('code', {}, n.id), copyButton(n.id), ' ',
      h('button', { class: 'copy', type: 'button', onclick: () => copy(location.href) }, 'copy link'));
    row('Trace ID', h('code', {}, n.trace), copyButton(n.trace));
    if (n.parent) row('Parent', h('a', { href: '#', onclick: (e) => { e.preventDefault(); view.select(n.parent, true, true); } },
      h('code', {}, n.parent)));
    // counts from another convention (orcheo.token.*, llm.token_count.*): say they are read, not sent
    const own = s && Object.keys(s.attributes || {}).some((k) => k.startsWith('gen_ai.usage.'));
    const derived = s && (n.tin || n.tout) && !own
      ? h('span', { class: 'note derived', title: "Arbor read these from the span's own token attributes" }, ' (derived)') : '';
    row('Tokens in/out', `${n.tin} / ${n.tout}`, derived, n.children && n.children.length ? ` (subtree ${n.subIn} / ${n.subOut})` : '');
    return dl;
  }

  // Prompts, responses and messages under any of the conventions, as a conversation.
  function conversation(s) {
    const msgs = [];
    const add = (role, content, source) => {
      if (content === undefined || content === null || content === '') return;
      msgs.push({ role: String(role || 'message').toLowerCase(), content: fmtValue(content), source });
    };
    const parseMaybe = (v) => { if (typeof v !== 'string') return v; try { return JSON.parse(v); } catch { return v; } };
    const fromMessages = (value, defaultRole, source) => {
      const list = parseMaybe(value);
      if (!Array.isArray(list)) { add(defaultRole, list, source); return; }
      for (const m of list) {
        if (m && typeof m === 'object') {
          const parts = Array.isArray(m.parts) ? m.parts.map((p) => p.content ?? p.response ?? p.arguments ?? p).map(fmtValue).join('\n') : m.content;
          add(m.role || defaultRole, parts ?? m, source);
        } else add(defaultRole, m, source);
      }
    };
    const a = s.attributes || {};
    if (a['gen_ai.system_instructions']) fromMessages(a['gen_ai.system_instructions'], 'system', 'gen_ai.system_instructions');
    if (a['gen_ai.input.messages']) fromMessages(a['gen_ai.input.messages'], 'user', 'gen_ai.input.messages');
    if (a['gen_ai.prompt']) fromMessages(a['gen_ai.prompt'], 'user', 'gen_ai.prompt');
    for (let i = 0; a[`gen_ai.prompt.${i}.content`] !== undefined; i++) add(a[`gen_ai.prompt.${i}.role`] || 'user', a[`gen_ai.prompt.${i}.content`], 'gen_ai.prompt.*');
    for (let i = 0; a[`llm.input_messages.${i}.message.content`] !== undefined; i++)
      add(a[`llm.input_messages.${i}.message.role`] || 'user', a[`llm.input_messages.${i}.message.content`], 'llm.input_messages');
    if (a['input.value'] !== undefined) add('user', parseMaybe(a['input.value']), 'input.value');
    for (const e of s.events || []) {
      const ea = e.attributes || {};
      if (e.name === 'prompt') for (const [k, v] of Object.entries(ea)) add('prompt', v, k === 'preview' ? 'prompt' : `prompt.${k}`);
      else if (e.name === 'response') for (const [k, v] of Object.entries(ea)) add('response', v, k === 'preview' ? 'response' : `response.${k}`);
      else if (e.name === 'message') add(ea.role || 'message', ea.preview ?? ea.content, 'message');
      else if (/^gen_ai\.(system|user|assistant|tool)\.message$/.test(e.name)) add(ea.role || e.name.split('.')[1], ea.content, e.name);
      else if (e.name === 'gen_ai.choice') add('assistant', ea.message ?? ea.content, e.name);
      else if (e.name === 'gen_ai.content.prompt') add('user', ea['gen_ai.prompt'], e.name);
      else if (e.name === 'gen_ai.content.completion') add('assistant', ea['gen_ai.completion'], e.name);
    }
    if (a['gen_ai.output.messages']) fromMessages(a['gen_ai.output.messages'], 'assistant', 'gen_ai.output.messages');
    if (a['gen_ai.completion']) fromMessages(a['gen_ai.completion'], 'assistant', 'gen_ai.completion');
    for (let i = 0; a[`gen_ai.completion.${i}.content`] !== undefined; i++) add(a[`gen_ai.completion.${i}.role`] || 'assistant', a[`gen_ai.completion.${i}.content`], 'gen_ai.completion.*');
    for (let i = 0; a[`llm.output_messages.${i}.message.content`] !== undefined; i++)
      add(a[`llm.output_messages.${i}.message.role`] || 'assistant', a[`llm.output_messages.${i}.message.content`], 'llm.output_messages');
    if (a['output.value'] !== undefined) add('assistant', parseMaybe(a['output.value']), 'output.value');
    if (!msgs.length) return null;
    return msgs.map((m) => {
      const long = m.content.length > 600;
      const pre = h('pre', { class: 'content' }, long ? `${m.content.slice(0, 600)}…` : m.content);
      const more = long ? h('button', { type: 'button', class: 'more', onclick: (e) => {
        const full = e.target.dataset.full !== '1';
        pre.textContent = full ? m.content : `${m.content.slice(0, 600)}…`;
        e.target.dataset.full = full ? '1' : '0';
        e.target.textContent = full ? 'Show less' : `Show full text (${m.content.length} characters)`;
      } }, `Show full text (${m.content.length} characters)`) : null;
      return h('div', { class: `msg ${m.role}` }, h('div', { class: 'role', title: m.source }, m.role), pre, more);
    });
  }

  function artifactView(a) {
    const box = h('div', { class: 'artifact' },
      h('div', {}, h('b', {}, a.name || a.id), a.mime_type ? ` · ${a.mime_type}` : '', a.size !== undefined ? ` · ${a.size} bytes` : '', ' ',
        h('a', { href: a.download_url, download: a.name || a.id, target: '_blank', rel: 'noopener' }, 'Download')));
    const type = a.mime_type || '';
    if (a.preview) box.append(h('pre', {}, a.preview));
    if (type.startsWith('image/')) box.append(h('img', { src: a.download_url, alt: a.name || a.id, loading: 'lazy' }));
    else if (!a.preview && (type.startsWith('text/') || type.includes('json'))) {
      box.append(h('button', { type: 'button', onclick: async (e) => {
        e.target.disabled = true;
        try {
          const r = await fetch(a.download_url);
          if (!r.ok) throw new Error(`${r.status}`);
          let text = (await r.text()).slice(0, 65536);
          if (type.includes('json')) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ } }
          e.target.replaceWith(h('pre', {}, text));
        } catch (err) { e.target.replaceWith(h('span', { class: 'note' }, `Preview failed (${err.message})`)); }
      } }, 'Preview'));
    }
    return box;
  }

  function attrTable(attrs) {
    const entries = Object.entries(attrs || {});
    if (!entries.length) return h('p', { class: 'note' }, 'None');
    return h('table', { class: 'attrs' }, h('tbody', {}, entries.map(([k, v]) =>
      h('tr', {}, h('td', {}, k), h('td', {}, h('pre', {}, fmtValue(v)))))));
  }

  function detailView(s, n, view) {
    const out = [h('h2', {}, s.name, badge(s.status.code), h('span', { class: 'kind' }, s.kind)), overview(n, s, view)];
    const conv = conversation(s);
    if (conv) out.push(h('h3', {}, 'Conversation'), ...conv);
    if (s.artifacts && s.artifacts.length) out.push(h('h3', {}, 'Artifacts'), ...s.artifacts.map(artifactView));
    out.push(h('h3', {}, 'Attributes'), attrTable(s.attributes));
    out.push(h('h3', {}, `Events (${s.events.length})`));
    if (!s.events.length) out.push(h('p', { class: 'note' }, 'None'));
    for (const e of s.events)
      out.push(h('div', { class: 'event' }, h('b', {}, e.name), ' ', h('span', { class: 'when' }, fmtTime(e.time)), attrTable(e.attributes)));
    out.push(h('h3', {}, `Links (${s.links.length})`));
    if (!s.links.length) out.push(h('p', { class: 'note' }, 'None'));
    for (const l of s.links) {
      const same = view.nodes.has(l.span_id);
      out.push(h('div', { class: 'event' }, same
        ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); view.select(l.span_id, true, true); } }, h('code', {}, l.span_id))
        : h('a', { href: `/?trace=${l.trace_id}&span=${l.span_id}`, 'data-nav': `/?trace=${l.trace_id}&span=${l.span_id}` }, h('code', {}, `${l.trace_id} / ${l.span_id}`)),
        attrTable(l.attributes)));
    }
    out.push(h('h3', {}, 'Resource'), attrTable(s.resource ? s.resource.attributes : {}));
    if (s.scope) out.push(h('h3', {}, 'Scope'), h('p', {}, h('code', {}, `${s.scope.name}${s.scope.version ? ` ${s.scope.version}` : ''}`)));
    return out;
  }

  // ---------- keys everywhere ----------
  document.addEventListener('keydown', (e) => {
    const typing = (e.target instanceof HTMLInputElement && ['text', 'search'].includes(e.target.type)) ||
      e.target instanceof HTMLTextAreaElement;
    if (e.key === '/' && !typing && current) { e.preventDefault(); current.search.focus(); current.search.select(); }
    else if (e.key === 'Escape' && !typing) {
      const help = $('.help');
      if (help) help.remove();
      else if (current && current.query) { current.search.value = ''; current.query = ''; current.refresh(true); current.grid.focus(); }
      else if (current) { current.detail.classList.add('hidden'); current.grid.focus(); }
    } else if (e.key === '?' && !typing) {
      const existing = $('.help');
      if (existing) { existing.remove(); return; }
      const keys = [['↑ ↓ / j k', 'previous / next span'], ['→', 'expand, or go to the first child'], ['←', 'collapse, or go to the parent'],
        ['Home End PgUp PgDn', 'jump'], ['/', 'search'], ['Enter / Shift+Enter, n / N', 'next / previous match'],
        ['Esc', 'clear the search, close the detail'], ['c', 'copy the span ID'], ['y', 'copy a link to this view']];
      document.body.append(h('div', { class: 'help', role: 'dialog', 'aria-label': 'Keyboard shortcuts', onclick: (ev) => ev.currentTarget.remove() },
        h('div', {}, h('h3', {}, 'Keyboard'), h('table', {}, h('tbody', {}, keys.map(([k, d]) => h('tr', {}, h('td', {}, h('kbd', {}, k)), h('td', {}, d))))))));
    }
  });

  function route() {
    const p = new URLSearchParams(location.search);
    if (p.get('execution') !== null || p.get('trace') !== null) {
      const sameView = current && ((p.get('execution') ?? p.get('trace')) === current.id);
      if (sameView && p.get('span')) { current.select(p.get('span'), true, true); return; }
      current?.close();
      current = new TraceView(p);
      current.grid.focus({ preventScroll: true });
    } else {
      showList();
    }
  }
  route();
})();
