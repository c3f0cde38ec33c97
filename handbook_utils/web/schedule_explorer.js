// Chapter 5's schedule explorer. Python (handbook_utils.chapters.ch05_explorer.ScheduleExplorer)
// sends, for every value on each slider's grid, the schedule's curve rho(epoch) and its summary
// (epoch where rho reaches one half, rho at the end, model tokens per sequence, their share).
// Moving a slider picks the curve computed for that value; nothing is computed here.

function render({model, el}) {
  ensureStyle(el);
  const d = model.get("data");
  const chosen = Object.fromEntries(d.sliders.map((s) => [s.name, s.index]));
  const chart = h("div", {class: "hb-chart-box"});
  const table = h("div");
  const readout = liveRegion();

  function pick(family) {
    const f = d.families[family];
    const key = f.params.map((name) => chosen[name]).join(",");
    return f.by_index[key];
  }

  function draw() {
    const rows = d.order.map((family) => ({family, ...d.families[family], ...pick(family)}));
    const half = (r) => (r.reach_half === null ? "never" : r.reach_half.toFixed(1));
    chart.replaceChildren(lineChart({
      width: 620, height: 320, title: "Schedules", xLabel: "training time (epochs)", yLabel: d.y_label,
      xDomain: [0, d.total_epochs], yDomain: [0, 1.02], ink: d.ink, legend: "bottom-right",
      series: rows.map((r) => ({label: r.label, color: r.color, dash: r.dash, marker: r.marker,
                                points: r.curve.map((v, i) => [d.epochs[i], v])})),
      guides: [{y: 0.5, color: d.guide}],
      description: "Line chart of the three schedules: " + rows.map((r) =>
        `${r.label} reaches one half at epoch ${half(r)} and ends at ${r.final.toFixed(3)}`).join("; ") + ".",
    }));
    const head = h("tr", {}, h("th", {scope: "col"}, "schedule"), d.columns.map((c) => h("th", {scope: "col"}, c)));
    table.replaceChildren(h("table", {}, h("caption", {class: "hb-sr-only"}, "Each schedule's numbers"), head,
      rows.map((r) => h("tr", {},
        h("th", {scope: "row", style: `color:${r.text_color}`}, r.label),
        h("td", {}, half(r)), h("td", {}, r.final.toFixed(3)),
        h("td", {}, Math.round(r.tokens).toLocaleString("en-US")), h("td", {}, `${Math.round(100 * r.share)}%`)))),
      h("div", {style: "font-size:0.85em"}, d.note));
    readout.textContent = rows.map((r) => `${r.label}: one half at epoch ${half(r)}`).join("; ");
  }

  el.replaceChildren(widgetRoot("Schedule explorer", "",
    d.sliders.map((s) => slider({label: s.label, name: s.name, values: s.values, index: s.index,
      format: (v) => v.toFixed(s.decimals), onChange: (_, i) => { chosen[s.name] = i; draw(); }})),
    readout, chart, table));
  draw();
}

export default { render };
