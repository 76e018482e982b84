/* Next-word page: suggestions as you type (debounced, stale answers dropped), sampling, gate inspector and
   long-range probes; and the continuation permalink page. Words arrive already written for people (the server
   turns <eos>, N and <unk> into punctuation and placeholders), so this file only places them. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // Text that starts with punctuation or a clitic ("." "'s" "n't") joins the word before it without a space.
  function joinText(text, piece) {
    if (/^([.,!?;:)\]%']|n't)/.test(piece)) return text.replace(/\s+$/, "") + piece;
    return text + (text === "" || /\s$/.test(text) ? "" : " ") + piece;
  }

  function errorLine(message) {
    return Unroll.el("p", {class: "error", role: "alert", text: message});
  }

  function initPermalinkPage() {
    const result = $("nextword-result");
    if (!result) return;
    if (["queued", "running"].includes(result.dataset.status)) {
      Unroll.waitForJob(result.dataset.jobUrl).then(() => window.location.reload())
        .catch((err) => { $("status-line").textContent = err.message; });
    }
    const copy = $("copy-permalink");
    copy.addEventListener("click", async () => {
      const field = $("permalink");
      try { await navigator.clipboard.writeText(field.value); } catch (e) { field.select(); document.execCommand("copy"); }
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });
  }

  function initPage() {
    const root = $("nextword");
    if (!root) return;
    const prompt = $("prompt"), model = $("model"), list = $("suggestions"), errorBox = $("prompt-error");
    const DEBOUNCE_MS = 120;
    let timer = null, latest = 0, controller = null;

    function showError(message) {
      errorBox.textContent = message || "";
      errorBox.hidden = !message;
    }

    function describeModel(info) {
      if (info) $("model-version").textContent = `serving ${info.label} v${info.version}`;
    }

    function appendText(piece) {
      prompt.value = joinText(prompt.value, piece) + " ";
      prompt.focus();
      requestSuggestions();
    }

    function renderSuggestions(items) {
      list.replaceChildren();
      const top = items.length ? items[0].prob : 1;
      for (const item of items) {
        const pct = (item.prob * 100).toFixed(1);
        const shown = item.display || item.word;
        const button = Unroll.el("button", {type: "button", class: "suggestion", "data-word": shown,
          "data-token": item.word, "aria-label": `${shown}, ${pct} percent`, onclick: () => appendText(shown)},
          Unroll.el("span", {class: "word", text: shown}),
          Unroll.el("span", {class: "bar", "aria-hidden": "true"}, Unroll.el("span", {style: `width:${Math.max(2, 100 * item.prob / top)}%`})),
          Unroll.el("span", {class: "prob", text: `${pct}%`}));
        list.append(Unroll.el("li", {}, button));
      }
    }

    /* POST to the suggestion API; a slow answer (202) is waited for. Resolves to {ok, result} or {ok: false, error}. */
    async function askSuggest(body, signal) {
      const {status, data} = await Unroll.postJSON(root.dataset.suggestUrl, body, signal);
      if (status === 200) return {ok: true, result: data};
      if (status !== 202) return {ok: false, error: data.error || `Request failed (${status}).`};
      const job = await Unroll.waitForJob(data.url);
      return job.status === "succeeded" ? {ok: true, result: job.result} : {ok: false, error: job.error || "The job failed."};
    }

    function requestSuggestions() {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = prompt.value;
        if (!text.trim()) { list.replaceChildren(); showError(""); return; }
        const ticket = ++latest;
        if (controller) controller.abort();
        controller = new AbortController();
        try {
          const started = performance.now();
          const answer = await askSuggest({text, k: 8, model: model.value}, controller.signal);
          if (ticket !== latest) return;  // a newer keystroke has its own request
          if (!answer.ok) { showError(answer.error); return; }
          showError("");
          renderSuggestions(answer.result.suggestions);
          describeModel(answer.result.model);
          $("suggest-timing").textContent = `${Math.round(performance.now() - started)} ms`;
        } catch (err) {
          if (err.name !== "AbortError") showError("Could not reach the server. Is it running?");
        }
      }, DEBOUNCE_MS);
    }

    async function runJob(url, body, output, render) {
      output.replaceChildren(Unroll.el("p", {class: "muted", text: "Working…"}));
      try {
        let {status, data} = await Unroll.postJSON(url, body);
        if (status === 202) data = await Unroll.waitForJob(data.url, (job) => {
          output.firstChild.textContent = job.status === "queued" ? "Waiting for a worker…" : "Running…";
        });
        else if (status !== 200) { output.replaceChildren(errorLine(data.error)); return; }
        if (data.status !== "succeeded") { output.replaceChildren(errorLine(data.error || "The job failed.")); return; }
        describeModel(data.result.model);
        render(data.result, data);
      } catch (err) {
        output.replaceChildren(errorLine(err.message));
      }
    }

    // ---- model selector: the vocabulary line and the gate section follow the chosen model ----------------
    function selectedModel() {
      return model.options[model.selectedIndex].dataset;
    }

    function showModelFacts() {
      const facts = selectedModel();
      $("vocabulary-note").textContent = facts.vocabulary || "";
      let explainer = null;
      document.querySelectorAll(".gate-explainer").forEach((node) => {
        node.hidden = node.dataset.gates !== facts.gates;
        if (!node.hidden) explainer = node;
      });
      if (explainer) {
        $("gates-heading").textContent = explainer.dataset.title;
        $("inspect-button").textContent = explainer.dataset.button;
      }
      $("gates").replaceChildren();  // a table from another model would be read under the wrong heading
    }

    // ---- sampling ------------------------------------------------------------------------------------------
    $("temperature").addEventListener("input", (e) => { $("temperature-out").textContent = e.target.value; });

    function permalinkFor(id) {
      return root.dataset.resultUrl.replace("00000000-0000-0000-0000-000000000000", id);
    }

    $("sample-button").addEventListener("click", () => {
      const output = $("sample-output");
      runJob(root.dataset.sampleUrl, {
        text: prompt.value, model: model.value, temperature: parseFloat($("temperature").value),
        top_k: parseInt($("top-k").value, 10), words: parseInt($("words").value, 10),
      }, output, (result, job) => {
        const words = result.continuation_text;
        const glue = /^([.,!?;:)%']|n't)/.test(words) ? "" : " ";
        output.replaceChildren(
          Unroll.el("p", {class: "continuation"}, Unroll.el("span", {class: "muted", text: result.prompt.trim() + glue}),
            Unroll.el("strong", {text: words})),
          Unroll.el("div", {class: "row"},
            Unroll.el("button", {type: "button", class: "secondary", text: "Append to my text", onclick: () => appendText(words)}),
            Unroll.el("a", {href: permalinkFor(job.id), class: "permalink-link", text: "Permalink"})));
      });
    });

    // ---- gate inspector --------------------------------------------------------------------------------------
    const GATE_ROWS = {lstm: ["forget", "input", "output"], gru: ["update", "reset"]};

    function gateCell(value) {
      const v = Math.max(0, Math.min(1, value));
      return Unroll.el("td", {class: "gate", style: `--v:${v}`, title: v.toFixed(2), text: v.toFixed(2)});
    }

    function gateRows(result, body) {
      for (const gate of GATE_ROWS[result.cell] || []) {
        for (let layer = 0; layer < result.layers; layer++) {
          const row = Unroll.el("tr", {}, Unroll.el("th", {scope: "row", text: `${gate} gate · layer ${layer + 1}`}));
          result.gates[gate].forEach((perLayer) => row.append(gateCell(perLayer[layer])));
          body.append(row);
        }
      }
    }

    function hiddenNormRows(result, body) {
      const peak = Math.max(...result.hidden_norm.flat(), 1e-6);
      for (let layer = 0; layer < result.layers; layer++) {
        const row = Unroll.el("tr", {}, Unroll.el("th", {scope: "row", text: `‖h‖ · layer ${layer + 1}`}));
        result.hidden_norm.forEach((perLayer) => {
          const cell = gateCell(perLayer[layer] / peak);
          cell.textContent = perLayer[layer].toFixed(1);
          row.append(cell);
        });
        body.append(row);
      }
    }

    function renderInspection(output, result) {
      const table = Unroll.el("table", {class: "gate-table"});
      const head = Unroll.el("tr", {}, Unroll.el("th", {scope: "col", text: ""}));
      (result.labels || result.tokens).forEach((token) => head.append(Unroll.el("th", {scope: "col", text: token})));
      table.append(Unroll.el("thead", {}, head));
      const body = Unroll.el("tbody");
      gateRows(result, body);
      hiddenNormRows(result, body);
      table.append(body);
      const parts = [];
      if (!GATE_ROWS[result.cell]) {
        parts.push(Unroll.el("p", {class: "muted", text: "This vanilla RNN has no gates to show. Below is the norm ‖h‖ of its hidden state after each word."}));
      }
      parts.push(Unroll.el("div", {class: "table-scroll"}, table));
      output.replaceChildren(...parts);
    }

    $("inspect-button").addEventListener("click", () => {
      const output = $("gates");
      runJob(root.dataset.inspectUrl, {text: prompt.value, model: model.value}, output,
        (result) => renderInspection(output, result));
    });

    // ---- long-range probes: every model at once, side by side ----------------------------------------------
    function probeRow(option) {
      return Unroll.el("tr", {"data-model": option.value},
        Unroll.el("th", {scope: "row", text: option.textContent}),
        Unroll.el("td", {class: "rank", text: "…"}), Unroll.el("td", {class: "prob", text: ""}),
        Unroll.el("td", {class: "guess", text: ""}));
    }

    function fillProbeRow(row, answer) {
      const [rank, prob, guess] = row.querySelectorAll("td");
      if (!answer.ok) { rank.textContent = answer.error; rank.colSpan = 3; prob.remove(); guess.remove(); return; }
      const target = answer.result.target, top = answer.result.suggestions[0];
      guess.textContent = top ? (top.display || top.word) : "—";
      if (target.rank === null) {
        rank.textContent = "not in vocabulary";
        prob.textContent = "—";
        row.title = target.note;
        return;
      }
      rank.textContent = target.rank === 1 ? "1 ✓" : target.rank.toLocaleString("en");
      prob.textContent = `${(target.prob * 100).toPrecision(2)}%`;
    }

    // slots: the models to ask (default: every model in the selector); output: where the table goes.
    function runProbe(text, expected, slots, output = $("probe-results")) {
      const table = Unroll.el("table", {class: "probe-table"},
        Unroll.el("caption", {text: `Where each model ranks “${expected}” next`}),
        Unroll.el("thead", {}, Unroll.el("tr", {},
          ...["Model", "Rank", "Probability", "Top guess"].map((t) => Unroll.el("th", {scope: "col", text: t})))));
      const body = Unroll.el("tbody");
      table.append(body);
      const options = [...model.options].filter((option) => !slots || slots.includes(option.value));
      const rows = options.map((option) => {
        const row = probeRow(option);
        body.append(row);
        return askSuggest({text, k: 1, model: option.value, target: expected})
          .catch(() => ({ok: false, error: "Could not reach the server."}))
          .then((answer) => fillProbeRow(row, answer));
      });
      output.replaceChildren(Unroll.el("div", {class: "table-scroll"}, table),
        Unroll.el("p", {class: "muted small", text: "Rank 1 means the model's top guess is the expected word. A word outside a model's vocabulary can never be predicted by it."}));
      output.scrollIntoView({block: "nearest"});  // on a phone the table starts below the probe list
      return Promise.all(rows);
    }

    document.querySelectorAll(".probe").forEach((button) => button.addEventListener("click", () => {
      prompt.value = button.dataset.prompt;
      requestSuggestions();
      runProbe(button.dataset.prompt, button.dataset.answer);
    }));
    const seedButton = $("seed-button");
    if (seedButton) seedButton.addEventListener("click", () => {
      prompt.value = seedButton.dataset.prompt;
      requestSuggestions();
      $("seed-note").hidden = false;
      runProbe(seedButton.dataset.prompt, seedButton.dataset.answer, seedButton.dataset.models.split(" "),
        $("seed-results"));
    });
    prompt.addEventListener("input", requestSuggestions);
    model.addEventListener("change", () => { showModelFacts(); requestSuggestions(); });
    showModelFacts();
    requestSuggestions();
  }

  initPage();
  initPermalinkPage();
})();
