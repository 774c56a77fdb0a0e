// Arbor's built-in Trace tab: native ES modules, no build step, no runtime fetch
// from anywhere but this origin. This module routes between the list of recent
// runs (list.js) and one execution or trace (grid.js, with model.js, search.js,
// live.js and detail.js). All view state lives in the URL:
// /?execution=ID|trace=ID&span=ID&q=text&hide=1&collapsed=ID,ID, and the search
// page /search?… (findpage.js, findquery.js) and /compare?a=&b= (comparepage.js, compare.js)
import { takeFragmentToken } from './auth.js';
import { $, h } from './dom.js';
import { router, navigate } from './nav.js';
import { showList } from './list.js';
import { TraceView } from './grid.js';
import { showSearch } from './findpage.js';
import { showCompare } from './comparepage.js';

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  const to = a.getAttribute('data-nav');
  if (/^\/(search|compare)\b/.test(to)) { history.pushState(null, '', to); router.route(); return; }
  navigate(to.replace(/^\/\??/, ''));
});
window.addEventListener('popstate', () => router.route());

// ---------- keys everywhere ----------
document.addEventListener('keydown', (e) => {
  const typing = (e.target instanceof HTMLInputElement && ['text', 'search'].includes(e.target.type)) ||
    e.target instanceof HTMLTextAreaElement;
  if (e.key === '/' && !typing && router.current) { e.preventDefault(); router.current.search.focus(); router.current.search.select(); }
  else if (e.key === 'Escape' && !typing) {
    const help = $('.help');
    if (help) help.remove();
    else if (router.current && router.current.query) { router.current.search.value = ''; router.current.query = ''; router.current.refresh(true); router.current.grid.focus(); }
    else if (router.current) { router.current.detail.classList.add('hidden'); router.current.grid.focus(); }
  } else if (e.key === '?' && !typing) {
    const existing = $('.help');
    if (existing) { existing.remove(); return; }
    const keys = [['↑ ↓ / j k', 'previous / next span'], ['→', 'expand, or go to the first child'], ['←', 'collapse, or go to the parent'],
      ['Home End PgUp PgDn', 'jump'], ['/', 'search'], ['Enter / Shift+Enter, n / N', 'next / previous match'],
      ['Esc', 'clear the search, close the detail'], ['c', 'copy the span ID'], ['y', 'copy a link to this view'],
      ['0', 'show the whole trace again (reset the zoom)']];
    const gestures = [['drag across the time axis', 'zoom to that stretch of time'], ['wheel over the time axis', 'zoom in / out around the pointer'],
      ['Ctrl + wheel over the bars', 'zoom in / out around the pointer'], ['click the minimap', 'move the zoomed window there']];
    const rows = (list, cell) => h('table', {}, h('tbody', {}, list.map(([k, d]) => h('tr', {}, h('td', {}, cell(k)), h('td', {}, d)))));
    document.body.append(h('div', { class: 'help', role: 'dialog', 'aria-label': 'Keyboard shortcuts', onclick: (ev) => ev.currentTarget.remove() },
      h('div', {}, h('h3', {}, 'Keyboard'), rows(keys, (k) => h('kbd', {}, k)), h('h3', {}, 'Zoom'), rows(gestures, (k) => k))));
  }
});


router.route = function route() {
  const p = new URLSearchParams(location.search);
  const current = router.current;
  if (location.pathname === '/search') {
    showSearch(p);
    return;
  }
  if (location.pathname === '/compare') {
    showCompare(p);
    return;
  }
  if (p.get('execution') !== null || p.get('trace') !== null) {
    const sameView = current && ((p.get('execution') ?? p.get('trace')) === current.id);
    if (sameView && p.get('span')) { current.select(p.get('span'), true, true); return; }
    current?.close();
    router.current = new TraceView(p);
    router.current.grid.focus({ preventScroll: true });
  } else {
    showList();
  }
};
takeFragmentToken(); // before the first call: the token must not stay in the address bar
router.route();
