// Token prices (the server's ARBOR_PRICES table, /api/prices) applied to spans.
// Pure: unit-tested under node --test.

// A model-name glob (* any run, ? one character) as a whole-name, case-insensitive test.
export function globTest(glob) {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return (name) => re.test(name);
}

// The table ready to use: [{test, input, output}], first match wins.
export function compile(table) {
  return { currency: table?.currency || 'USD', rules: (table?.prices || []).map((p) => ({ test: globTest(p.model), input: p.input, output: p.output })) };
}

// What a span's tokens cost, or null when its model has no price (or it has none).
export function costOf(prices, model, tin, tout) {
  if (!prices || !model || !(tin || tout)) return null;
  const rule = prices.rules.find((r) => r.test(model));
  return rule ? (tin * rule.input + tout * rule.output) / 1e6 : null;
}

// Every node's own cost (n.cost) from its model and tokens.
export function priceNodes(nodes, prices) {
  for (const n of nodes.values()) n.cost = costOf(prices, n.model, n.tin, n.tout);
}

export function fmtCost(v, currency = 'USD') {
  if (v === null || v === undefined) return '';
  const sym = { USD: '$', EUR: '€', GBP: '£' }[currency];
  const num = v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v >= 0.01 ? v.toFixed(3) : v.toFixed(5);
  return sym ? `${sym}${num}` : `${num} ${currency}`;
}
