/* Admin: live progress of a training run — bar, ETA, loss/perplexity and gradient-norm charts. */
"use strict";
(function () {
  const root = document.getElementById("run-progress");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const FINISHED = ["succeeded", "failed", "cancelled"];

  function duration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "";
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    return m ? `${m} min ${s} s` : `${s} s`;
  }

  const FEW_POINTS = 20;      // below this many points a line alone is too sparse to see: draw markers too
  const LABELLED_POINTS = 6;  // up to this many validation points each carries its value as a label

  const hasValues = (values) => values.some((v) => typeof v === "number" && isFinite(v));
  const format = (v) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));

  function series(x, y, name, extra) {
    // One logged point drawn as a line is invisible; markers keep a short run's chart from looking empty.
    return {x, y, name, mode: x.length < FEW_POINTS ? "lines+markers" : "lines", marker: {size: 6}, ...extra};
  }

  function validationSeries(x, y, name) {
    // Measured once per epoch, so a short run has one or two values: big markers, each labelled with its value.
    const labelled = x.length <= LABELLED_POINTS;
    return {x, y, name, yaxis: "y2", mode: labelled ? "lines+markers+text" : "lines+markers",
      marker: {size: 10, symbol: "diamond"}, text: labelled ? y.map(format) : undefined,
      textposition: "top center", cliponaxis: false};
  }

  // plotly.js ignores a plain string as an axis title (it wants {text}), which left every axis unnamed.
  const layout = (title, xTitle, yTitle, y2Title) => ({
    title: {text: title, font: {size: 14}}, margin: {t: 36, r: 60, b: 48, l: 60},
    xaxis: {title: {text: xTitle}}, yaxis: {title: {text: yTitle}},
    ...(y2Title ? {yaxis2: {title: {text: y2Title}, overlaying: "y", side: "right"}} : {}),
    legend: {orientation: "h", y: -0.3}, height: 320});
  const CONFIG = {displayModeBar: false, responsive: true};

  function charts(history) {
    if (!window.Plotly) return;
    const steps = history.filter((e) => e.event === "step"), epochs = history.filter((e) => e.event === "epoch");
    if (!steps.length && !epochs.length) return;  // nothing logged yet: the empty boxes say so by their size
    const stepX = steps.map((e) => e.step);
    if (epochs.some((e) => e.val && e.val.mae !== undefined)) { forecasterCharts(epochs); return; }
    // Language models report validation perplexity; captioners BLEU-4 and CIDEr; translators BLEU and chrF.
    const translator = epochs.some((e) => e.val && e.val.bleu !== undefined);
    const captioner = !translator && epochs.some((e) => e.val);
    const [metric, name, title] = translator ? [(e) => e.val.bleu, "validation BLEU", "Loss and BLEU"]
      : captioner ? [(e) => e.val.cider, "validation CIDEr", "Loss and CIDEr"]
      : [(e) => e.valid_ppl, "validation perplexity", "Loss and perplexity"];
    const validation = validationSeries(epochs.map((e) => e.step), epochs.map(metric), name);
    Plotly.react($("chart-loss"), [series(stepX, steps.map((e) => e.loss), "training loss"), validation],
      layout(title, "training step", "training loss (nats)", name), CONFIG);

    // Captioners log no gradient norm or tokens/s; their learning rate is what changes over the steps.
    const gradNorm = steps.map((e) => e.grad_norm), speed = steps.map((e) => e.tokens_per_s);
    if (hasValues(gradNorm) || hasValues(speed)) {
      Plotly.react($("chart-grad"), [
        series(stepX, gradNorm, "gradient norm (before clipping)"),
        series(stepX, speed, "tokens / s", {yaxis: "y2"}),
      ], layout("Gradient norm and speed", "training step", "gradient norm ‖∇‖", "tokens / s"), CONFIG);
    } else {
      Plotly.react($("chart-grad"), [series(stepX, steps.map((e) => e.lr), "learning rate")],
        layout("Learning rate", "training step", "learning rate"), CONFIG);
    }
  }

  // A forecaster validates after every (seconds-long) epoch: loss and validation error by epoch, and how often
  // its validation interval held.
  function forecasterCharts(epochs) {
    const x = epochs.map((e) => e.epoch);
    Plotly.react($("chart-loss"), [series(x, epochs.map((e) => e.loss), "training loss (pinball)"),
      validationSeries(x, epochs.map((e) => e.val.mae), "validation MAE")],
      layout("Loss and validation error", "epoch", "training loss", "validation MAE"), CONFIG);
    Plotly.react($("chart-grad"), [series(x, epochs.map((e) => e.val.coverage), "validation interval coverage")],
      layout("How often the 90 % interval held (validation)", "epoch", "share inside the interval"), CONFIG);
  }

  async function refresh() {
    let data;
    try { data = await (await fetch(root.dataset.progressUrl, {headers: {Accept: "application/json"}})).json(); }
    catch (e) { setTimeout(refresh, 2000); return; }
    const p = data.progress || {};
    const fraction = data.status === "succeeded" ? 1 : (p.fraction || 0);
    $("run-status").textContent = data.cancel_requested && !FINISHED.includes(data.status) ? "cancelling" : data.status;
    $("run-status").className = `run-status run-${data.status}`;
    $("run-bar").value = fraction;
    $("run-percent").textContent = `${Math.round(fraction * 100)}%`;
    $("run-eta").textContent = data.status === "running" && fraction > 0.01 && p.elapsed_s
      ? `about ${duration(p.elapsed_s / fraction * (1 - fraction))} left` : "";
    if (p.val_mae !== undefined && !p.total_steps) {
      $("run-detail").textContent = `epoch ${p.epoch} · validation MAE ${Number(p.val_mae.toPrecision(4))}`;
    }
    if (p.step && p.total_steps) {
      $("run-detail").textContent = `epoch ${p.epoch} · step ${p.step} of ${p.total_steps} · loss ${(p.loss || 0).toFixed(3)}` +
        (p.valid_ppl ? ` · validation perplexity ${p.valid_ppl.toFixed(1)}` : "") +
        (p.val_cider ? ` · validation CIDEr ${p.val_cider.toFixed(3)}, BLEU-4 ${p.val_bleu4.toFixed(3)}` : "") +
        (p.val_bleu !== undefined ? ` · validation BLEU ${p.val_bleu.toFixed(2)}, chrF ${p.val_chrf.toFixed(2)}` : "") +
        (p.tokens_per_s ? ` · ${Math.round(p.tokens_per_s)} tokens/s` : "");
    }
    $("run-error").style.display = data.error ? "" : "none";
    $("run-error").textContent = data.error || "";
    if (data.version) {
      $("run-version").style.display = "";
      $("run-version").innerHTML = "";
      const link = document.createElement("a");
      link.href = data.version.url;
      link.id = "version-link";
      link.textContent = `${data.version.label} v${data.version.version}${data.version.is_active ? " (active)" : " — open it to activate"}`;
      $("run-version").append("New model version: ", link);
    }
    charts(data.history);
    if (data.log !== undefined) $("run-log").textContent = data.log;
    const cancel = $("cancel-form");
    if (cancel && FINISHED.includes(data.status)) cancel.style.display = "none";
    if (!FINISHED.includes(data.status)) setTimeout(refresh, 1000);
  }
  refresh();
})();
