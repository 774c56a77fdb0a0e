// The span detail panel: overview, the conversation under any GenAI convention,
// artifacts, attributes, events, links, resource and scope.
import { authHeaders } from './auth.js';
import { h, badge, copy, copyButton } from './dom.js';
import { fmtDur, fmtTime, fmtValue } from './format.js';
import { tokenSource } from './model.js';
import genai from './genai.js'; // generated from proto/genai_conventions.json

export function overview(n, s, view) {
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
  const source = s && tokenSource(s.attributes, genai.tokenPairs);
  const derived = source && (n.tin || n.tout) && !source[0].startsWith('gen_ai.usage.')
    ? h('span', { class: 'note derived', title: `Arbor read these from ${source[0]} / ${source[1]}` }, ' (derived)') : '';
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
        const r = await fetch(a.download_url, { headers: a.download_url.includes('sig=') ? {} : authHeaders() });
        if (!r.ok) throw new Error(`${r.status}`);
        let text = (await r.text()).slice(0, 65536);
        if (type.includes('json')) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ } }
        e.target.replaceWith(h('pre', {}, text));
      } catch (err) { e.target.replaceWith(h('span', { class: 'note' }, `Preview failed (${err.message})`)); }
    } }, 'Preview'));
  }
  return box;
}

// Keys in a column as wide as the widest of them (up to 45 % of the panel: only
// a longer one wraps, after its dots first), values in the rest.
function attrTable(attrs) {
  const entries = Object.entries(attrs || {});
  if (!entries.length) return h('p', { class: 'note' }, 'None');
  const key = (k) => k.split(/(?<=\.)/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
  return h('dl', { class: 'attrs' }, entries.flatMap(([k, v]) => [h('dt', {}, key(k)), h('dd', {}, h('pre', {}, fmtValue(v)))]));
}

export function detailView(s, n, view) {
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
