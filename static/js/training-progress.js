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

  function charts(history) {
    if (!window.Plotly) return;
    const steps = history.filter((e) => e.event === "step"), epochs = history.filter((e) => e.event === "epoch");
    const layout = (title, y2) => ({title: {text: title, font: {size: 14}}, margin: {t: 36, r: 50, b: 40, l: 50},
      xaxis: {title: "step"}, yaxis: {title: y2[0]}, yaxis2: {title: y2[1], overlaying: "y", side: "right"},
      legend: {orientation: "h", y: -0.25}, height: 300});
    // Language models report validation perplexity; captioners report BLEU-4 and CIDEr.
    const captioner = epochs.some((e) => e.val);
    const validation = captioner
      ? {y: epochs.map((e) => e.val.cider), name: "validation CIDEr"}
      : {y: epochs.map((e) => e.valid_ppl), name: "validation perplexity"};
    Plotly.react($("chart-loss"), [
      {x: steps.map((e) => e.step), y: steps.map((e) => e.loss), name: "training loss", mode: "lines"},
      {x: epochs.map((e) => e.step), ...validation, mode: "lines+markers", yaxis: "y2"},
    ], layout(captioner ? "Loss and CIDEr" : "Loss and perplexity", ["loss (nats)", captioner ? "CIDEr" : "perplexity"]),
    {displayModeBar: false, responsive: true});
    Plotly.react($("chart-grad"), [
      {x: steps.map((e) => e.step), y: steps.map((e) => e.grad_norm), name: "gradient norm", mode: "lines"},
      {x: steps.map((e) => e.step), y: steps.map((e) => e.tokens_per_s), name: "tokens / s", mode: "lines",
       yaxis: "y2"},
    ], layout("Gradient norm and speed", ["‖∇‖", "tokens/s"]), {displayModeBar: false, responsive: true});
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
    if (p.step) {
      $("run-detail").textContent = `epoch ${p.epoch} · step ${p.step} of ${p.total_steps} · loss ${(p.loss || 0).toFixed(3)}` +
        (p.valid_ppl ? ` · validation perplexity ${p.valid_ppl.toFixed(1)}` : "") +
        (p.val_cider ? ` · validation CIDEr ${p.val_cider.toFixed(3)}, BLEU-4 ${p.val_bleu4.toFixed(3)}` : "") +
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
