// Validation report page.
// 1. Draws the charts with plotly.js (served from our own static files) from the report data the
//    server put in <script type="application/json" id="report-data"> (Django's json_script).
//    Nothing from the report is ever inserted as HTML: class labels reach plotly entity-escaped,
//    so plotly shows "<b>" or "<script>" as those characters instead of reading them as markup.
// 2. Sorts the slices table by a clicked column (worst first is the server's order).
// 3. version.js refreshes the live part (#version-live) while validation runs; when it swaps in
//    a new one, the charts are drawn again from the new data.
(function () {
  "use strict";

  var charts = window.ModelGateCharts; // static/charts.js
  var CONFIG = charts.CONFIG;
  var BASE = {
    margin: { l: 60, r: 20, t: 10, b: 50 },
    height: 340,
    font: { family: "system-ui, sans-serif", size: 12 },
    legend: { orientation: "h", y: -0.25 },
  };

  var text = charts.text;

  function layout(extra) {
    return charts.layout(BASE, extra);
  }

  function diagonal(from, to) {
    return {
      x: [from, to], y: [from, to], mode: "lines", name: "ideal",
      line: { dash: "dash", color: "#8c959f", width: 1 }, hoverinfo: "skip",
    };
  }

  function plot(id, traces, extra) {
    var el = document.getElementById(id);
    if (!el || !window.Plotly) return;
    window.Plotly.newPlot(el, traces, layout(extra), CONFIG);
  }

  function confusion(cm) {
    if (!cm || !cm.labels || !cm.matrix) return;
    var labels = cm.labels.map(text);
    plot("chart-confusion", [{
      type: "heatmap", z: cm.matrix, x: labels, y: labels, colorscale: "Blues", reversescale: true,
      texttemplate: "%{z}", hovertemplate: "actual %{y}<br>predicted %{x}: %{z} rows<extra></extra>",
    }], {
      xaxis: { title: { text: "predicted" }, type: "category", automargin: true },
      yaxis: { title: { text: "actual" }, type: "category", autorange: "reversed", automargin: true },
    });
  }

  function curves(list, id, xKey, yKey, scoreKey, scoreName, axes, ideal) {
    if (!list || !list.length) return;
    var traces = list.map(function (c) {
      var score = typeof c[scoreKey] === "number" ? " (" + scoreName + " " + c[scoreKey].toFixed(3) + ")" : "";
      return { x: c[xKey], y: c[yKey], mode: ideal ? "lines+markers" : "lines", name: text(c["class"]) + score };
    });
    if (ideal) traces.push(diagonal(0, 1));
    plot(id, traces, {
      xaxis: { title: { text: axes[0] }, range: [0, 1] },
      yaxis: { title: { text: axes[1] }, range: [0, 1.02] },
    });
  }

  function regression(plots) {
    if (!plots || !plots.predicted || !plots.predicted.length) return;
    var all = plots.predicted.concat(plots.actual || []);
    var lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    plot("chart-predicted", [
      { x: plots.actual, y: plots.predicted, mode: "markers", name: "rows",
        marker: { size: 4, opacity: 0.6 } },
      diagonal(lo, hi),
    ], { xaxis: { title: { text: "actual" } }, yaxis: { title: { text: "predicted" } } });
    if (plots.residual && plots.residual.length) {
      plot("chart-residual", [
        { x: plots.predicted, y: plots.residual, mode: "markers", name: "rows",
          marker: { size: 4, opacity: 0.6 } },
      ], {
        xaxis: { title: { text: "predicted" } },
        yaxis: { title: { text: "actual − predicted" }, zeroline: true, zerolinewidth: 2 },
      });
    }
  }

  function draw() {
    var holder = document.getElementById("report-data");
    if (!holder) return;
    var data;
    try { data = JSON.parse(holder.textContent); } catch (e) { return; }
    var c = data.curves || {};
    confusion(data.confusion_matrix);
    curves(c.roc, "chart-roc", "fpr", "tpr", "auc", "AUC", ["false positive rate", "true positive rate"], true);
    curves(c.pr, "chart-pr", "recall", "precision", "average_precision", "AP", ["recall", "precision"], false);
    curves(c.calibration, "chart-calibration", "mean_predicted", "fraction_positive", null, "",
      ["mean predicted probability", "fraction of positives"], true);
    regression(data.regression_plots);
    charts.sortable(document.getElementById("slices-table"));
  }

  function watchLive() {
    var root = document.getElementById("version-live");
    if (!root || !root.parentNode || !window.MutationObserver) return;
    new MutationObserver(function () { draw(); }).observe(root.parentNode, { childList: true });
  }

  draw();
  watchLive();
})();
