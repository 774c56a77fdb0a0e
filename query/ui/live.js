// Live updates: one WebSocket per open view, resumed after a drop with since=<last seq>.
import { liveAuth } from './auth.js';
import { fromLive, upsert } from './model.js';

// Fold one live message into the view's state. Returns whether the header's
// facts (status, root) should be fetched again.
export function applyLiveMessage(view, m) {
  // a number from one store; through federation an opaque cursor over every
  // shard ("f12.0.40"), which each frame carries whole: the latest one holds
  if (typeof m.seq === 'string' || m.seq > view.seq) view.seq = m.seq;
  for (const s of m.spans) upsert(view.nodes, fromLive(s));
  if (m.spans.length && view.meta && view.meta.status === 'unknown') view.meta.status = 'running'; // spans exist now
  let reload = false;
  if (m.complete) { view.complete = true; reload = true; }
  else if (m.spans.length) view.complete = false;
  if (m.spans.some((s) => s.parent_span_id === null && !(s.attributes || {})['arbor.placeholder'])) reload = true; // a root
  return reload;
}

export function connect(view) {
  if (view.closed) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = view.kind === 'executions' ? `${view.base()}/trace/live` : `${view.base()}/live`;
  const auth = liveAuth();
  const ws = new WebSocket(`${proto}//${location.host}${path}?since=${view.seq}${auth.query}`, auth.protocols);
  view.ws = ws;
  ws.onopen = () => { view.live = true; view.backoff = 1000; view.renderHeader(); };
  ws.onmessage = (e) => {
    if (applyLiveMessage(view, JSON.parse(e.data))) view.reloadMeta();
    view.refresh(false);
    if (view.query) view.findInSpans(); // new spans may mention it
  };
  ws.onclose = () => {
    view.live = false;
    view.renderHeader();
    if (view.closed) return;
    view.backoff = Math.min((view.backoff || 1000) * 2, 10000);
    view.reconnect = setTimeout(() => connect(view), view.backoff); // resume with since=seq
  };
}
