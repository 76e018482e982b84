/* Admin start form: ask the server for a fresh duration estimate whenever a value changes. The server does the
   arithmetic (webapp/training/services.estimate_duration) so the page and the estimate never disagree. */
"use strict";
(function () {
  const form = document.getElementById("start-run-form");
  const output = document.getElementById("run-estimate");
  if (!form || !output) return;
  // form.dataset would be the form's own "dataset" field, not its data- attributes.
  const estimateUrl = form.getAttribute("data-estimate-url");
  let timer = null, latest = 0;

  async function refresh(triesLeft = 3) {
    const asked = ++latest;
    const values = new URLSearchParams(new FormData(form));
    values.delete("csrfmiddlewaretoken");
    try {
      const response = await fetch(`${estimateUrl}&${values}`, {headers: {Accept: "application/json"}});
      if (!response.ok) throw new Error(`estimate answered ${response.status}`);
      const data = await response.json();
      if (asked === latest) output.textContent = data.text;   // a slower, older answer must not win
    } catch (e) {
      // A busy server may drop one request: ask again shortly, unless a newer change has asked already.
      if (asked === latest && triesLeft > 1) setTimeout(() => { if (asked === latest) refresh(triesLeft - 1); }, 1000);
    }
  }

  const soon = () => { clearTimeout(timer); timer = setTimeout(() => refresh(), 200); };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // Values can change before this script runs (a fast hand, the browser restoring a form on Back): ask once now.
  soon();
})();
