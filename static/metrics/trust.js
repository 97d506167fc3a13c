// Draws the Plotly figures of the trust panel. Each figure is a JSON data block
// (<script type="application/json" id=...>, written by Django's json_script) named by the
// data-figure attribute of its container; no inline script is needed.
(function () {
  "use strict";
  function draw() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, { displayModeBar: false, responsive: true });
      el.dataset.drawn = "1";
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSettle", draw);
})();
