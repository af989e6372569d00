/* Draws the dashboard's charts (dashboard.html) with the vendored Chart.js from the JSON in
   <script type="application/json" id="dashboard-data"> (bot/console/dashboard.py chart_data).
   The same figures are in the page's tables; without JavaScript nothing is lost. */
(function () {
  "use strict";
  var COLOURS = ["#0b6e4f", "#d97706", "#2563eb", "#b42318", "#7c3aed", "#0891b2", "#65a30d",
                 "#db2777", "#475569", "#ca8a04"];

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false },
                                   config.options || {});
    new window.Chart(canvas, config);
  }

  function bars(labels, series, options) {
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: COLOURS[i % COLOURS.length] };
        })
      },
      options: options || {}
    };
  }

  function start() {
    var node = document.getElementById("dashboard-data");
    if (!node || !window.Chart) return;
    var d = JSON.parse(node.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    draw("chart-per-day", bars(d.days, d.per_day, {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
    }));
    draw("chart-response", bars(d.rows, [{ label: "中位数", data: d.response.median },
                                         { label: "P90", data: d.response.p90 }],
                                { scales: { y: { beginAtZero: true } } }));
    draw("chart-resolve", bars(d.rows, [{ label: "中位数", data: d.resolve.median },
                                        { label: "P90", data: d.resolve.p90 }],
                               { scales: { y: { beginAtZero: true } } }));
    draw("chart-sla", bars(d.rows, [{ label: "按时响应", data: d.sla.response },
                                    { label: "按时办结", data: d.sla.resolve }],
                           { scales: { y: { beginAtZero: true, max: 100 } } }));
    draw("chart-satisfaction", bars(d.rows, [{ label: "满意率", data: d.satisfaction }],
                                    { scales: { y: { beginAtZero: true, max: 100 } },
                                      plugins: { legend: { display: false } } }));
    draw("chart-categories", bars(d.categories.labels, [{ label: "件数", data: d.categories.data }],
                                  { indexAxis: "y", plugins: { legend: { display: false } },
                                    scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }));
    document.documentElement.dataset.chartsDrawn = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
