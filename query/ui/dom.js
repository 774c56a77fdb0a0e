// DOM helpers shared by the views: element builder, fetch, toast, copy, badges.
import { authHeaders, signIn } from './auth.js';

export const $ = (sel, el = document) => el.querySelector(sel);

export function h(tag, attrs, ...kids) {
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

// Replace @p el's children with @p kids, leaving out null, undefined and false
// (replaceChildren() would print them as text).
export function fill(el, ...kids) {
  el.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
  return el;
}

// GET @p path as the signed-in caller; a 401 asks for a token and tries again.
export async function api(path, retried = false) {
  const r = await fetch(path, { cache: 'no-store', headers: authHeaders() });
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail || detail; } catch { /* not JSON */ }
    if (typeof detail === 'object') detail = detail.message || detail.code; // Orcheo's {message, code}
    if (r.status === 401 && !retried) {
      await signIn(detail);
      return api(path, true);
    }
    throw Object.assign(new Error(`${r.status} ${detail}`), { status: r.status });
  }
  return r.json();
}

// Every page of a paged answer (trees, skeletons): @p onPage(page) for each in
// turn, following page_info.cursor; onPage returning false stops.
export async function eachPage(path, onPage) {
  const sep = path.includes('?') ? '&' : '?';
  let cursor = null;
  do {
    const page = await api(`${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (onPage(page) === false) return;
    cursor = page.page_info.cursor;
  } while (cursor);
}

let toastTimer;
export function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), 1400);
}

export async function copy(text) {
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

export const copyButton = (text, label = 'copy') =>
  h('button', { class: 'copy', type: 'button', 'aria-label': `Copy ${text}`, onclick: (e) => { e.stopPropagation(); copy(text); } }, label);
export const badge = (status) => h('span', { class: `badge ${status}` }, status);

export function setCrumbs(...parts) {
  $('#crumbs').replaceChildren(...parts.flatMap((p, i) => (i ? [' › ', p] : [p])));
}
