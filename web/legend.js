// The layer panel's legend, read from what the map draws: the colours come from the style
// layers' own paint properties (a plain colour, or a `match` on a field), the words from the
// catalogue's coded values (/api/layers `fields[].values`). Change a colour in the style and the
// legend follows; there is no second colour table to keep in step.

const COLOUR_PROPERTY = { circle: "circle-color", line: "line-color", fill: "fill-color" };
// Which kind of style layer stands for a layer when all are plain colours: the points, then
// outlines, then fills (a polygon layer is recognised by its outline).
const RANK = { circle: 0, line: 1, fill: 2 };

const isColour = (value) => typeof value === "string" && /^(#|rgb|hsl)/.test(value);

// The entries of a `match` on a field: [{colour, values[]}] plus the fallback colour.
function matchEntries(expression) {
  if (!Array.isArray(expression) || expression[0] !== "match") return null;
  const input = expression[1];
  if (!Array.isArray(input) || input[0] !== "get" || typeof input[1] !== "string") return null;
  const entries = [];
  for (let i = 2; i + 1 < expression.length; i += 2) {
    const values = Array.isArray(expression[i]) ? expression[i] : [expression[i]];
    if (!isColour(expression[i + 1])) return null;
    entries.push({ colour: expression[i + 1], values: values.map(String) });
  }
  const fallback = expression[expression.length - 1];
  return isColour(fallback) ? { field: input[1], entries, fallback } : null;
}

// The legend of one catalogue layer: `{kind, colour, entries: [{colour, label}]}`; `entries` has
// more than one item when the layer is coloured by a field.
export function legendFor(map, styleIds, catalogueLayer) {
  const fields = new Map((catalogueLayer?.fields || []).map((f) => [f.name, f]));
  let plain = null;
  for (const styleId of styleIds) {
    const layer = map.getLayer(styleId);
    if (!layer || !(layer.type in COLOUR_PROPERTY)) continue;
    const fixed = layer.metadata?.["gridlink:legend"];
    if (fixed) return { kind: layer.type, colour: fixed, entries: [] };
    const paint = map.getPaintProperty(styleId, COLOUR_PROPERTY[layer.type]);
    const match = matchEntries(paint);
    if (match) {
      const field = fields.get(match.field);
      const name = (value) => field?.values?.[value] ?? value;
      const covered = new Set(match.entries.flatMap((e) => e.values));
      const rest = Object.keys(field?.values || {}).filter((v) => !covered.has(v)).map(name);
      const entries = match.entries.map((e) => ({ colour: e.colour, label: e.values.map(name).join("、") }));
      entries.push({ colour: match.fallback, label: rest.length ? rest.join("、") : "其他" });
      // One swatch per colour drawn (roads: 次干路 and 支路 are both white).
      const merged = [];
      for (const e of entries) {
        const same = merged.find((m) => m.colour.toLowerCase() === e.colour.toLowerCase());
        if (same) same.label += `、${e.label}`;
        else merged.push({ ...e });
      }
      return { kind: layer.type, colour: merged[0].colour, entries: merged, field: match.field };
    }
    if (isColour(paint) && (!plain || RANK[layer.type] < RANK[plain.kind])) plain = { kind: layer.type, colour: paint, entries: [] };
  }
  return plain || { kind: "circle", colour: "#999", entries: [] };
}
