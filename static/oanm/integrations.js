/* The integrations overview: a progress bar per system while a run is going on (polling the
   system's status endpoint until the run has finished, then showing it), and a small chart
   of the recent runs' counts and durations. Chart.js is ours (static/vendor/chartjs/). */
(function () {
  "use strict";

  const POLL_MS = 700;

  function describe(run) {
    if (!run) return "waiting for a worker…";
    if (run.total) return `fetched ${run.fetched} of ${run.total} features (${run.percent}%)`;
    return `fetched ${run.fetched} features…`;
  }

  function watch(box) {
    const bar = box.querySelector("progress");
    const text = box.querySelector(".sync-progress-text");
    const url = new URL(box.dataset.url, window.location.href);
    if (box.dataset.since) url.searchParams.set("since", box.dataset.since);
    let waited = 0;

    async function poll() {
      let status;
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        status = await response.json();
      } catch (error) {
        text.textContent = "could not read the run's progress: " + error.message;
        window.setTimeout(poll, POLL_MS * 3);
        return;
      }
      box.dataset.state = status.state;
      if (status.state === "finished") {
        // the finished run is shown by the page itself, with its counts
        window.location.replace(window.location.pathname + "#system-" + box.dataset.system);
        return;
      }
      if (status.state === "interrupted") {
        text.textContent = `run ${status.run.id} was stopped mid-way (no process runs it): the next run resumes it`;
        bar.value = status.run.fetched; bar.max = Math.max(status.run.total, 1);
        return;
      }
      if (status.state === "running") {
        const run = status.run;
        if (run.total) { bar.max = run.total; bar.value = run.fetched; } else { bar.removeAttribute("value"); }
        text.textContent = `run ${run.id} (${run.mode}): ` + describe(run);
      } else {
        waited += 1;
        bar.removeAttribute("value");
        text.textContent = waited > 40 ? "still waiting for a worker: is the Celery worker running?" : "waiting for a worker…";
      }
      window.setTimeout(poll, POLL_MS);
    }
    poll();
  }

  function charts() {
    const node = document.getElementById("sync-charts");
    if (!node || typeof Chart === "undefined") return;
    const bySystem = JSON.parse(node.textContent);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    for (const [system, runs] of Object.entries(bySystem)) {
      const canvas = document.getElementById("chart-" + system);
      if (!canvas) continue;
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: runs.map((run) => `${run.id} · ${run.label}`),
          datasets: [
            { label: "created", data: runs.map((run) => run.created), backgroundColor: "#2f855a", stack: "counts", maxBarThickness: 28 },
            { label: "updated", data: runs.map((run) => run.updated), backgroundColor: "#0b6e99", stack: "counts", maxBarThickness: 28 },
            { label: "rejected", data: runs.map((run) => run.rejected), backgroundColor: "#c53030", stack: "counts", maxBarThickness: 28 },
            { label: "seconds", data: runs.map((run) => run.seconds), type: "line", borderColor: "#616e7c", yAxisID: "seconds", pointRadius: 3 },
          ],
        },
        options: {
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            x: { stacked: true, ticks: { display: false } },
            y: { stacked: true, beginAtZero: true, title: { display: true, text: "features" } },
            seconds: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "s" } },
          },
        },
      });
    }
  }

  document.querySelectorAll(".sync-progress:not([hidden])").forEach(watch);
  charts();
})();
