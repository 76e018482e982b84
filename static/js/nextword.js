/* Next-word page: suggestions as you type (debounced, stale answers dropped), sampling, gate inspector. */
"use strict";
(function () {
  const root = document.getElementById("nextword");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
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

  function appendWord(word) {
    const text = prompt.value;
    const glue = text === "" || /\s$/.test(text) ? "" : " ";
    prompt.value = text + glue + word + " ";
    prompt.focus();
    requestSuggestions();
  }

  function renderSuggestions(items) {
    list.replaceChildren();
    const top = items.length ? items[0].prob : 1;
    for (const item of items) {
      const pct = (item.prob * 100).toFixed(1);
      const button = Unroll.el("button", {type: "button", class: "suggestion", "data-word": item.word,
        "aria-label": `${item.word}, ${pct} percent`, onclick: () => appendWord(item.word)},
        Unroll.el("span", {class: "word", text: item.word}),
        Unroll.el("span", {class: "bar", "aria-hidden": "true"}, Unroll.el("span", {style: `width:${Math.max(2, 100 * item.prob / top)}%`})),
        Unroll.el("span", {class: "prob", text: `${pct}%`}));
      list.append(Unroll.el("li", {}, button));
    }
  }

  async function requestSuggestions() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = prompt.value;
      if (!text.trim()) { list.replaceChildren(); showError(""); return; }
      const ticket = ++latest;
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const started = performance.now();
        const {status, data} = await Unroll.postJSON(root.dataset.suggestUrl, {text, k: 8, model: model.value}, controller.signal);
        if (ticket !== latest) return;  // a newer keystroke has its own request
        if (status === 200) {
          showError("");
          renderSuggestions(data.suggestions);
          describeModel(data.model);
          $("suggest-timing").textContent = `${Math.round(performance.now() - started)} ms`;
        } else if (status === 202) {
          const job = await Unroll.waitForJob(data.url);
          if (ticket === latest && job.status === "succeeded") { renderSuggestions(job.result.suggestions); describeModel(job.result.model); }
        } else {
          showError(data.error || `Request failed (${status}).`);
        }
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
      else if (status !== 200) { output.replaceChildren(Unroll.el("p", {class: "error", role: "alert", text: data.error})); return; }
      if (data.status !== "succeeded") { output.replaceChildren(Unroll.el("p", {class: "error", role: "alert", text: data.error || "The job failed."})); return; }
      describeModel(data.result.model);
      render(data.result);
    } catch (err) {
      output.replaceChildren(Unroll.el("p", {class: "error", role: "alert", text: err.message}));
    }
  }

  $("temperature").addEventListener("input", (e) => { $("temperature-out").textContent = e.target.value; });

  $("sample-button").addEventListener("click", () => {
    const output = $("sample-output");
    runJob(root.dataset.sampleUrl, {
      text: prompt.value, model: model.value, temperature: parseFloat($("temperature").value),
      top_k: parseInt($("top-k").value, 10), words: parseInt($("words").value, 10),
    }, output, (result) => {
      const words = result.continuation.join(" ");
      output.replaceChildren(
        Unroll.el("p", {class: "continuation"}, Unroll.el("span", {class: "muted", text: result.prompt.trim() + " "}),
          Unroll.el("strong", {text: words})),
        Unroll.el("button", {type: "button", class: "secondary", text: "Append to my text",
          onclick: () => appendWord(words)}));
    });
  });

  function gateCell(value) {
    const v = Math.max(0, Math.min(1, value));
    return Unroll.el("td", {class: "gate", style: `--v:${v}`, title: v.toFixed(2), text: v.toFixed(2)});
  }

  $("inspect-button").addEventListener("click", () => {
    const output = $("gates");
    runJob(root.dataset.inspectUrl, {text: prompt.value, model: model.value}, output, (result) => {
      if (!result.gates) {
        output.replaceChildren(Unroll.el("p", {class: "muted", text: "This model has no gates to show: try an LSTM."}));
        return;
      }
      const table = Unroll.el("table", {class: "gate-table"});
      const head = Unroll.el("tr", {}, Unroll.el("th", {scope: "col", text: ""}));
      result.tokens.forEach((token) => head.append(Unroll.el("th", {scope: "col", text: token})));
      table.append(Unroll.el("thead", {}, head));
      const body = Unroll.el("tbody");
      const layers = result.gates.forget[0].length;
      for (const gate of ["forget", "input", "output"]) {
        for (let layer = 0; layer < layers; layer++) {
          const row = Unroll.el("tr", {}, Unroll.el("th", {scope: "row", text: `${gate} gate · layer ${layer + 1}`}));
          result.gates[gate].forEach((perLayer) => row.append(gateCell(perLayer[layer])));
          body.append(row);
        }
      }
      if (result.hidden_norm) {
        const peak = Math.max(...result.hidden_norm.flat(), 1e-6);
        for (let layer = 0; layer < layers; layer++) {
          const row = Unroll.el("tr", {}, Unroll.el("th", {scope: "row", text: `‖h‖ · layer ${layer + 1}`}));
          result.hidden_norm.forEach((perLayer) => {
            const cell = gateCell(perLayer[layer] / peak);
            cell.textContent = perLayer[layer].toFixed(1);
            row.append(cell);
          });
          body.append(row);
        }
      }
      table.append(body);
      output.replaceChildren(Unroll.el("div", {class: "table-scroll"}, table));
    });
  });

  document.querySelectorAll(".probe").forEach((button) => button.addEventListener("click", () => {
    prompt.value = button.dataset.prompt;
    prompt.scrollIntoView({behavior: "smooth", block: "start"});
    prompt.focus({preventScroll: true});
    requestSuggestions();
  }));
  prompt.addEventListener("input", requestSuggestions);
  model.addEventListener("change", requestSuggestions);
  requestSuggestions();
})();
