// Chapter 3's p^T explorer. Python (handbook_utils.chapters.ch03_forecast.CompoundingExplorer) sends
// the grid of p values, the curve p^T for T = 0..T_max for each of them, and the length at which each
// falls to one half. Moving a slider picks a curve and a point on it; nothing is computed here.

function render({model, el}) {
  ensureStyle(el);
  const d = model.get("data");
  let pi = d.p_index, T = d.T;
  const chart = h("div", {class: "hb-chart-box"});
  const readout = liveRegion();
  const fmtP = (p) => p.toFixed(4);
  const pct = (x) => (100 * x).toFixed(1) + "%";

  function draw() {
    const p = d.p_values[pi], curve = d.curves[pi], y = curve[T], half = d.half_lengths[pi];
    const halfText = half > d.T_max * 100 ? "beyond any length shown" : `T = ${Math.round(half)} tokens`;
    readout.replaceChildren(h("b", {}, "p", h("sup", {}, "T")), ` = ${fmtP(p)}`, h("sup", {}, String(T)),
      " = ", h("b", {}, pct(y)), ` of answers fully right; success falls to 50% at ${halfText}.`);
    chart.replaceChildren(lineChart({
      width: 600, height: 300, title: d.title, xLabel: d.x_label, yLabel: d.y_label,
      xDomain: [0, d.T_max], yDomain: [0, 1.02], ink: d.colors.ink,
      series: [{label: `p = ${fmtP(p)}`, points: curve.map((v, t) => [t, v]), color: d.colors.curve}],
      guides: [{y: 0.5, color: d.colors.guide}],
      marks: [{x: T, y, color: d.colors.mark, label: `${fmtP(p)}^${T} = ${pct(y)}`}],
      description: `Line chart: p to the power T for p = ${fmtP(p)}, falling from 1 at T = 0 to ` +
        `${pct(curve[d.T_max])} at T = ${d.T_max}; at T = ${T} it is ${pct(y)}; it crosses 50% at ${halfText}.`,
    }));
  }

  el.replaceChildren(widgetRoot("p to the power T explorer", "",
    slider({label: "<i>p</i>: per-token accuracy", name: "p", values: d.p_values, index: pi, format: fmtP,
            onChange: (_, i) => { pi = i; draw(); }}),
    slider({label: "<i>T</i>: answer length (tokens)", name: "T", values: d.T_values, index: T - d.T_values[0],
            format: (t) => String(t), onChange: (t) => { T = t; draw(); }}),
    readout, chart));
  draw();
}

export default { render };
