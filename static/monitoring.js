// Monitoring dashboard.
// 1. Draws the hourly time series and the reference-vs-current histogram with plotly.js (served
//    from our own static files) from <script type="application/json" id="monitoring-data">.
//    Feature names and categories reach plotly entity-escaped, never as markup.
// 2. Sorts the drift table by a clicked column (the server's order is worst first).
// 3. Choosing a feature (the select, or its name in the table) redraws the histogram.
(function () {
  "use strict";

  var charts = window.ModelGateCharts; // static/charts.js
  var CONFIG = charts.CONFIG;
  var BASE = { margin: { l: 50, r: 15, t: 10, b: 40 }, height: 240, font: { family: "system-ui, sans-serif", size: 12 } };

  var text = charts.text;

  function layout(extra) {
    return charts.layout(BASE, extra);
  }

  var data = JSON.parse(document.getElementById("monitoring-data").textContent);

  function line(id, ys, name, extra) {
    var el = document.getElementById(id);
    if (!el) return;
    var traces = ys.map(function (y, i) {
      return { x: data.series.hour, y: y, name: name[i], type: "scatter", mode: "lines+markers", connectgaps: false };
    });
    Plotly.newPlot(el, traces, layout(extra), CONFIG);
  }

  function drawSeries() {
    var s = data.series;
    if (!s.hour.length) return;
    Plotly.newPlot(document.getElementById("chart-rows"),
      [{ x: s.hour, y: s.rows, type: "bar", name: "predictions" }], layout({}), CONFIG);
    line("chart-latency", [s.latency_mean, s.latency_p95], ["mean", "p95 (bucket)"], { showlegend: true, legend: { orientation: "h", y: -0.3 } });
    line("chart-errors", [s.error_rate], ["error rate"], { yaxis: { tickformat: ".1%", rangemode: "tozero" } });
    line("chart-low-confidence", [s.low_confidence_rate], ["low confidence"], { yaxis: { tickformat: ".0%", rangemode: "tozero" } });
    line("chart-drift", [s.drift_share], ["drift share"], { yaxis: { tickformat: ".0%", range: [0, 1] } });
    line("chart-accuracy", [s.live_accuracy], ["live accuracy"], { yaxis: { tickformat: ".0%", range: [0, 1] } });
  }

  function drawHistogram(feature) {
    var el = document.getElementById("chart-histogram");
    var h = data.histograms[feature];
    if (!el || !h) return;
    var labels = h.labels.map(text);
    Plotly.newPlot(el, [
      { x: labels, y: h.reference, type: "bar", name: "reference" },
      { x: labels, y: h.current, type: "bar", name: "current (" + h.current_rows + " values)" },
    ], layout({ height: 320, barmode: "group", yaxis: { tickformat: ".0%" }, legend: { orientation: "h", y: -0.35 } }), CONFIG);
    document.getElementById("hist-feature").textContent = feature;
    var select = document.getElementById("feature-select");
    if (select.value !== feature) select.value = feature;
    el.setAttribute("data-feature", feature);
  }

  function start() {
    drawSeries();
    charts.sortable(document.getElementById("drift-table"));
    var select = document.getElementById("feature-select");
    if (select) {
      select.addEventListener("change", function () { drawHistogram(select.value); });
      drawHistogram(select.value);
    }
    Array.prototype.forEach.call(document.querySelectorAll(".show-feature"), function (button) {
      button.addEventListener("click", function () {
        drawHistogram(button.dataset.feature);
        document.getElementById("hist-h").scrollIntoView({ behavior: "smooth", block: "start" });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
