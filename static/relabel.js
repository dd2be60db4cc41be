// Labeling screen: one item at a time from the relabel API, the next one fetched without a
// reload. Every value from an item reaches the page as text (textContent) or entity-escaped
// for plotly, never as HTML. Keys: 1-9 label, s skip, u unsure, h hide/show the suggestion,
// ? help. The session's CSRF token goes in X-CSRFToken (DRF's session authentication).
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("relabel-config").textContent);
  var CHART = { displaylogo: false, responsive: true, displayModeBar: false };
  var item = null;
  var busy = false;
  var sitting = { labeled: 0, skipped: 0, unsure: 0, started: Date.now() };
  var hidden = window.localStorage && localStorage.getItem("relabel-hide-suggestion") === "1";

  function $(id) { return document.getElementById(id); }

  function text(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function show(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : (field ? field.value : "");
  }

  function problem(message) { $("problem").textContent = message || ""; }

  function announce(message) { $("announcer").textContent = message; }

  function api(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = { Accept: "application/json" };
    if (options.body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrfToken();
      options.body = JSON.stringify(options.body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = new Error(body.detail || "The server refused (" + response.status + ").");
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }

  function refreshCounts() {
    api(config.counts).then(function (counts) {
      if (!counts) return;
      $("left").textContent = counts.open;
      document.title = "Queue: " + config.model + " (" + counts.open + " left) · ModelGate";
    }).catch(function () {});
  }

  function renderSitting() {
    var done = sitting.labeled + sitting.skipped + sitting.unsure;
    var pace = "";
    if (done) {
      pace = " · " + Math.round((Date.now() - sitting.started) / 1000 / done) + " s per item";
    }
    $("sitting").textContent = "This sitting: " + sitting.labeled + " labeled, " +
      sitting.skipped + " skipped, " + sitting.unsure + " unsure" + pace + ".";
  }

  function applyHidden() {
    document.querySelectorAll(".suggestion").forEach(function (el) { el.hidden = hidden; });
    $("hidden-note").hidden = !hidden;
    var button = $("toggle-suggestion");
    button.setAttribute("aria-pressed", hidden ? "true" : "false");
    button.firstChild.textContent = hidden ? "Show the model's suggestion " : "Hide the model's suggestion ";
    if (!hidden && item) drawCharts();
  }

  function renderFeatures(features) {
    var body = $("features");
    body.textContent = "";
    Object.keys(features || {}).forEach(function (name) {
      var row = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = name;
      var td = document.createElement("td");
      td.textContent = show(features[name]);
      row.appendChild(th);
      row.appendChild(td);
      body.appendChild(row);
    });
  }

  function renderButtons(classes) {
    var box = $("class-buttons");
    box.textContent = "";
    classes.forEach(function (cls, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn class-button";
      button.dataset.index = String(i);
      if (i < 9) {
        var key = document.createElement("kbd");
        key.textContent = String(i + 1);
        button.appendChild(key);
        button.appendChild(document.createTextNode(" "));
      }
      button.appendChild(document.createTextNode(show(cls)));
      button.addEventListener("click", function () { label(cls); });
      box.appendChild(button);
    });
  }

  function drawCharts() {
    if (!window.Plotly || !item || hidden) return;
    var probs = item.probabilities;
    var el = $("chart-probabilities");
    if (probs && probs.length === item.classes.length) {
      window.Plotly.react(el, [{
        type: "bar", orientation: "h", x: probs, y: item.classes.map(function (c) { return text(show(c)); }),
        marker: { color: item.classes.map(function (c) { return show(c) === show(item.prediction) ? "#0b5cad" : "#8c959f"; }) },
        hovertemplate: "%{y}: %{x:.1%}<extra></extra>",
      }], {
        margin: { l: 90, r: 20, t: 10, b: 40 }, height: 60 + 34 * probs.length,
        xaxis: { range: [0, 1], tickformat: ".0%" }, yaxis: { type: "category", automargin: true },
        font: { family: "system-ui, sans-serif", size: 12 },
      }, CHART);
    }
    if (item.explanation) drawShap(item.explanation);
  }

  function contributions(explanation) {
    var values = explanation.shap_values;
    var names = Object.keys(values || {});
    if (names.length && typeof values[names[0]] === "object") {
      // One set of values per class: show the predicted class's.
      var key = names.indexOf(show(item.prediction)) >= 0 ? show(item.prediction) : names[names.length - 1];
      values = values[key];
    }
    return Object.keys(values).map(function (f) { return [f, values[f]]; })
      .sort(function (a, b) { return Math.abs(a[1]) - Math.abs(b[1]); }).slice(-12);
  }

  function drawShap(explanation) {
    var pairs = contributions(explanation);
    if (!pairs.length) return;
    var top = pairs[pairs.length - 1];
    $("why-reading").textContent = "Biggest push: " + top[0] + " (" + (top[1] >= 0 ? "+" : "") +
      top[1].toFixed(3) + "). Bars to the right push towards the model's answer.";
    window.Plotly.react($("chart-shap"), [{
      type: "bar", orientation: "h",
      x: pairs.map(function (p) { return p[1]; }),
      y: pairs.map(function (p) { return text(p[0]); }),
      marker: { color: pairs.map(function (p) { return p[1] >= 0 ? "#b42318" : "#0b5cad"; }) },
      hovertemplate: "%{y}: %{x:.4f}<extra></extra>",
    }], {
      margin: { l: 110, r: 20, t: 10, b: 40 }, height: 60 + 28 * pairs.length,
      yaxis: { type: "category", automargin: true }, font: { family: "system-ui, sans-serif", size: 12 },
    }, CHART);
  }

  function loadExplanation(current) {
    $("why-reading").textContent = "Loading the explanation…";
    window.Plotly && window.Plotly.purge($("chart-shap"));
    api(config.item + current.id + "/explanation/").then(function (body) {
      if (item !== current) return;
      current.explanation = body.explanations && body.explanations[0];
      if (!hidden && current.explanation) drawShap(current.explanation);
    }).catch(function (error) {
      if (item !== current) return;
      $("why-reading").textContent = "No explanation for this prediction: " + error.message;
    });
  }

  function render(next) {
    item = next;
    $("empty").hidden = true;
    $("label-screen").hidden = false;
    $("item-id").textContent = String(next.id);
    var reason = next.reason === "sample" ? "a random sample" : "the model was unsure";
    var lease = next.lease_expires_at ? new Date(next.lease_expires_at).toLocaleTimeString() : "";
    $("item-meta").textContent = "Made by v" + next.version + "; here because " + reason +
      (lease ? "; yours until " + lease : "") +
      (next.labels_needed > 1 ? "; label " + (next.label_count + 1) + " of " + next.labels_needed : "") + ".";
    $("prediction").textContent = show(next.prediction);
    var top = next.probabilities ? Math.max.apply(null, next.probabilities) : null;
    $("prediction-reading").textContent = top === null ? "" :
      "It gave its answer " + Math.round(top * 100) + "% probability.";
    renderFeatures(next.features);
    renderButtons(next.classes || []);
    applyHidden();
    drawCharts();
    loadExplanation(next);
    $("item-h").focus();
    announce("Item " + next.id + " loaded.");
  }

  function fetchNext() {
    busy = true;
    return api(config.next).then(function (next) {
      busy = false;
      refreshCounts();
      if (!next) {
        item = null;
        $("label-screen").hidden = true;
        $("empty").hidden = false;
        $("empty").querySelector("a").focus();
        announce("Nothing left in this queue.");
        return;
      }
      render(next);
    }).catch(function (error) {
      busy = false;
      problem(error.message);
    });
  }

  function answer(what, body, count) {
    if (!item || busy) return;
    busy = true;
    problem("");
    api(config.item + item.id + "/" + what + "/", { method: "POST", body: body }).then(function () {
      sitting[count] += 1;
      renderSitting();
      return fetchNext();
    }).catch(function (error) {
      busy = false;
      problem(error.message);
      // A 409: the item is no longer ours (lease expired, done elsewhere); move on.
      if (error.status === 409) fetchNext();
    });
  }

  function label(cls) { answer("label", { label: cls }, "labeled"); }

  $("skip").addEventListener("click", function () { answer("skip", {}, "skipped"); });
  $("unsure").addEventListener("click", function () { answer("skip", { unsure: true }, "unsure"); });
  $("toggle-suggestion").addEventListener("click", function () {
    hidden = !hidden;
    if (window.localStorage) localStorage.setItem("relabel-hide-suggestion", hidden ? "1" : "0");
    applyHidden();
  });
  $("show-help").addEventListener("click", function () { $("help").showModal(); });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if ($("help").open) return; // the dialog handles Esc itself
    var key = event.key;
    if (key === "?") { event.preventDefault(); $("help").showModal(); return; }
    if (!item) return;
    if (key >= "1" && key <= "9") {
      var index = Number(key) - 1;
      if (index < item.classes.length) { event.preventDefault(); label(item.classes[index]); }
    } else if (key === "s") {
      event.preventDefault();
      answer("skip", {}, "skipped");
    } else if (key === "u") {
      event.preventDefault();
      answer("skip", { unsure: true }, "unsure");
    } else if (key === "h") {
      event.preventDefault();
      $("toggle-suggestion").click();
    }
  });

  window.addEventListener("load", drawCharts); // plotly is deferred: draw once it is there
  fetchNext();
})();
