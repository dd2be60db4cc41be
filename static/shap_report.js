// SHAP report page: draws the charts with plotly.js (from our own static files) from the data
// the server put in <script type="application/json" id="shap-data"> (Django's json_script).
// Nothing from the report is inserted as HTML: feature and class names reach plotly
// entity-escaped, so a feature called "<script>" shows as those characters.
(function () {
  "use strict";

  var charts = window.ModelGateCharts; // static/charts.js
  var CONFIG = charts.CONFIG;
  var BASE = { margin: { l: 140, r: 20, t: 10, b: 50 }, height: 330,
               font: { family: "system-ui, sans-serif", size: 12 }, legend: { orientation: "h", y: -0.25 } };

  var text = charts.text;

  function layout(extra) {
    return charts.layout(BASE, extra);
  }

  function plot(id, traces, extra) {
    var el = document.getElementById(id);
    if (!el || !window.Plotly) return;
    window.Plotly.newPlot(el, traces, layout(extra), CONFIG);
  }

  function importance(data) {
    // Least important at the bottom: plotly draws horizontal bars from the first category up.
    var names = data.features.slice(0, 15).reverse();
    var traces = [{
      type: "bar", orientation: "h", name: "v" + data.version, marker: { color: "#0969da" },
      y: names.map(text), x: names.map(function (n) { return data.candidate[n] || 0; }),
      hovertemplate: "%{y}: %{x:.4f}<extra>v" + data.version + "</extra>",
    }];
    if (data.production) {
      traces.push({
        type: "bar", orientation: "h", name: "production v" + data.production_version,
        marker: { color: "#8c959f" }, y: names.map(text),
        x: names.map(function (n) { return data.production[n] || 0; }),
        hovertemplate: "%{y}: %{x:.4f}<extra>production</extra>",
      });
    }
    plot("chart-importance", traces, {
      barmode: "group", xaxis: { title: { text: "mean |SHAP|" } },
      yaxis: { type: "category", automargin: true },
    });
  }

  function colours(values) {
    var finite = values.filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
    return values.map(function (v) { return v === null || hi === lo ? 0.5 : (v - lo) / (hi - lo); });
  }

  function beeswarm(data, output) {
    var names = data.top.slice().reverse();
    var traces = names.map(function (name, i) {
      var shap = data.rows[name].shap[output] || [];
      // Deterministic jitter so overlapping rows spread out like a beeswarm.
      var y = shap.map(function (_, r) { return i + (((r * 7919) % 101) / 101 - 0.5) * 0.6; });
      return {
        type: "scatter", mode: "markers", name: text(name), showlegend: false, x: shap, y: y,
        marker: { size: 4, color: colours(data.rows[name].x), colorscale: "RdBu",
                  cmin: 0, cmax: 1, showscale: i === names.length - 1,
                  colorbar: { title: { text: "feature value" }, tickvals: [0, 1], ticktext: ["low", "high"] } },
        hovertemplate: text(name) + ": SHAP %{x:.4f}<extra></extra>",
      };
    });
    plot("chart-beeswarm", traces, {
      xaxis: { title: { text: "SHAP value (" + text(data.output_kind) + ")" }, zeroline: true },
      yaxis: { tickvals: names.map(function (_, i) { return i; }), ticktext: names.map(text), automargin: true },
    });
  }

  function dependence(data, output) {
    data.dependence.forEach(function (name, i) {
      var row = data.rows[name];
      var cats = data.categories[name];
      var x = row.x.map(function (v) { return cats && v !== null ? text(cats[v]) : v; });
      plot("chart-dependence-" + i, [{
        type: "scatter", mode: "markers", x: x, y: row.shap[output] || [], name: text(name),
        marker: { size: 5, color: "#0969da", opacity: 0.6 },
        hovertemplate: "%{x}: SHAP %{y:.4f}<extra></extra>",
      }], {
        margin: { l: 60, r: 20, t: 10, b: 50 }, height: 300,
        xaxis: { title: { text: text(name) }, type: cats ? "category" : "linear", automargin: true },
        yaxis: { title: { text: "SHAP value" } },
      });
    });
  }

  function draw() {
    var node = document.getElementById("shap-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    if (!data) return;
    var select = document.getElementById("shap-output");
    var output = data.outputs[select ? Number(select.value) : data.outputs.length - 1];
    importance(data);
    beeswarm(data, output);
    dependence(data, output);
    if (select && !select.dataset.bound) {
      select.dataset.bound = "1";
      select.addEventListener("change", draw);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
