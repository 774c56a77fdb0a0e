// In-trace search: which spans match a query, and the ancestors that must stay
// visible to reach them. Pure: unit-tested with the model.

// A span matches when its name contains the query (case-insensitive), its ID
// starts with it, or the server found the query in its attributes, events or
// status message (@p found: span IDs from the tree's ?match=, for this query).
// `keep` holds every match and its ancestors.
export function matchSpans(nodes, query, found = null) {
  const q = query.toLowerCase();
  const matches = new Set(), keep = new Set();
  if (!q) return { matches, keep };
  for (const n of nodes.values()) {
    if (n.name.toLowerCase().includes(q) || n.id.startsWith(q) || (found && found.has(n.id))) {
      matches.add(n.id);
      for (let p = n; p && !keep.has(p.id); p = nodes.get(p.parent)) keep.add(p.id);
    }
  }
  return { matches, keep };
}
