/* Forecast page and permalink: ask for a forecast, follow a training job's progress, draw the answer. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const COLORS = {rnn: "#1f5fbf", naive: "#b35900", seasonal_naive: "#2e8b57", drift: "#7a4fb5", ets: "#c0392b",
                  arima: "#6b6b6b"};
  const names = () => JSON.parse(($("forecast-method-names") || {}).textContent || "{}");

  function fmt(value, digits = 3) {
    if (value === null || value === undefined) return "—";
    if (Math.abs(value) >= 1000) return value.toLocaleString("en", {maximumFractionDigits: 1});
    return Number(value.toPrecision(digits)).toString();
  }

  function drawChart(result) {
    const chart = $("forecast-chart");
    if (!window.Plotly || !chart) return;
    const hist = result.history, future = result.future_index, label = names();
    const lastX = hist.index[hist.index.length - 1], lastY = hist.values[hist.values.length - 1];
    const joined = (values) => [lastY, ...values];
    const x = [lastX, ...future];
    const traces = [{x: hist.index, y: hist.values, name: "History", mode: "lines",
                     line: {color: "#222", width: 1.5}}];
    const rnn = result.forecasts.rnn;
    if (rnn && rnn.lower) {
      traces.push({x, y: joined(rnn.lower), mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip",
                   name: "lower"});
      traces.push({x, y: joined(rnn.upper), mode: "lines", line: {width: 0}, fill: "tonexty",
                   fillcolor: "rgba(31,95,191,0.18)", name: `${result.cell.toUpperCase()} 90 % interval`});
    }
    for (const [method, forecast] of Object.entries(result.forecasts)) {
      const isRnn = method === "rnn";
      traces.push({x, y: joined(forecast.median), mode: future.length < 3 ? "lines+markers" : "lines",
                   name: isRnn ? `${result.cell.toUpperCase()} (this network)` : (label[method] || method),
                   line: {color: COLORS[method] || "#444", width: isRnn ? 2.5 : 1.5, dash: isRnn ? "solid" : "dot"},
                   visible: isRnn || method === "naive" || method === "seasonal_naive" ? true : "legendonly"});
    }
    const shown = Math.min(hist.index.length, Math.max(8 * future.length, 3 * (result.series.season || 0), 120));
    const unit = result.series.unit ? ` (${result.series.unit})` : "";
    Plotly.newPlot(chart, traces, {
      margin: {l: 60, r: 10, t: 10, b: 40}, height: 380,
      xaxis: {title: {text: result.series.frequency ? `Time (${result.series.frequency})` : "Step"},
              range: [hist.index[hist.index.length - shown], future[future.length - 1]]},
      yaxis: {title: {text: `${result.series.title}${unit}`}},
      legend: {orientation: "h", y: -0.2},
    }, {displayModeBar: false, responsive: true});
  }

  function drawTable(result) {
    const table = $("backtest-table"), backtest = result.backtest || {}, label = names();
    // Without a season "seasonal naive" is the naive forecast again: one row says it.
    const methods = ["rnn", "naive", "seasonal_naive", "drift", "ets", "arima"].filter(
      (m) => backtest[m] && backtest[m].mae !== undefined && (m !== "seasonal_naive" || result.series.season));
    const body = table.querySelector("tbody");
    body.replaceChildren();
    if (!methods.length) { table.hidden = true; $("backtest-help").hidden = true; return; }
    const best = {};
    for (const key of ["mae", "rmse", "mape", "mase"]) {
      best[key] = Math.min(...methods.map((m) => backtest[m][key] ?? Infinity));
    }
    for (const method of methods) {
      const s = backtest[method], d = s.direction || {};
      const cells = [["mae", fmt(s.mae)], ["rmse", fmt(s.rmse)], ["mape", s.mape == null ? "—" : `${fmt(s.mape)} %`],
                     ["mase", fmt(s.mase)],
                     ["coverage", s.coverage == null ? "—" : `${Math.round(s.coverage * 100)} %`],
                     ["direction", d.accuracy == null ? (method === "naive" ? "no call" : "—")
                       : `${(d.accuracy * 100).toFixed(1)} % (up: ${(d.always_up * 100).toFixed(1)} %, ` +
                         `${d.p_value < 0.001 ? "p < 0.001" : `p = ${fmt(d.p_value, 2)}`})`]];
      const row = Unroll.el("tr", {"data-method": method},
        Unroll.el("th", {scope: "row", text: method === "rnn" ? `${result.cell.toUpperCase()} (this network)` : (label[method] || method)}));
      for (const [key, text] of cells) {
        const cell = Unroll.el("td", {text});
        if (best[key] !== undefined && s[key] === best[key]) cell.classList.add("best");
        row.append(cell);
      }
      body.append(row);
    }
    $("backtest-caption").textContent = `Backtest on the last 20 % (${backtest.n_test} points): forecasts of ` +
      `${backtest.horizon} step${backtest.horizon > 1 ? "s" : ""} from ${backtest.n_origins} origins, the same for every method`;
    table.hidden = false;
    $("backtest-help").hidden = false;
  }

  function drawAnswer(result, pageUrl) {
    $("answer").hidden = false;
    $("progress").hidden = true;
    $("answer-error").hidden = true;
    $("answer-title").textContent = result.series.title;
    const how = {job: `trained for this request (${Math.round((result.model || {}).trained_seconds || 0)} s)`,
                 shipped: "shipped model", trained: "trained in the admin"};
    $("answer-model").textContent = result.model
      ? `${result.model.label} · ${how[result.model.trained] || result.model.trained}` : "";
    const verdict = $("verdict");
    verdict.replaceChildren(...(result.verdict || []).map((s) => Unroll.el("li", {text: s})));
    const notes = [...(result.series.notes || []), ...(result.notes || [])];
    if (result.series.source) notes.push(`Data: ${result.series.source}.`);
    $("answer-notes").textContent = notes.join(" · ");
    drawTable(result);
    drawChart(result);
    if (pageUrl) {
      const link = $("permalink");
      link.href = pageUrl;
      link.textContent = new URL(pageUrl, location.href).href;
      $("permalink-line").hidden = false;
    }
  }

  function showProgress(job) {
    $("answer").hidden = false;
    $("progress").hidden = false;
    const p = job.progress || {};
    let text = job.status === "queued" ? "Waiting for a worker…" : "Starting…";
    if (p.stage === "training") {
      text = `Training the network: epoch ${p.epoch || 0}, ${Math.round(p.elapsed_s || 0)} of ` +
        `${Math.round(p.budget_s || 0)} s` + (p.val_mae != null ? ` (validation error ${fmt(p.val_mae)})` : "");
    } else if (p.stage === "backtest") {
      text = "Backtesting the network and the baselines on the last 20 %…";
    }
    $("progress-text").textContent = text;
    $("progress-bar").value = p.fraction || 0;
  }

  function showError(message) {
    $("answer").hidden = false;
    $("progress").hidden = true;
    const box = $("answer-error");
    box.textContent = message;
    box.hidden = false;
  }

  async function follow(job, pageUrl) {
    showProgress(job);
    try {
      const done = await Unroll.waitForJob(job.url, showProgress, {timeout: 300000});
      if (done.status === "succeeded") drawAnswer(done.result, pageUrl);
      else showError(done.error || `The job ended: ${done.status}.`);
      const status = $("job-status");
      if (status) status.textContent = done.status.charAt(0).toUpperCase() + done.status.slice(1);
    } catch (error) {
      showError(error.message);
    }
  }

  function fieldError(box, message) {
    box.textContent = message;
    box.hidden = !message;
  }

  async function answer(response, errorBox) {
    const {status, data} = response;
    const reveal = () => $("answer").scrollIntoView({behavior: "smooth", block: "start"});
    if (status === 200) { fieldError(errorBox, ""); drawAnswer(data, data.page_url); reveal(); return; }
    if (status === 202) { fieldError(errorBox, ""); showProgress(data); reveal(); await follow(data, data.page_url); return; }
    if (status === 422) { fieldError(errorBox, ""); showError(data.error); reveal(); return; }
    fieldError(errorBox, data.error || `The server answered ${status}.`);
  }

  function initPage() {
    const root = $("forecast");
    if (!root) return;
    const series = $("series"), horizon = $("horizon"), cell = $("cell"), help = $("series-help");
    const describe = () => {
      const option = series.selectedOptions[0];
      const shipped = option.dataset.shipped.trim().split(" ").filter(Boolean).map((s) => s.split(":"));
      const fits = shipped.find(([c, h]) => c === cell.value && Number(horizon.value) <= Number(h));
      help.textContent = fits ? `A shipped ${fits[0].toUpperCase()} answers at once (up to ${fits[1]} steps ahead).`
        : "No shipped model fits this choice: a network is trained for it now, which takes about a minute." +
          (shipped.length ? ` Shipped: ${shipped.map(([c, h]) => `${c.toUpperCase()} up to ${h} steps`).join(", ")}.` : "");
    };
    series.addEventListener("change", () => { horizon.value = series.selectedOptions[0].dataset.horizon; describe(); });
    horizon.addEventListener("input", describe);
    cell.addEventListener("change", describe);
    describe();
    $("series-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("series-submit");
      button.disabled = true;
      try {
        const response = await Unroll.postJSON(root.dataset.apiUrl, {
          series: series.value, horizon: Number(horizon.value), cell: cell.value});
        await answer(response, $("series-error"));
      } finally { button.disabled = false; }
    });
    $("upload-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target, button = $("upload-submit"), errorBox = $("upload-error");
      if (!$("upload-file").files.length) { fieldError(errorBox, "File: choose a CSV file to upload."); return; }
      button.disabled = true;
      try {
        const response = await fetch(root.dataset.uploadUrl, {
          method: "POST", body: new FormData(form),
          headers: {"X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value}});
        let data = {};
        try { data = await response.json(); } catch (e) { data = {error: "The server sent an unreadable answer."}; }
        await answer({status: response.status, data}, errorBox);
      } finally { button.disabled = false; }
    });
  }

  function initResult() {
    const root = $("forecast-result");
    if (!root) return;
    const result = JSON.parse($("forecast-result-data").textContent || "{}");
    if (root.dataset.status === "succeeded") drawAnswer(result, location.href);
    else if (root.dataset.status === "failed" || root.dataset.status === "cancelled") {
      showError(root.dataset.error || "The job did not finish.");
    } else follow({url: root.dataset.jobUrl, status: root.dataset.status}, location.href);
  }

  window.addEventListener("DOMContentLoaded", () => { initPage(); initResult(); });
})();
