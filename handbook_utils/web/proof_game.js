// Chapter 1's proof-writing game, played in the browser. Python (handbook_utils.chapters.ch01_widgets)
// sends the whole game as data in the model's "plan": every round (phase, proof, true words, the
// shuffled options of each step), the banners, and the forecast p̂^L for every possible phase-1
// score. This file only walks through the rounds, draws them, and counts. It writes the reader's
// picks back to the model ("picks"), so in a live notebook Python can score the same game.

function render({model, el}) {
  ensureStyle(el);
  const plan = model.get("plan");
  const colors = plan.colors;
  const state = {round: 0, step: 0, own: [], picks: [], feedback: null};
  const content = h("div");
  // persistent and read only by screen readers (the page shows the same in .hb-feedback): announces each change
  const status = liveRegion("hb-status hb-sr-only");
  const root = widgetRoot("Proof-writing game", "hb-game",
                 content, status, h("button", {type: "button", class: "hb-restart", onclick: () => restart()}, "Restart"));
  el.replaceChildren(root);

  const finished = () => state.round >= plan.rounds.length;
  const word = (txt, role, bold = false) =>
    h("span", {style: `color:${colors[role + "_text"]};${bold ? "font-weight:bold;" : ""}`}, txt);

  function banner(phase) {
    const b = plan.banners[phase];
    return h("div", {class: "hb-banner", style: `border-left:6px solid ${colors[b.role]};padding:4px 10px;margin-bottom:6px`},
      h("b", {style: `color:${colors[b.role + "_text"]}`}, b.name), h("br"), b.text);
  }

  function choose(chosen) {
    const round = plan.rounds[state.round];
    const truth = round.words[state.step];
    state.picks.push({phase: round.phase, round: state.round, step: state.step, chosen, truth});
    state.own.push(chosen);
    state.step += 1;
    if (round.phase === "teacher_forcing") state.feedback = {right: chosen === truth, chosen, truth};
    else state.feedback = {noted: true};
    if (state.step === round.words.length) {
      state.round += 1;
      state.step = 0;
      state.own = [];
      const next = plan.rounds[state.round];
      if (!next || next.phase !== round.phase) state.feedback = null;  // a new phase: its banner explains it
    }
    model.set("picks", state.picks.map((p) => p.chosen));
    model.save_changes();
    draw(true);
  }

  function restart() {
    Object.assign(state, {round: 0, step: 0, own: [], picks: [], feedback: null});
    model.set("picks", []);
    model.save_changes();
    draw(true);
  }

  function feedbackNode() {
    const f = state.feedback;
    if (!f) return h("div", {class: "hb-feedback"});
    if (f.noted) return h("div", {class: "hb-feedback"}, h("i", {}, "Noted. No feedback until the end."));
    if (f.right) return h("div", {class: "hb-feedback"}, word(`✓ Right: “${f.truth}”.`, "accent"));
    return h("div", {class: "hb-feedback"}, `✗ Wrong: you picked “${f.chosen}”; the proof says `,
             word(`“${f.truth}”`, "teacher_forcing", true), ". It carries on with the true word.");
  }

  function playing() {
    const round = plan.rounds[state.round];
    const tf = round.phase === "teacher_forcing";
    const prefix = tf ? round.words.slice(0, state.step) : state.own;
    const role = tf ? "teacher_forcing" : "free_running";
    const words = [];
    prefix.forEach((w) => { words.push(word(w, role), " "); });
    const progress = h("progress", {max: round.words.length, value: state.step,
                                    "aria-label": "words written in this proof"});
    return [
      banner(round.phase),
      h("div", {class: "hb-progress"}, progress,
        ` proof ${round.number} of ${round.count} · word ${state.step + 1} of ${round.words.length}`),
      h("div", {style: "font-size:1.1em;line-height:1.8;margin:6px 0"},
        h("b", {}, round.title), h("br"), h("i", {}, "Proof. "),
        spoken(tf ? "the true proof so far: " : "your proof so far: "), ...words,
        h("span", {style: `border-bottom:2px solid ${colors.ink};padding:0 1.5em`}, "\u200b"),
        spoken(" (blank: the next word)")),
      h("div", {class: "hb-options", role: "group", "aria-label": "choices for the next word"},
        round.options[state.step].map((w) => h("button", {type: "button", onclick: () => choose(w)}, w))),
      feedbackNode(),
    ];
  }

  function pct(x) { return Number.isFinite(x) ? `${Math.round(100 * x)}%` : "–"; }

  function endScreen() {
    const tf = state.picks.filter((p) => p.phase === "teacher_forcing");
    const free = state.picks.filter((p) => p.phase === "free_running");
    const right = (ps) => ps.filter((p) => p.chosen === p.truth).length;
    const proofs = plan.rounds.map((r, i) => ({r, i})).filter(({r}) => r.phase === "free_running");
    const results = proofs.map(({r, i}) => {
      const mine = state.picks.filter((p) => p.round === i);
      return {title: r.title, picks: mine, ok: mine.every((p) => p.chosen === p.truth)};
    });
    const okCount = results.filter((r) => r.ok).length;
    const forecast = plan.forecast[right(tf)];
    const rows = [
      ["Phase 1 (teacher forcing): words right", `${pct(right(tf) / tf.length)} (${right(tf)}/${tf.length})`],
      ["Phase 2 (free running): words right", `${pct(right(free) / free.length)} (${right(free)}/${free.length})`],
      ["Phase 2 (free running): whole proofs right", `${pct(okCount / results.length)} (${okCount}/${results.length})`],
      [["Forecast from phase 1: p̂", h("sup", {}, "L"), ` with L ≈ ${plan.mean_length} words`], pct(forecast)],
    ];
    const table = h("table", {class: "hb-summary"},
      h("caption", {class: "hb-sr-only"}, "Your score"),
      rows.map(([k, v]) => h("tr", {}, h("th", {scope: "row", style: "font-weight:normal"}, k), h("td", {}, h("b", {}, v)))));
    const written = results.map((res) => {
      const words = [];
      for (const p of res.picks) {
        if (p.chosen === p.truth) words.push(word(p.chosen, "free_running"), " ");
        else words.push(h("del", {style: `color:${colors.neutral_text}`}, spoken("wrong: "), p.chosen), " ",
                        h("ins", {style: "text-decoration:none"}, spoken("true word: "), word(`[${p.truth}]`, "teacher_forcing", true)), " ");
      }
      const n = res.picks.filter((p) => p.chosen === p.truth).length;
      return h("div", {style: "margin:0.4em 0;line-height:1.7"},
        h("b", {}, res.title), ` (${n}/${res.picks.length} words, ${res.ok ? "✓ correct proof" : "✗ not a proof"})`,
        h("br"), ...words);
    });
    return [
      banner("done"),
      table,
      h("div", {}, h("b", {}, "The free-running proofs"), " (wrong words struck, true word in [brackets]):"),
      ...written,
    ];
  }

  function draw(moveFocus = false) {
    content.replaceChildren(...(finished() ? endScreen() : playing()));
    const f = state.feedback;
    status.textContent = finished() ? "Game over: your results are below." :
      (f && f.right !== undefined ? (f.right ? "Right." : `Wrong; the true word is ${f.truth}.`) : "");
    if (moveFocus) {
      const first = root.querySelector(".hb-options button") || root.querySelector(".hb-restart");
      if (first) first.focus({preventScroll: true});
    }
  }

  draw(false);
}

export default { render };
