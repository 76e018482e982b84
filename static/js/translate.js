/* Translate page: translation as you type (debounced, stale answers dropped), the other beams, the attention
   grid (hover a row to light up the English it used) and BLEU by sentence length; and the permalink page. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const NAMES = {de: "German", fr: "French"};

  /* A sentencepiece piece as people read it: "▁Hund" starts a word, "chen" continues one. */
  function pieceLabel(piece) {
    if (piece === "</s>") return {text: "(end)", starts: true};
    return piece.startsWith("▁") ? {text: piece.slice(1) || "␣", starts: true} : {text: piece, starts: false};
  }

  /* The attention grid: rows = target pieces, columns = source pieces, each cell shaded by its weight. */
  function renderAttention(container, attention) {
    if (!attention) {
      container.replaceChildren(Unroll.el("p", {class: "muted", text: "This model has no attention: the decoder " +
        "saw the whole English sentence only as one fixed-size vector, so there is nothing to show."}));
      return;
    }
    const head = Unroll.el("tr", {}, Unroll.el("th", {scope: "col", class: "corner", text: ""}));
    const sourceCells = attention.source.map((piece, j) => {
      const label = pieceLabel(piece);
      const th = Unroll.el("th", {scope: "col", class: `src${label.starts ? "" : " cont"}`, "data-col": j},
        Unroll.el("span", {text: label.text}));
      head.append(th);
      return th;
    });
    const body = Unroll.el("tbody");
    attention.target.forEach((piece, i) => {
      const label = pieceLabel(piece);
      const row = Unroll.el("tr", {tabindex: "0", "data-row": i},
        Unroll.el("th", {scope: "row", class: `tgt${label.starts ? "" : " cont"}`, text: label.text}));
      attention.weights[i].forEach((w, j) => {
        row.append(Unroll.el("td", {style: `--w:${w.toFixed(3)}`, title: `${label.text} ← ${pieceLabel(attention.source[j]).text}: ${(w * 100).toFixed(0)}%`}));
      });
      const light = () => {
        body.querySelectorAll("tr.active").forEach((r) => r.classList.remove("active"));
        row.classList.add("active");
        sourceCells.forEach((th, j) => {
          th.style.setProperty("--w", attention.weights[i][j].toFixed(3));
          th.classList.toggle("lit", attention.weights[i][j] >= 0.15);
        });
      };
      row.addEventListener("mouseenter", light);
      row.addEventListener("focus", light);
      row.addEventListener("click", light);
      body.append(row);
    });
    const table = Unroll.el("table", {class: "attention-grid", id: "attention-grid"},
      Unroll.el("caption", {class: "visually-hidden", text: "Attention: rows are the pieces written, columns the English pieces read"}),
      Unroll.el("thead", {}, head), body);
    container.replaceChildren(Unroll.el("div", {class: "table-scroll"}, table));
  }

  function renderBeams(list, nbest) {
    list.replaceChildren(...nbest.map((h, i) => Unroll.el("li", {class: i === 0 ? "best" : ""},
      Unroll.el("span", {class: "text", text: h.text}), " ", Unroll.el("span", {class: "muted small", text: h.score.toFixed(3)}))));
  }

  function initPermalinkPage() {
    const root = $("translate-result");
    if (!root) return;
    if (["queued", "running"].includes(root.dataset.status)) {
      Unroll.waitForJob(root.dataset.jobUrl).then(() => window.location.reload())
        .catch((err) => { $("status-line").textContent = err.message; });
      return;
    }
    const data = JSON.parse($("translate-result-data").textContent || "{}");
    if ($("attention") && data.attention) renderAttention($("attention"), data.attention);
  }

  function lengthChart(models) {
    const chart = $("length-chart");
    const measured = models.filter((m) => m.by_length && m.by_length.length);
    if (!chart || !window.Plotly || !measured.length) { if (chart) chart.hidden = true; return; }
    const traces = measured.map((m) => ({
      x: m.by_length.map((b) => `${b.words} words`), y: m.by_length.map((b) => b.bleu),
      text: m.by_length.map((b) => `${b.n} sentences`), name: m.label, type: "scatter", mode: "lines+markers",
      line: {dash: m.attention ? "solid" : "dot"},
      hovertemplate: "%{x}: BLEU %{y}<br>%{text}<extra>%{fullData.name}</extra>",
    }));
    Plotly.newPlot(chart, traces, {
      margin: {l: 50, r: 10, t: 30, b: 60}, height: 320,
      title: {text: "BLEU by English sentence length (test set)", font: {size: 14}},
      xaxis: {title: {text: "English sentence length"}}, yaxis: {title: {text: "BLEU"}, rangemode: "tozero"},
      legend: {orientation: "h", y: -0.3},
    }, {displayModeBar: false, responsive: true});
  }

  function initPage() {
    const root = $("translate");
    if (!root) return;
    const models = JSON.parse($("translate-models").textContent || "[]");
    const text = $("source-text"), target = $("target"), beam = $("beam"), errorBox = $("source-error");
    const DEBOUNCE_MS = 200;
    let timer = null, latest = 0, controller = null;

    function showError(message) {
      errorBox.textContent = message || "";
      errorBox.hidden = !message;
    }

    function chosenModel() {
      const wantAttention = document.querySelector("input[name=attention]:checked").value === "on";
      const options = models.filter((m) => m.target === target.value);
      return options.find((m) => m.attention === wantAttention) || options[0];
    }

    function updateSwitch() {
      const options = models.filter((m) => m.target === target.value);
      const hasPlain = options.some((m) => !m.attention), hasAttention = options.some((m) => m.attention);
      document.querySelector("input[name=attention][value=off]").disabled = !hasPlain;
      document.querySelector("input[name=attention][value=on]").disabled = !hasAttention;
      if (!hasPlain) document.querySelector("input[name=attention][value=on]").checked = true;
      const note = $("switch-note");
      note.hidden = hasPlain;
      note.textContent = hasPlain ? "" : `No model without attention is installed for ${NAMES[target.value] || target.value}.`;
      $("target-name").textContent = NAMES[target.value] || target.value;
    }

    async function ask(body, signal) {
      const {status, data} = await Unroll.postJSON(root.dataset.apiUrl, body, signal);
      if (status === 200) return {ok: true, result: data};
      if (status !== 202) return {ok: false, error: data.error || `Request failed (${status}).`};
      const job = await Unroll.waitForJob(data.url);
      return job.status === "succeeded" ? {ok: true, result: {...job.result, job_id: job.id}}
        : {ok: false, error: job.error || "The job failed."};
    }

    function render(result) {
      $("translation").textContent = result.translation;
      $("translation").lang = result.target;
      const link = Unroll.el("a", {href: root.dataset.resultUrl.replace("00000000-0000-0000-0000-000000000000", result.job_id), text: "permalink"});
      $("served-by").replaceChildren(`${result.model.label} v${result.model.version}, beam ${result.beam} · `, link);
      renderBeams($("nbest"), result.nbest);
      renderAttention($("attention"), result.attention);
    }

    function requestTranslation() {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const sentence = text.value;
        if (!sentence.trim()) { showError(""); $("translation").textContent = ""; return; }
        const model = chosenModel();
        const ticket = ++latest;
        if (controller) controller.abort();
        controller = new AbortController();
        try {
          const started = performance.now();
          const body = {text: sentence, source: "en", target: target.value, model: model ? model.slot : undefined};
          if (beam.value !== "") body.beam = Number(beam.value);
          const answer = await ask(body, controller.signal);
          if (ticket !== latest) return;  // a newer keystroke has its own request
          if (!answer.ok) { showError(answer.error); return; }
          showError("");
          render(answer.result);
          $("translate-timing").textContent = `${Math.round(performance.now() - started)} ms`;
        } catch (err) {
          if (err.name !== "AbortError") showError("Could not reach the server. Is it running?");
        }
      }, DEBOUNCE_MS);
    }

    document.querySelectorAll(".example").forEach((button) => button.addEventListener("click", () => {
      text.value = button.textContent;
      text.scrollIntoView({block: "nearest"});   // the failure examples sit below, by the scores
      requestTranslation();
    }));
    text.addEventListener("input", requestTranslation);
    beam.addEventListener("input", requestTranslation);
    target.addEventListener("change", () => { updateSwitch(); requestTranslation(); });
    document.querySelectorAll("input[name=attention]").forEach((r) => r.addEventListener("change", requestTranslation));
    updateSwitch();
    requestTranslation();
    lengthChart(models);
  }

  initPage();
  initPermalinkPage();
})();
