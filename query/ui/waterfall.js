// The waterfall's arithmetic: time-axis ticks that never overlap, the critical
// path, idle gaps, zooming. Pure: unit-tested under node --test.

const STEPS = [1, 2, 5];

// Ticks for the window [a, b] (ms) over @p widthPx, at least @p minGapPx apart:
// a 1-2-5 step, labels relative to @p origin (the trace's start).
export function niceTicks(a, b, widthPx, origin = a, minGapPx = 90) {
  const span = b - a;
  if (!(span > 0) || !(widthPx > 0)) return [];
  const most = Math.max(1, Math.floor(widthPx / minGapPx));
  let step = 0.001;
  for (let k = 0; step * most < span; k++) step = STEPS[k % 3] * 10 ** (Math.floor(k / 3) - 3);
  const ticks = [];
  for (let t = Math.ceil((a - origin) / step) * step + origin; t <= b + step * 1e-9; t += step)
    ticks.push({ at: t, frac: (t - a) / span, offset: t - origin });
  return ticks;
}

// The chain of spans that decided when the trace ended: from the latest-ending
// root, the child that ended last, then the one that ended last before that one
// started, and so on, into each of them. Iterative (deep chains).
export function criticalPath(roots) {
  const on = new Set();
  const real = roots.filter((r) => r.end >= r.start);
  if (!real.length) return on;
  const stack = [real.reduce((x, y) => (y.end > x.end ? y : x))];
  while (stack.length) {
    const n = stack.pop();
    on.add(n.id);
    let t = n.end;
    const kids = [...n.children].sort((x, y) => y.end - x.end);
    for (const c of kids) {
      if (c.end > t + 1e-6 || c.end < n.start) continue;
      stack.push(c);
      t = c.start;
    }
  }
  return on;
}

// What of the path is worth outlining: nothing when it holds every span (a run
// with nothing in parallel: an outline on every bar would say nothing, so the
// legend says it instead). Placeholders are not spans yet.
export function criticalOutline(path, nodes) {
  let spans = 0, on = 0;
  for (const n of nodes.values()) if (!n.placeholder) { spans++; on += path.has(n.id); }
  const everySpan = spans > 0 && on === spans;
  return { outline: everySpan ? new Set() : path, everySpan };
}

// Stretches of [t0, t1] where nothing ran under the roots (at least @p minFrac
// of it): the run waiting between its steps. Roots count only when alone.
export function idleGaps(nodes, t0, t1, minFrac = 0.01) {
  const all = [...nodes.values()].filter((n) => !n.placeholder && n.end > n.start);
  const inner = all.filter((n) => n.parent && nodes.has(n.parent));
  const spans = (inner.length ? inner : all).map((n) => [n.start, n.end]).sort((x, y) => x[0] - y[0]);
  const gaps = [];
  let reach = t0;
  for (const [s, e] of spans) {
    if (s > reach && (s - reach) >= (t1 - t0) * minFrac) gaps.push([reach, s]);
    if (e > reach) reach = e;
  }
  if (t1 > reach && (t1 - reach) >= (t1 - t0) * minFrac) gaps.push([reach, t1]);
  return gaps;
}

// The window zoomed by @p factor (< 1: in) around the point at @p frac of it,
// kept within [t0, t1] and at least a microsecond wide.
export function zoomAround(view, t0, t1, frac, factor) {
  const span = view.b - view.a, at = view.a + span * frac;
  const width = Math.min(t1 - t0, Math.max(0.001, span * factor));
  let a = at - width * frac;
  a = Math.max(t0, Math.min(a, t1 - width));
  return { a, b: a + width };
}
