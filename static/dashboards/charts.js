// Draws the server-built Plotly figures of the dashboards. Each figure is a JSON data block
// (<script type="application/json">, from Django's json_script) named by the data-figure
// attribute of its container. A container with data-cell-url (a heatmap) opens the clicked
// cell: the URL template's {row} and {col} are replaced and the result is loaded with htmx
// into the element named by data-cell-target (or followed as a link without htmx).
(function () {
  "use strict";
  function openCell(el, point) {
    var url = el.dataset.cellUrl
      .replace("__row__", encodeURIComponent(point.y))
      .replace("__col__", encodeURIComponent(point.x));
    var target = el.dataset.cellTarget;
    if (target && window.htmx) {
      window.htmx.ajax("GET", url, { target: target, swap: "innerHTML" });
    } else {
      window.location.href = url;
    }
  }
  function draw() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, { displayModeBar: false, responsive: true });
      el.dataset.drawn = "1";
      if (el.dataset.cellUrl) {
        el.on("plotly_click", function (ev) { if (ev.points && ev.points.length) openCell(el, ev.points[0]); });
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
