/* Small helpers shared by the pages: JSON requests and waiting for a job. */
"use strict";
window.Unroll = window.Unroll || {};

Unroll.postJSON = async function (url, body, signal) {
  const response = await fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), signal,
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {error: "The server sent an unreadable answer."}; }
  return {status: response.status, data};
};

/* Wait for a job by long polling: the server answers the moment it finishes, or after `wait` seconds with its
   progress (then onUpdate shows it and we ask again). */
Unroll.waitForJob = async function (url, onUpdate, {wait = onUpdate ? 1 : 10, timeout = 120000} = {}) {
  const deadline = Date.now() + timeout;
  const poll = new URL(url, window.location.href);
  while (Date.now() < deadline) {
    poll.searchParams.set("wait", String(Math.max(0.1, Math.min(wait, (deadline - Date.now()) / 1000)).toFixed(1)));
    const response = await fetch(poll, {headers: {"Accept": "application/json"}});
    const job = await response.json();
    if (onUpdate) onUpdate(job);
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    if (!response.ok) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error("The job is taking too long; its page will show the result when it is ready.");
};

Unroll.el = function (tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
};
