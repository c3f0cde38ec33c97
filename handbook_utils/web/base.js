// Shared by every browser widget of the book (handbook_utils.web_widgets joins this file with one
// widget's file into a single ES module). The widgets draw data that Python computed once: nothing
// here knows a formula of the book, only how to show numbers and react to the reader.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element: h("div", {class: "x", style: "..."}, child, "text", ...). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An SVG element with attributes. */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

/** Text that only screen readers read (the word "wrong:" before a struck word, say). */
function spoken(text) {
  return h("span", {class: "hb-sr-only"}, text);
}

let widgetCount = 0;

/**
 * A labelled range input that steps through `values` (any grid Python chose: log-spaced, irregular)
 * by index. The visible value is an <output>; the slider's aria-valuetext says the same, so a screen
 * reader hears "p: 0.99", not "index 17". `onChange(value, index)` runs on every move.
 */
function slider({label, values, index, format, onChange, name}) {
  const id = `hb-slider-${++widgetCount}`;
  const text = (i) => format(values[i]);
  const input = h("input", {
    type: "range", id, min: 0, max: values.length - 1, step: 1, value: index,
    "aria-valuetext": `${name}: ${text(index)}`, class: "hb-range",
  });
  const shown = h("output", {for: id, class: "hb-output"}, text(index));
  input.addEventListener("input", () => {
    const i = Number(input.value);
    shown.textContent = text(i);
    input.setAttribute("aria-valuetext", `${name}: ${text(i)}`);
    onChange(values[i], i);
  });
  return h("div", {class: "hb-slider-row"}, h("label", {for: id, html: label, class: "hb-label"}), input, shown);
}

/** Index of the grid value closest to `value`. */
function nearestIndex(values, value) {
  let best = 0;
  values.forEach((v, i) => { if (Math.abs(v - value) < Math.abs(values[best] - value)) best = i; });
  return best;
}

function niceTicks(lo, hi, count = 5) {
  const span = hi - lo;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

/**
 * A line chart as inline SVG. `spec`: {width, height, title, xLabel, yLabel, xDomain, yDomain,
 * series: [{label, points: [[x, y], ...], color, dash, marker}], legend ("bottom-right" or top right),
 * guides: [{y, color, label}],
 * marks: [{x, y, color, label}], description}. The SVG is an image with `description` as its text
 * alternative; series differ by dash pattern and marker as well as colour, and the legend names them.
 */
function lineChart(spec) {
  const W = spec.width || 560, H = spec.height || 300;
  const m = {left: 56, right: 16, top: spec.title ? 28 : 12, bottom: 44};
  const [x0, x1] = spec.xDomain, [y0, y1] = spec.yDomain;
  const X = (x) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const Y = (y) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
                           "aria-label": spec.description || spec.title || "chart", class: "hb-chart",
                           style: `max-width:${W}px;font:12px sans-serif`});
  if (spec.title) root.append(svg("text", {x: W / 2, y: 16, "text-anchor": "middle", "font-weight": "bold"}, text(spec.title)));
  const ink = spec.ink || "#333";
  root.append(svg("line", {x1: m.left, y1: H - m.bottom, x2: W - m.right, y2: H - m.bottom, stroke: ink}));
  root.append(svg("line", {x1: m.left, y1: m.top, x2: m.left, y2: H - m.bottom, stroke: ink}));
  for (const t of niceTicks(x0, x1)) {
    root.append(svg("line", {x1: X(t), x2: X(t), y1: H - m.bottom, y2: H - m.bottom + 4, stroke: ink}));
    root.append(svg("text", {x: X(t), y: H - m.bottom + 16, "text-anchor": "middle"}, text(fmtTick(t))));
  }
  for (const t of niceTicks(y0, y1)) {
    root.append(svg("line", {x1: m.left - 4, x2: m.left, y1: Y(t), y2: Y(t), stroke: ink}));
    root.append(svg("text", {x: m.left - 7, y: Y(t) + 4, "text-anchor": "end"}, text(fmtTick(t))));
  }
  root.append(svg("text", {x: (m.left + W - m.right) / 2, y: H - 8, "text-anchor": "middle"}, text(spec.xLabel)));
  root.append(svg("text", {x: 14, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle",
                           transform: `rotate(-90 14 ${(m.top + H - m.bottom) / 2})`}, text(spec.yLabel)));
  for (const g of spec.guides || []) {
    root.append(svg("line", {x1: m.left, x2: W - m.right, y1: Y(g.y), y2: Y(g.y), stroke: g.color || ink,
                             "stroke-dasharray": "2 3"}));
  }
  (spec.series || []).forEach((s, k) => {
    const d = s.points.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join("");
    root.append(svg("path", {d, fill: "none", stroke: s.color, "stroke-width": 2,
                             "stroke-dasharray": s.dash || null, class: "hb-series", "data-label": s.label}));
    const every = Math.max(1, Math.floor(s.points.length / 8));
    if (s.marker) s.points.forEach(([x, y], i) => { if (i % every === 0) root.append(marker(s.marker, X(x), Y(y), s.color)); });
    const n = spec.series.length;
    const ly = spec.legend === "bottom-right" ? H - m.bottom - 12 - 16 * (n - 1 - k) : m.top + 4 + 16 * k;
    root.append(svg("line", {x1: W - m.right - 190, x2: W - m.right - 166, y1: ly, y2: ly, stroke: s.color,
                             "stroke-width": 2, "stroke-dasharray": s.dash || null}));
    if (s.marker) root.append(marker(s.marker, W - m.right - 178, ly, s.color));
    root.append(svg("text", {x: W - m.right - 160, y: ly + 4}, text(s.label)));
  });
  for (const mk of spec.marks || []) {
    root.append(svg("circle", {cx: X(mk.x), cy: Y(mk.y), r: 5, fill: mk.color || ink, class: "hb-mark"}));
    if (mk.label) root.append(svg("text", {x: X(mk.x) + 8, y: Y(mk.y) - 8}, text(mk.label)));
  }
  return root;
}

