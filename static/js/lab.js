/* Gradient lab: presets and settings -> POST /api/lab/experiments -> follow the job -> Plotly charts. */
"use strict";
(function () {
  const root = document.getElementById("lab");
  if (!root) return;
  const S = JSON.parse(document.getElementById("lab-settings").textContent);
  const $ = (id) => document.getElementById(id);
  const form = $("lab-form");
  const FINISHED = ["succeeded", "failed", "cancelled"];
  const COLORS = {rnn_tanh: "#dc2626", rnn_relu: "#d97706", lstm: "#4f46e5", gru: "#0891b2"};
  const DASH = {main: "solid", unclipped: "dash", full: "dot"};
  let lastResult = null;

  /* ---------- settings <-> form ---------- */

  function settingsFromForm() {
    const num = (id) => (form.elements[id].value === "" ? null : Number(form.elements[id].value));
    return {
      cells: [...form.querySelectorAll("input[name=cells]:checked")].map((c) => c.value),
      distance: num("distance"), steps: num("steps"), hidden: num("hidden"), init: form.elements.init.value,
      optimizer: form.elements.optimizer.value, lr: num("lr"), seed: num("seed"),
      clip: $("clip").checked, max_norm: num("max_norm"),
      tbptt: $("truncate").checked ? num("tbptt") : null, sweep: $("sweep").checked,
    };
  }

  function fillForm(config) {
    const c = {...S.defaults, ...config};
    form.querySelectorAll("input[name=cells]").forEach((box) => { box.checked = c.cells.includes(box.value); });
    for (const name of ["distance", "steps", "hidden", "init", "optimizer", "seed"]) form.elements[name].value = c[name];
    form.elements.lr.value = config.lr == null ? "" : config.lr;
    $("distance-range").value = c.distance;
    $("clip").checked = !!c.clip;
    form.elements.max_norm.value = c.max_norm;
    $("truncate").checked = c.tbptt != null;
    if (c.tbptt != null) form.elements.tbptt.value = c.tbptt;
    $("sweep").checked = c.sweep !== false;
    syncToggles();
  }

  function syncToggles() {
    form.elements.max_norm.disabled = !$("clip").checked;
    form.elements.tbptt.disabled = !$("truncate").checked;
    form.elements.lr.placeholder = S.default_lr[form.elements.optimizer.value];
    updateEstimate();
  }

  /* Mirrors the server's budget (webapp/lab/forms.py estimated_seconds); the server has the last word. */
  function estimate(c) {
    if (!c.cells.length || !c.distance || !c.steps) return null;
    const k = S.cost, variants = 1 + (c.clip ? 1 : 0) + (c.tbptt != null ? 1 : 0);
    const size = Math.pow(Math.max(1, c.hidden / 64), 1.15);  // the page always uses batch 32
    const perStep = c.cells.reduce((sum, cell) => sum + k.cell[cell], 0) * size;
    const ds = c.sweep ? [...new Set([Math.floor(c.distance / 8), Math.floor(c.distance / 4), Math.floor(c.distance / 2)]
      .map((d) => Math.max(2, d)))].filter((d) => d !== c.distance) : [];
    const sweep = ds.reduce((sum, d) => sum + d + k.lead + 1, 0);
    return 0.5 + perStep * c.steps * (variants * (c.distance + k.lead + 1) + sweep) * 1.05 * k.seconds_per_work;
  }

  /* The cost model counts work; how many seconds that is from click to result depends on this server, so the
     page scales it by what the last experiments here really took (S.cost.speed_factor, measured by the server). */
  function wallSeconds(c) {
    const seconds = estimate(c);
    return seconds == null ? null : Math.max(1, Math.round(seconds * S.cost.speed_factor));
  }

  function estimateBasis() {
    const n = S.cost.measured_runs;
    return n ? `timed on the last ${n} experiment${n > 1 ? "s" : ""} on this server`
      : "a first guess: no experiment has run on this server yet";
  }

  function updateEstimate() {
    const c = settingsFromForm(), seconds = estimate(c), out = $("estimate");
    if (seconds == null) { out.textContent = ""; return; }
    const runs = c.cells.length * (1 + (c.clip ? 1 : 0) + (c.tbptt != null ? 1 : 0));
    out.textContent = `${runs} run${runs > 1 ? "s" : ""}, about ${wallSeconds(c)} s (${estimateBasis()})`;
    // The limit is on the work itself (the worker enforces the same number), not on this server's speed.
    out.classList.toggle("error", seconds > S.cost.max_seconds);
    if (seconds > S.cost.max_seconds) out.textContent += " — over the lab's limit: shorten it";
  }

  function labelPresets() {
    document.querySelectorAll(".preset").forEach((button) => {
      const seconds = wallSeconds({...S.defaults, ...S.presets[button.dataset.preset].config});
      button.querySelector(".preset-time").textContent = `about ${seconds} s`;
    });
  }

  function markPreset(key) {
    document.querySelectorAll(".preset").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.preset === key)));
  }

  /* ---------- running ---------- */

  function showError(message) {
    $("form-error").textContent = message || "";
    $("form-error").hidden = !message;
  }

  function showStatus(job) {
    const box = $("run-status"), p = job.progress || {};
    box.hidden = false;
    if (job.status === "queued") {
      $("run-progress").removeAttribute("value");
      $("run-text").textContent = "Waiting for a worker…";
    } else if (job.status === "running") {
      $("run-progress").value = p.fraction || 0;
      const where = p.run && p.run !== "starting" && p.run !== "done" ? `Training ${p.run}` : "Starting";
      const step = p.step ? ` · step ${p.step} of ${p.steps}` : "";
      $("run-text").textContent = `${where}${step} · ${Math.round(100 * (p.fraction || 0))}%`;
    } else if (job.status === "succeeded") {
      $("run-progress").value = 1;
      const t = job.timings || {};
      $("run-text").textContent = `Done in ${(job.result.seconds || 0).toFixed(1)} s of training` +
        (t.total_seconds != null ? ` (${t.total_seconds.toFixed(1)} s from click to result).` : ".");
    } else {
      box.hidden = true;
    }
  }

  async function follow(job) {
    showStatus(job);
    if (!FINISHED.includes(job.status)) {
      job = await Unroll.waitForJob(job.url, showStatus, {timeout: 180000});
    }
    showStatus(job);
    if (job.status === "succeeded") render(job);
    else showError(job.error || `The experiment ${job.status}.`);
    return job;
  }

  async function run(event) {
    event.preventDefault();
    showError("");
    const body = settingsFromForm();
    const pressed = document.querySelector(".preset[aria-pressed=true]");
    if (pressed) body.preset = pressed.dataset.preset;
    const button = $("run-button");
    button.disabled = true;
    button.textContent = "Running…";
    try {
      const {status, data} = await Unroll.postJSON(S.api_url, body);
      if (status !== 202) {
        showError(data.error || `Request failed (${status}).`);
        if (data.field && form.elements[data.field] && form.elements[data.field].focus) form.elements[data.field].focus();
        return;
      }
      history.pushState({job: data.id}, "", data.page_url);
      $("permalink").value = data.page_url;
      await follow(data);
    } catch (err) {
      showError(err.message || "Could not reach the server. Is it running?");
    } finally {
      button.disabled = false;
      button.textContent = "Run experiment";
    }
  }

  /* ---------- charts ---------- */

  function theme() {
    const css = getComputedStyle(document.body);
    return {text: css.color, line: css.getPropertyValue("--line").trim() || "#e3e3ee"};
  }

  function baseLayout(xTitle, yTitle, extra = {}) {
    const t = theme();
    return {
      margin: {t: 12, r: 16, b: 48, l: 64}, height: 300, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: {color: t.text, size: 12}, showlegend: true, legend: {orientation: "h", y: -0.28},
      xaxis: {title: {text: xTitle}, gridcolor: t.line, zeroline: false},
      yaxis: {title: {text: yTitle}, gridcolor: t.line, zeroline: false, exponentformat: "power"},
      ...extra,
    };
  }

  const CONFIG = {displayModeBar: false, responsive: true};

  function runStyle(run) {
    return {color: COLORS[run.cell], dash: DASH[run.variant] || "solid", width: run.variant === "main" ? 2.4 : 1.8};
  }

  /* A dotted reference line with its label; on a log axis Plotly wants annotations (not shapes) in log10 units. */
  function hline(y, text, log = false) {
    return {shape: {type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: {dash: "dot", width: 1.5, color: "#888"}},
      annotation: {xref: "paper", x: 1, y: log ? Math.log10(y) : y, text, showarrow: false, xanchor: "right", yanchor: "bottom",
        font: {size: 11, color: "#888"}}};
  }

  function logY(values) {
    const finite = values.filter((v) => v != null && v > 0);
    return finite.length ? {type: "log", exponentformat: "power"} : {};
  }

  function drawGradient(result) {
    const when = document.querySelector("input[name=when]:checked").value;
    const key = when === "init" ? "grad_by_distance_init" : "grad_by_distance";
    const traces = result.runs.map((run) => ({
      x: run[key].map((_, d) => d), y: run[key], name: run.label, mode: "lines", line: runStyle(run),
      hovertemplate: "distance %{x}: %{y:.3g}<extra>" + run.label + "</extra>",
    }));
    const T = result.task.distance, shapes = [], annotations = [];
    shapes.push({type: "line", x0: T, x1: T, yref: "paper", y0: 0, y1: 1, line: {dash: "dash", color: "#888", width: 1.5}});
    annotations.push({x: T, yref: "paper", y: 1, text: "the symbol", showarrow: false, xanchor: "left", yanchor: "top", font: {size: 11, color: "#888"}});
    const k = result.config.tbptt;
    if (k != null) {
      shapes.push({type: "rect", x0: k, x1: result.task.length - 1, yref: "paper", y0: 0, y1: 1, fillcolor: "rgba(127,127,127,.1)", line: {width: 0}});
      annotations.push({x: k, yref: "paper", y: 0.9, text: ` no gradient past k = ${k}`, showarrow: false, xanchor: "left",
        yanchor: "top", font: {size: 11, color: "#888"}});
    }
    const layout = baseLayout("distance to the loss (steps)", "‖∂L/∂hₜ‖ (log)", {shapes, annotations});
    layout.yaxis = {...layout.yaxis, ...logY(traces.flatMap((t) => t.y))};
    Plotly.react($("chart-grad"), traces, layout, CONFIG);
  }

  function drawLoss(result) {
    const traces = result.runs.map((run) => ({
      x: run.loss.map((_, i) => i + 1), y: run.loss, name: run.label, line: {...runStyle(run), width: 1.6}, ...shortRun(run),
    }));
    const log = logY(traces.flatMap((t) => t.y));
    const chance = hline(Math.log(result.task.symbols), "chance", !!log.type);
    const layout = baseLayout("training step", "loss (nats, log)", {shapes: [chance.shape], annotations: [chance.annotation]});
    layout.yaxis = {...layout.yaxis, ...log};
    addDivergence(result, layout, (run) => run.loss.filter((v) => v != null).slice(-1)[0]);
    Plotly.react($("chart-loss"), traces, layout, CONFIG);
  }

  /* A run that diverged after a step or two is only a point or two: draw markers so it is visible at all. */
  function shortRun(run) {
    return run.diverged_at != null && run.diverged_at < 20 ? {mode: "lines+markers", marker: {size: 8, symbol: "x"}} : {mode: "lines"};
  }

  function addDivergence(result, layout, yOf) {
    for (const run of result.runs) {
      if (run.diverged_at == null) continue;
      layout.annotations.push({x: run.diverged_at, y: layout.yaxis.type === "log" ? Math.log10(yOf(run) || 1) : (yOf(run) || 1),
        text: `${run.label}: NaN at step ${run.diverged_at}`, showarrow: true, arrowhead: 2, ax: 40, ay: -30,
        font: {size: 11, color: COLORS[run.cell]}, arrowcolor: COLORS[run.cell]});
    }
  }

  function drawAccuracy(result) {
    const traces = result.runs.map((run) => ({
      x: run.acc_steps, y: run.accuracy, name: run.label, mode: "lines+markers", line: runStyle(run), marker: {size: 5},
    }));
    const chance = hline(result.task.chance, "chance");
    const layout = baseLayout("training step", "held-out accuracy", {shapes: [chance.shape], annotations: [chance.annotation]});
    layout.yaxis = {...layout.yaxis, range: [0, 1.05], tickformat: ".0%"};
    Plotly.react($("chart-acc"), traces, layout, CONFIG);
  }

  function drawNorms(result) {
    const traces = result.runs.map((run) => ({
      x: run.grad_norm.map((_, i) => i + 1), y: run.grad_norm, name: run.label, line: {...runStyle(run), width: 1.4},
      ...shortRun(run),
    }));
    const shapes = [], annotations = [], log = logY(traces.flatMap((t) => t.y));
    if (result.config.clip) {
      const line = hline(result.config.max_norm, `clip at ${result.config.max_norm}`, !!log.type);
      shapes.push(line.shape); annotations.push(line.annotation);
    }
    const layout = baseLayout("training step", "‖∇θ‖ before clipping (log)", {shapes, annotations});
    layout.yaxis = {...layout.yaxis, ...log};
    addDivergence(result, layout, (run) => run.grad_norm.filter((v) => v != null).slice(-1)[0]);
    Plotly.react($("chart-norm"), traces, layout, CONFIG);
  }

  function drawSweep(result) {
    const s = result.sweep;
    const traces = Object.entries(s.accuracy).map(([cell, accs]) => ({
      x: s.distances, y: accs, name: result.labels[cell], mode: "lines+markers", line: {color: COLORS[cell], width: 2.4},
      marker: {size: 8},
    }));
    const chance = hline(result.task.chance, "chance");
    const layout = baseLayout("distance T", `accuracy after ${s.steps} steps`, {shapes: [chance.shape], annotations: [chance.annotation]});
    layout.yaxis = {...layout.yaxis, range: [0, 1.05], tickformat: ".0%"};
    layout.xaxis = {...layout.xaxis, type: "log", tickvals: s.distances, ticktext: s.distances.map(String)};
    Plotly.react($("chart-sweep"), traces, layout, CONFIG);
  }

  /* ---------- summary ---------- */

  function formatRatio(r) {
    if (r == null) return "—";
    if (r === 0) return "none (truncated)";
    if (r >= 0.01 && r < 100) return `${r.toFixed(r < 1 ? 2 : 1)}×`;
    const exp = Math.floor(Math.log10(r)), mant = r / Math.pow(10, exp);
    return `${mant.toFixed(1)} × 10${String(exp).replace(/-/g, "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d])}`;
  }

  function summary(result) {
    const body = $("summary").querySelector("tbody");
    body.replaceChildren();
    $("far-label").textContent = Math.min(50, result.task.distance);
    for (const run of result.runs) {
      const acc = run.final_accuracy == null ? "—" : `${Math.round(run.final_accuracy * 100)}%`;
      let note = "";
      if (run.diverged_at != null) note = `diverged (NaN) at step ${run.diverged_at}`;
      else if (run.final_accuracy != null && run.final_accuracy < result.task.chance + 0.15) note = "no better than chance";
      else if (run.final_accuracy != null && run.final_accuracy > 0.9) note = "learnt the task";
      else if (run.final_accuracy != null) note = "partly learnt";
      if (run.steps_run < result.config.steps && run.diverged_at == null) note = `stopped at step ${run.steps_run} (time limit)`;
      const name = Unroll.el("th", {scope: "row"}, Unroll.el("span", {class: "swatch", style: `background:${COLORS[run.cell]}`, "aria-hidden": "true"}), run.label);
      // data-label names each cell where a phone shows the row as a stacked card (static/css/lab.css).
      body.append(Unroll.el("tr", {}, name, Unroll.el("td", {text: acc, "data-label": "Final accuracy"}),
        Unroll.el("td", {text: formatRatio(run.grad_ratio.init), "data-label": "Gradient left, at start"}),
        Unroll.el("td", {text: formatRatio(run.grad_ratio.trained), "data-label": "after training"}),
        Unroll.el("td", {class: "muted", text: note, "data-label": "Note"})));
    }
  }

  function render(job) {
    const result = job.result;
    lastResult = result;
    $("results").hidden = false;
    const c = result.config;
    $("results-meta").textContent = `T = ${c.distance} · ${c.steps} steps · hidden ${c.hidden} · ${c.init} init · ` +
      `${c.optimizer} lr ${c.lr} · seed ${c.seed} · ${result.seconds.toFixed(1)} s`;
    const notice = $("results-notice");
    notice.hidden = !result.time_limited;
    notice.textContent = result.time_limited ? "The server was slower than usual, so training stopped early at the time limit; numbers are from where it got to." : "";
    if (job.page_url) $("permalink").value = job.page_url;
    summary(result);
    if (!window.Plotly) return;
    // Naive init or a diverged run: the interesting gradient picture is the one at the start.
    const start = c.init === "naive" || result.runs.some((run) => run.diverged_at != null);
    document.querySelector(`input[name=when][value=${start ? "init" : "trained"}]`).checked = true;
    drawGradient(result);
    drawLoss(result);
    drawAccuracy(result);
    drawNorms(result);
    drawSweep(result);
    root.dataset.rendered = "true";
  }

  /* ---------- wiring ---------- */

  document.querySelectorAll(".preset").forEach((button) => button.addEventListener("click", () => {
    fillForm(S.presets[button.dataset.preset].config);
    markPreset(button.dataset.preset);
    $("run-button").focus();
  }));
  form.addEventListener("input", (event) => {
    if (event.target.id === "distance-range") form.elements.distance.value = event.target.value;
    if (event.target.id === "distance") $("distance-range").value = event.target.value;
    markPreset(null);
    syncToggles();
  });
  form.addEventListener("change", syncToggles);
  form.addEventListener("submit", run);
  document.querySelectorAll("input[name=when]").forEach((r) => r.addEventListener("change", () => lastResult && drawGradient(lastResult)));
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("permalink").value); $("copy-link").textContent = "Copied"; }
    catch (e) { $("permalink").select(); }
  });
  window.addEventListener("popstate", () => window.location.reload());

  labelPresets();
  // A permalink: show its settings and its result (or follow it while it runs).
  if (S.job) {
    fillForm(S.job.input && S.job.input.config ? S.job.input.config : {});
    if (S.job.input && S.job.input.preset) markPreset(S.job.input.preset);
    $("permalink").value = S.job.page_url;
    follow(S.job).catch((err) => showError(err.message));
  } else {
    fillForm(S.presets.vanishing.config);
    markPreset("vanishing");
  }
})();
