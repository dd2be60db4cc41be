// Version page: while validation is pending or running, poll the version's JSON every 2 s and
// update the badge, the stage line and the sentence under it; reload once it is finished so the
// signature, metrics and history render in full.
(function () {
  "use strict";
  var root = document.getElementById("version-live");
  if (!root || root.dataset.poll !== "true") return;
  var IN_PROGRESS = ["pending", "validating"];
  var badgeWrap = document.getElementById("status-badge");
  var stageLine = document.getElementById("stage-line");
  // The server draws the stages in order (releases.models.VALIDATION_STAGES).
  var STAGES = Array.prototype.map.call(stageLine.querySelectorAll("li"), function (li) {
    return li.dataset.stage;
  });
  var stageText = document.getElementById("stage-text");
  var failures = 0;

  function statusLabel(status) { return status.replace(/_/g, " "); }

  function render(data) {
    var badge = badgeWrap.querySelector(".badge");
    badge.className = "badge status-" + data.status;
    badge.textContent = statusLabel(data.status);
    document.title = root.dataset.titlePrefix + ": " + statusLabel(data.status) + " · ModelGate";
    var stage = (data.validation_report && data.validation_report.stage) || "";
    var reached = STAGES.indexOf(stage);
    stageLine.querySelectorAll("li").forEach(function (li, i) {
      var state = "todo";
      if (i < reached || (i === reached && STAGES[i] === "done")) state = "done";
      else if (i === reached) state = "active";
      li.className = "stage-" + state;
    });
    if (data.status === "validating") {
      stageText.textContent = "Validating: " + (stage || "starting") +
        "… This page updates by itself.";
    }
  }

  function poll() {
    fetch(root.dataset.apiUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        render(data);
        if (IN_PROGRESS.indexOf(data.status) === -1) {
          stageText.textContent = "Finished: " + statusLabel(data.status) + ". Loading the results…";
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        failures += 1;
        stageText.textContent = "Could not refresh the status; retrying…";
        // Back off while the server is unreachable, up to 30 s between tries.
        window.setTimeout(poll, Math.min(30000, 2000 * Math.pow(2, failures)));
      });
  }

  window.setTimeout(poll, 2000);
})();
