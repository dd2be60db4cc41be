// Chart and table helpers shared by the pages that draw with plotly.js (report.js,
// shap_report.js, monitoring.js): one plotly config, a layout built on each page's base, text
// entity-escaped before plotly sees it, and click/keyboard sorting of a table by a column.
(function () {
  "use strict";

  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

  // plotly reads a few tags (<b>, <br>, <a href>) in text; entities are shown as characters.
  function text(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // A page's base layout with this chart's own keys on top.
  function layout(base, extra) {
    var out = {};
    Object.keys(base).forEach(function (k) { out[k] = base[k]; });
    Object.keys(extra || {}).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!numeric) return cell.textContent.trim().toLowerCase();
    var raw = cell.getAttribute("data-value");
    return raw === null || raw === "" ? null : Number(raw);
  }

  // Headers with data-sort="number|text" sort the table on click, Enter or Space. First click:
  // numbers largest first (worst first), text A→Z; rows without a value stay last. A table is
  // wired once, however often the page calls this.
  function sortable(table) {
    if (!table || table.dataset.sortable === "ready") return;
    table.dataset.sortable = "ready";
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      if (!th.dataset.sort) return;
      th.tabIndex = 0;
      th.classList.add("sort-header");
      function sort() {
        var numeric = th.dataset.sort === "number";
        var descending = th.getAttribute("aria-sort") === "descending" ? false
          : th.getAttribute("aria-sort") === "ascending" ? true : numeric;
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
          if (x === null && y === null) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          var order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  }

  window.ModelGateCharts = { CONFIG: CONFIG, text: text, layout: layout, sortable: sortable };
})();
