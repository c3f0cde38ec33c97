// Chapter 2's greedy-tree explorer. Python (handbook_utils.chapters.ch02_decoding.TreeExplorer) sends,
// for every point of the sliders' grid, the tree of TwoStepTask.from_tops: the branch probabilities,
// the answers' joint probabilities, which answer greedy decoding writes and which is the most
// probable. Moving a slider picks the tree computed for that point; nothing is computed here.

function render({model, el}) {
  ensureStyle(el);
  const d = model.get("data");
  const chosen = d.sliders.map((s) => s.index);
  const chart = h("div", {class: "hb-chart-box"});
  const readout = liveRegion();
  const c = d.colors;

  function drawTree(t) {
    const W = 720, H = 300, X = [40, 200, 360];
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", class: "hb-chart",
                             "aria-label": t.description, style: `max-width:${W}px;font:13px sans-serif`});
    root.append(svg("text", {x: W / 2, y: 18, "text-anchor": "middle", "font-weight": "bold"}, text(t.verdict)));
    const n = t.leaves.length, step = (H - 60) / Math.max(1, n - 1);
    const leafY = t.leaves.map((_, k) => 40 + k * step);
    const firstY = t.firsts.map((f) => {
      const ys = t.leaves.map((lf, k) => [lf, leafY[k]]).filter(([lf]) => lf.first === f.index).map(([, y]) => y);
      return ys.reduce((a, b) => a + b, 0) / ys.length;
    });
    const rootY = firstY.reduce((a, b) => a + b, 0) / firstY.length;
    const edge = (x0, y0, x1, y1, label, greedy, best) => {
      const color = greedy ? c.greedy : best ? c.best : c.neutral;
      root.append(svg("line", {x1: x0, y1: y0, x2: x1, y2: y1, stroke: color, "stroke-width": greedy || best ? 3 : 1.2,
                               "stroke-dasharray": best && !greedy ? "6 4" : null, class: "hb-edge"}));
      root.append(svg("text", {x: (x0 + x1) / 2, y: (y0 + y1) / 2 - 5, "text-anchor": "middle", fill: c.ink,
                               stroke: "white", "stroke-width": 3, "paint-order": "stroke"}, text(label)));
    };
    const node = (x, y, label) => {
      root.append(svg("circle", {cx: x, cy: y, r: 13, fill: "white", stroke: c.ink}));
      root.append(svg("text", {x, y: y + 5, "text-anchor": "middle", "font-family": "monospace"}, text(label)));
    };
    t.firsts.forEach((f, k) => edge(X[0], rootY, X[1], firstY[k], f.p.toFixed(2), f.greedy, f.best));
    t.leaves.forEach((lf, k) => {
      const fy = firstY[t.firsts.findIndex((f) => f.index === lf.first)];
      edge(X[1], fy, X[2], leafY[k], lf.p.toFixed(2), lf.greedy, lf.best);
      const tag = lf.greedy && lf.best ? "  ← greedy, most probable" : lf.greedy ? "  ← greedy" : lf.best ? "  ← most probable" : "";
      root.append(svg("text", {x: X[2] + 22, y: leafY[k] + 5, "font-family": "monospace",
                               "font-weight": tag ? "bold" : "normal",
                               fill: lf.greedy ? c.greedy_text : lf.best ? c.best_text : c.ink},
                      text(`${lf.answer}   P = ${lf.joint.toFixed(3)}${tag}`)));
    });
    t.firsts.forEach((f, k) => node(X[1], firstY[k], f.letter));
    t.leaves.forEach((lf, k) => node(X[2], leafY[k], lf.answer[1]));
    node(X[0], rootY, "^");
    return root;
  }

  // one stored tree (its numbers, see explorer_trees) as the object drawTree reads, said in words
  function unpack(nums) {
    const nf = d.firsts.length, nl = d.leaves.length;
    const [g, b] = nums.slice(nf + 2 * nl);
    const leaves = d.leaves.map((lf, k) => ({first: lf.first, answer: lf.answer, p: nums[nf + k],
                                             joint: nums[nf + nl + k], greedy: k === g, best: k === b}));
    const firsts = d.firsts.map((letter, i) => ({index: i, letter, p: nums[i],
                                                 greedy: leaves[g].first === i, best: leaves[b].first === i}));
    const q = (lf) => `'${lf.answer}' (P = ${lf.joint.toFixed(3)})`;
    const verdict = g === b ? "greedy finds the most probable answer"
      : `greedy writes ${q(leaves[g])}, the best is ${q(leaves[b])}`;
    const tag = (lf) => (lf.greedy && lf.best ? " (greedy, most probable)" : lf.greedy ? " (greedy)" : lf.best ? " (most probable)" : "");
    const description = `Probability tree of the two-letter answers: ${verdict}. First letter: ` +
      firsts.map((f) => `${f.letter} with P = ${f.p.toFixed(2)}`).join(", ") + ". Whole answers: " +
      leaves.map((lf) => `${lf.answer} P = ${lf.joint.toFixed(3)}${tag(lf)}`).join(", ") + ".";
    return {firsts, leaves, verdict, description};
  }

  function draw() {
    const tree = unpack(d.trees[chosen.join(",")]);
    chart.replaceChildren(drawTree(tree));
    readout.textContent = tree.verdict;
  }

  el.replaceChildren(widgetRoot("Greedy decoding tree explorer", "",
    d.sliders.map((s, i) => slider({label: s.label, name: s.name, values: s.values, index: s.index,
      format: (v) => v.toFixed(2), onChange: (_, j) => { chosen[i] = j; draw(); }})),
    readout, chart));
  draw();
}

export default { render };
