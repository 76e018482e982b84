/* Caption pages: upload (drag and drop, preview, limits checked before sending) and the result's heatmaps. */
"use strict";
(function () {
  const form = document.getElementById("caption-form");
  if (form) setUpUpload(form);
  const result = document.getElementById("caption-result");
  if (result) setUpResult(result);

  function setUpUpload(form) {
    const input = document.getElementById("id_image"), zone = document.getElementById("dropzone");
    const preview = document.getElementById("preview"), errorBox = document.getElementById("upload-error");
    const button = document.getElementById("caption-button"), zoneText = document.getElementById("dropzone-text");
    const emptyZoneText = zoneText.innerHTML;
    const maxBytes = Number(input.dataset.maxBytes), maxMb = input.dataset.maxMb;
    // The one file "Caption it" sends, and always the one the preview shows; null while none is accepted.
    let chosen = null;

    function showError(message) { errorBox.textContent = message || ""; errorBox.hidden = !message; }

    function refusal(file) {
      if (file.size === 0) return "The file is empty (0 bytes).";
      // Word for word the server's refusal (too_large_message in webapp/core/middleware.py).
      if (file.size > maxBytes) return `The file is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${maxMb} MB.`;
      if (file.type && !file.type.startsWith("image/")) return "That is not an image: choose a photo.";
      return "";
    }

    function forget() {
      chosen = null;
      input.value = "";  // the input never keeps a file the preview does not show, a refused one least of all
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.removeAttribute("src");
      preview.alt = "";
      preview.hidden = true;
      zoneText.innerHTML = emptyZoneText;
    }

    function choose(file) {
      showError("");
      if (!file) return false;
      const reason = refusal(file);
      forget();
      if (reason) {
        showError(reason);
        return false;
      }
      chosen = file;
      preview.src = URL.createObjectURL(file);
      preview.alt = `Preview of ${file.name}`;
      preview.hidden = false;
      zoneText.textContent = file.name;
      return true;
    }

    async function send() {
      if (!chosen) {
        if (errorBox.hidden) showError("Choose an image to caption.");  // else the refusal stays in view
        return;
      }
      button.disabled = true;
      button.textContent = "Uploading…";
      const body = new FormData();
      body.append("image", chosen, chosen.name || "photo.jpg");
      body.append("beam", document.getElementById("id_beam").value);
      try {
        const response = await fetch(form.dataset.apiUrl, {method: "POST", body});
        const data = await response.json();
        if (response.status >= 400) throw new Error(data.error || `Upload failed (${response.status}).`);
        window.location.assign(data.page_url);
      } catch (err) {
        showError(err.message);
        button.disabled = false;
        button.textContent = "Caption it";
      }
    }

    input.addEventListener("change", () => {
      const file = input.files[0];
      if (file) choose(file);  // a cancelled dialog keeps the photo already chosen
    });
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("dragging"); }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("dragging")));
    zone.addEventListener("drop", (e) => { e.preventDefault(); choose(e.dataTransfer.files[0]); });
    form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
    document.querySelectorAll(".sample").forEach((sample) => sample.addEventListener("click", async () => {
      const blob = await (await fetch(sample.dataset.url)).blob();
      if (choose(new File([blob], `${sample.dataset.name}.jpg`, {type: "image/jpeg"}))) send();
    }));
  }

  /* "Translate into German/French": a translation job after the caption job; the worker stores it with the
     caption, so the permalink shows it from then on. */
  function setUpTranslations() {
    const list = document.getElementById("caption-languages");
    if (!list) return;
    list.querySelectorAll(".translate-caption").forEach((button) => button.addEventListener("click", async () => {
      const cell = button.parentElement;
      button.disabled = true;
      button.textContent = "Translating…";
      const fail = (message) => {
        button.disabled = false;
        button.textContent = button.dataset.label;
        cell.append(Unroll.el("p", {class: "error", role: "alert", text: message}));
      };
      button.dataset.label = button.dataset.label || `Translate into ${button.closest("dd").previousElementSibling.textContent}`;
      cell.querySelectorAll(".error").forEach((e) => e.remove());
      try {
        let {status, data} = await Unroll.postJSON(list.dataset.url, {target: button.dataset.target});
        if (status === 202) data = await Unroll.waitForJob(data.url);
        else if (status !== 200) { fail(data.error || `Request failed (${status}).`); return; }
        if (data.status !== "succeeded") { fail(data.error || "The translation failed."); return; }
        const model = data.result.model;
        cell.replaceChildren(Unroll.el("span", {class: "caption-translation", lang: button.dataset.target,
          text: data.result.translation}), " ", Unroll.el("span", {class: "muted small", text: `${model.label} v${model.version}`}));
      } catch (err) {
        fail("Could not reach the server. Is it running?");
      }
    }));
  }

  function setUpResult(result) {
    const status = result.dataset.status;
    if (status === "queued" || status === "running") {
      const line = document.getElementById("status-line");
      Unroll.waitForJob(result.dataset.jobUrl, (job) => {
        if (line) line.textContent = job.status === "queued" ? "Waiting for a worker…" : "Looking at your photo…";
      }, {interval: 250}).then(() => window.location.reload()).catch((err) => { if (line) line.textContent = err.message; });
    }

    const copy = document.getElementById("copy-permalink");
    copy.addEventListener("click", async () => {
      const field = document.getElementById("permalink");
      try { await navigator.clipboard.writeText(field.value); } catch (e) { field.select(); document.execCommand("copy"); }
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });

    setUpTranslations();
    const data = JSON.parse(document.getElementById("caption-data").textContent || "null");
    if (!data || !data.attention) return;
    const photo = document.getElementById("photo"), canvas = document.getElementById("heatmap");
    const label = document.getElementById("heatmap-label");
    const chips = document.querySelectorAll(".word-chip");
    const hint = "Tap or click a word to see where the model looked.";
    // A click, tap or Enter selects a word, and its map stays until another word is selected. Hover and focus
    // only preview a word; leaving it brings back the selected one. A tap fires focus and then click, which now
    // agree, so one tap is enough.
    let selected = null, shown = null;

    function grid(weights) {
      const rows = Array.isArray(weights[0]) ? weights : Array.from({length: 7}, (_, r) => weights.slice(r * 7, r * 7 + 7));
      return rows;
    }

    function draw(index) {
      shown = index;
      chips.forEach((chip) => chip.classList.toggle("active", Number(chip.dataset.index) === index));
      const width = photo.clientWidth, height = photo.clientHeight;
      canvas.width = width; canvas.height = height;
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, width, height);
      if (index === null) { label.textContent = hint; return; }
      const rows = grid(data.attention[index]);
      const n = rows.length, m = rows[0].length;
      const peak = Math.max(...rows.flat(), 1e-9);
      // Dim what the model ignored: a small n×m shade map, scaled up smoothly over the photo.
      const small = document.createElement("canvas");
      small.width = m; small.height = n;
      const pixels = small.getContext("2d").createImageData(m, n);
      rows.forEach((row, r) => row.forEach((w, c) => {
        const i = 4 * (r * m + c);
        pixels.data[i] = 10; pixels.data[i + 1] = 10; pixels.data[i + 2] = 30;
        pixels.data[i + 3] = Math.round(200 * (1 - w / peak));
      }));
      small.getContext("2d").putImageData(pixels, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(small, 0, 0, width, height);
      label.textContent = `Where the model looked while writing “${data.words[index]}”.`;
    }

    function select(index) {
      selected = index;
      chips.forEach((chip) => chip.setAttribute("aria-pressed", String(Number(chip.dataset.index) === index)));
      draw(index);
    }

    chips.forEach((chip) => {
      const index = Number(chip.dataset.index);
      chip.addEventListener("mouseenter", () => draw(index));
      chip.addEventListener("focus", () => draw(index));
      chip.addEventListener("mouseleave", () => draw(selected));
      chip.addEventListener("blur", () => draw(selected));
      chip.addEventListener("click", () => select(index));
    });
    // The map is drawn at the photo's size, which changes when the photo loads (a word hovered before that
    // was drawn at 0×0) and whenever the layout does: redraw on every change.
    new ResizeObserver(() => draw(shown)).observe(photo);
  }
})();
