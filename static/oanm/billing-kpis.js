/* The board KPIs page: one Chart.js line per KPI over its 12 months, with its target and
   alert as dashed lines (DSO's thresholds are on its rise q/q, so it shows both DSO lines).
   Chart.js comes from our own static/vendor/chartjs/, so the page works offline. */
(function () {
  "use strict";

  const COLOURS = { line: "#334e68", ok: "#2f855a", warn: "#b7791f", bad: "#c53030", grid: "#e4e7eb" };
  const STATUS_COLOUR = { ok: COLOURS.ok, warn: COLOURS.warn, bad: COLOURS.bad, none: "#9aa5b1" };

  function number(value) {
    return value === null || value === undefined || value === "" ? null : parseFloat(value);
  }

  function draw() {
    const node = document.getElementById("kpi-charts");
    if (!node || typeof Chart === "undefined") return;
    const kpis = JSON.parse(node.textContent);
    const byKey = Object.fromEntries(kpis.map((kpi) => [kpi.key, kpi]));
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    for (const kpi of kpis) {
      const canvas = document.getElementById("chart-" + kpi.key);
      if (!canvas) continue;
      const labels = kpi.trend.map((point) => point.month);
      const datasets = [
        {
          label: kpi.title,
          data: kpi.trend.map((point) => number(point.value)),
          borderColor: COLOURS.line,
          pointBackgroundColor: kpi.trend.map((point) => STATUS_COLOUR[point.status]),
          pointRadius: 4,
          spanGaps: true,
          tension: 0.1,
        },
      ];
      if (kpi.quarter_over_quarter) {
        const other = byKey[kpi.key === "dso" ? "dso-dispute-adjusted" : "dso"];
        if (other) {
          datasets.push({
            label: other.title,
            data: other.trend.map((point) => number(point.value)),
            borderColor: "#829ab1",
            borderDash: [2, 3],
            pointRadius: 0,
            spanGaps: true,
          });
        }
      } else {
        datasets.push(
          { label: "target " + kpi.target_text, data: labels.map(() => number(kpi.target)), borderColor: COLOURS.ok, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 },
          { label: "alert " + kpi.alert_text, data: labels.map(() => number(kpi.alert)), borderColor: COLOURS.bad, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 }
        );
      }
      canvas.chart = new Chart(canvas, {
        type: "line",
        data: { labels, datasets },
        options: {
          animation: false,
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
            y: {
              beginAtZero: true,
              grid: { color: COLOURS.grid },
              ticks: { callback: (value) => value + (kpi.unit === "%" ? " %" : " d"), maxTicksLimit: 5 },
            },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 2 } } },
        },
      });
      canvas.dataset.ready = "true";
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
