// Model page, batch scoring panel: while a job is queued or running, fetch the panel every two
// seconds and swap in its jobs table only (progress bars, status, download links), so a file
// being chosen in the upload form is never reset. Pauses while the tab is hidden; backs off
// when the server is unreachable.
(function () {
  "use strict";
  var timer = null;
  var failures = 0;
  var INTERVAL = 2000;

  function live() { return document.getElementById("batch-jobs-live"); }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, delay);
  }

  function poll() {
    var root = live();
    if (!root || root.dataset.poll !== "true" || document.hidden) return;
    fetch(root.dataset.panelUrl, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" }
    })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        failures = 0;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#batch-jobs-live");
        if (fresh) live().replaceWith(fresh);
        var current = live();
        if (current && current.dataset.poll === "true") schedule(INTERVAL);
      })
      .catch(function () {
        failures += 1;
        schedule(Math.min(30000, INTERVAL * Math.pow(2, failures)));
      });
  }

  schedule(INTERVAL);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
  });
})();