function text(content) {
  const node = document.createTextNode(String(content));
  return node;
}

function fmtTick(t) {
  return Math.abs(t) >= 1000 ? t.toLocaleString("en-US") : String(+t.toFixed(3));
}

function marker(kind, x, y, color) {
  if (kind === "square") return svg("rect", {x: x - 3.5, y: y - 3.5, width: 7, height: 7, fill: color});
  if (kind === "triangle") return svg("path", {d: `M${x},${y - 5}L${x + 4.5},${y + 3.5}L${x - 4.5},${y + 3.5}Z`, fill: color});
  return svg("circle", {cx: x, cy: y, r: 3.5, fill: color});
}

/** A polite live region: what changed, said in words (sliders and the game announce through it). */
function liveRegion(cls = "hb-readout") {
  return h("div", {class: cls, "aria-live": "polite"});
}

const BASE_CSS = `
.hb-widget{border:1px solid #ccc;border-radius:6px;padding:10px 12px;margin:0.6em 0;max-width:760px}
.hb-sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.hb-slider-row{display:flex;align-items:center;gap:10px;margin:4px 0}
.hb-label{min-width:11em}
.hb-range{width:min(360px,50vw)}
.hb-output{font-variant-numeric:tabular-nums;min-width:5em}
.hb-widget button{margin:3px 6px 3px 0;padding:4px 12px;font-size:1em;cursor:pointer}
.hb-widget button:focus-visible,.hb-range:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
.hb-widget table{border-collapse:collapse;margin:0.4em 0}
.hb-widget td,.hb-widget th{padding:2px 12px 2px 0;text-align:right}
.hb-widget td:first-child,.hb-widget th:first-child{text-align:left}
`;

/**
 * The widget's outer box: a named group. In JupyterLab, keys pressed inside it stay with it (arrow keys
 * move a focused slider) instead of reaching the notebook's keyboard shortcuts.
 */
function widgetRoot(label, cls, ...children) {
  const root = h("div", {class: `hb-widget ${cls}`.trim(), role: "group", "aria-label": label,
                         "data-lm-suppress-shortcuts": "true"}, ...children);
  // the notebook around it would otherwise take the keys a slider or button needs
  root.addEventListener("keydown", (event) => {
    if (event.target !== root && /^(Arrow|Home|End|Page|Enter| )/.test(event.key)) event.stopPropagation();
  });
  return root;
}

/** Put the shared style sheet on the page once (a notebook output or a book page). */
function ensureStyle(root) {
  const doc = root.ownerDocument || document;
  if (doc.getElementById("hb-widget-style")) return;
  doc.head.append(h("style", {id: "hb-widget-style"}, BASE_CSS));
}
