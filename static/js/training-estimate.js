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

  async function refresh() {
    const asked = ++latest;
    const values = new URLSearchParams(new FormData(form));
    values.delete("csrfmiddlewaretoken");
    try {
      const response = await fetch(`${estimateUrl}&${values}`, {headers: {Accept: "application/json"}});
      const data = await response.json();
      if (asked === latest) output.textContent = data.text;   // a slower, older answer must not win
    } catch (e) { /* keep the last estimate; the next change asks again */ }
  }

  const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 200); };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
