// Version page.
// 1. While the version is pending or validating, ask the server for the page's live part every
//    few seconds (data-interval); the server answers 204 while nothing changed, else the new
//    HTML, which replaces the old in place (status, stages, metrics, failure, trust state).
//    Stops once it is finished; pauses while the tab is hidden.
// 2. The trust form asks for a confirmation naming every ticked type before it is sent.
(function () {
  "use strict";
  var failures = 0;
  var timer = null;
  var inFlight = false;

  function live() { return document.getElementById("version-live"); }

  function setTitle(root) {
    if (root.dataset.title) document.title = root.dataset.title + " · ModelGate";
  }

  function say(text) {
    var line = document.getElementById("stage-text");
    if (line) line.textContent = text;
  }

  function interval() {
    var root = live();
    return (root && Number(root.dataset.interval)) || 2000;
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, delay);
  }

  function poll() {
    var root = live();
    if (!root || root.dataset.poll !== "true") return;
    if (document.hidden || inFlight) return; // hidden: resumed by visibilitychange below
    inFlight = true;
    var url = root.dataset.liveUrl + "?since=" + encodeURIComponent(root.dataset.fingerprint);
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        inFlight = false;
        if (response.redirected) { // the session ended: fetch followed the sign-in redirect
          root.dataset.poll = "false";
          say("Your session ended. Reload the page to sign in again.");
          return null;
        }
        if (response.status === 204) return null;
        if (response.status === 404 || response.status === 403) {
          root.dataset.poll = "false";
          say("This version is no longer visible to you. Reload the page to see why.");
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        failures = 0;
        if (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#version-live");
          if (fresh) {
            root.replaceWith(fresh);
            setTitle(fresh);
            var line = document.getElementById("stage-text");
            var announcer = document.getElementById("live-announcer");
            if (line && announcer) announcer.textContent = line.textContent.trim();
          }
        }
        var current = live();
        if (current && current.dataset.poll === "true") schedule(interval());
      })
      .catch(function () {
        inFlight = false;
        failures += 1;
        say("Could not refresh the status; retrying…");
        // Back off while the server is unreachable, up to 30 s between tries.
        schedule(Math.min(30000, interval() * Math.pow(2, failures)));
      });
  }

  schedule(interval());
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
  });

  // The form may be swapped in by the poller: listen on the document, not on the form.
  var dialog = document.getElementById("trust-confirm");
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "trust-form" || !dialog || typeof dialog.showModal !== "function") return;
    if (form.dataset.confirmed === "true") return;
    var ticked = Array.prototype.filter.call(
      form.querySelectorAll("input[name=types]"), function (box) { return box.checked; });
    if (!ticked.length) return; // the server says "Tick at least one type", beside the list
    event.preventDefault();
    var list = document.getElementById("trust-confirm-list");
    list.textContent = "";
    ticked.forEach(function (box) {
      var item = document.createElement("li");
      var code = document.createElement("code");
      code.textContent = box.value;
      item.appendChild(code);
      var explain = document.getElementById(box.getAttribute("aria-describedby"));
      if (explain) {
        var text = document.createElement("div");
        text.className = "muted";
        text.textContent = explain.textContent;
        item.appendChild(text);
      }
      list.appendChild(item);
    });
    var n = ticked.length;
    document.getElementById("trust-confirm-yes").textContent =
      "Trust " + n + " type" + (n === 1 ? "" : "s") + " for " + form.dataset.version + " only";
    pending = form;
    dialog.showModal();
  });

  if (dialog) {
    document.getElementById("trust-confirm-yes").addEventListener("click", function () {
      if (!pending || !pending.isConnected) {
        // The page refreshed under the dialog: let the reviewer look at the new state first.
        pending = null;
        dialog.close();
        return;
      }
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "true";
      pending.appendChild(confirmed);
      pending.dataset.confirmed = "true";
      dialog.close();
      pending.submit();
    });
    document.getElementById("trust-confirm-no").addEventListener("click", function () {
      pending = null;
      dialog.close();
    });
  }
})();
