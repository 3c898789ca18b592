// An area's page (/areas/<id>/): its map, its demand charts and the phase buttons.
// Everything it needs comes from the JSON in #area-page-config; every library is served from
// our own static/ (Leaflet, Leaflet.VectorGrid, Chart.js), so the page works offline.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("area-page-config").textContent);

  function cssVariable(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  const COLOURS = {
    phase: cssVariable("--phase-" + config.phase, "#0b6e99"),
    accent: cssVariable("--accent", "#0b6e99"),
    ok: cssVariable("--ok", "#2f855a"),
    warn: cssVariable("--warn", "#b7791f"),
    muted: cssVariable("--muted", "#616e7c"),
    line: cssVariable("--line", "#d9e2ec"),
    // the same as on /map/: interests are purple rings, orders red dots
    interest: "#805ad5",
    order: "#e53e3e",
  };
  // Address statuses in the lifecycle's order, with the colours /map/ gives them.
  const ADDRESS_COLOURS = {
    planned: "#829ab1",
    awaiting_deployment: "#f7c948",
    in_deployment: "#2186eb",
    connected: "#3ebd93",
    activated: "#0c6b58",
  };

  // --- the map ---------------------------------------------------------------

  function legendItem(colour, label, shape) {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch " + (shape || "dot");
    swatch.style.setProperty("--swatch", colour);
    item.append(swatch, document.createTextNode(label));
    return item;
  }

  function drawMap() {
    const element = document.getElementById("area-map");
    if (!element || typeof L === "undefined") return;
    const map = L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false, attributionControl: true });
    element.dataset.ready = "false";
    if (config.baseMap) {
      L.tileLayer(config.baseMap.url, {
        attribution: config.baseMap.attribution,
        maxZoom: 19,
      }).addTo(map);
    } else {
      element.classList.add("no-base-map");
    }
    map.attributionControl.setPrefix(false);

    const boundary = L.geoJSON(config.boundary, {
      style: {
        color: COLOURS.phase,
        weight: 3,
        fillColor: COLOURS.phase,
        fillOpacity: config.addressTiles ? 0.06 : 0.18,
      },
      interactive: false,
    }).addTo(map);
    map.fitBounds(boundary.getBounds(), { padding: [24, 24] });
    map.on("click", () => map.scrollWheelZoom.enable()); // wheel zoom once the map is chosen

    const legend = document.getElementById("area-map-legend");
    legend.append(legendItem(COLOURS.phase, "area boundary", "area"));

    const overlays = {};
    const haveVectorGrid = L.vectorGrid && L.vectorGrid.protobuf;
    if (config.addressTiles && haveVectorGrid) {
      const addresses = L.vectorGrid.protobuf(config.addressTiles, {
        vectorTileLayerStyles: styleEveryLayer(addressStyle),
        interactive: false,
        maxNativeZoom: 16,
        pane: "overlayPane",
      });
      addresses.addTo(map);
      overlays["Addresses"] = addresses;
      for (const [status, colour] of Object.entries(ADDRESS_COLOURS)) {
        legend.append(legendItem(colour, status.replace("_", " ")));
      }
    }
    if (config.demandTiles && haveVectorGrid) {
      const url = config.demandTiles + "?area=" + encodeURIComponent(config.areaId);
      const demand = L.vectorGrid.protobuf(url, {
        vectorTileLayerStyles: styleEveryLayer(demandStyle),
        interactive: false,
        maxNativeZoom: 16,
        pane: "markerPane",
      });
      demand.addTo(map);
      overlays["Interests and orders"] = demand;
      legend.append(
        legendItem(COLOURS.interest, "interest", "ring"),
        legendItem(COLOURS.order, "order")
      );
    }
    if (Object.keys(overlays).length) {
      L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    element.dataset.ready = "true";
  }

  // VectorGrid styles layers by name; tiles may hold one or several layers, so one style
  // function answers for any layer name.
  function styleEveryLayer(style) {
    return new Proxy({}, { get: () => style });
  }

  function isCell(properties) {
    // below the point zooms the tiles hold aggregated cells with a count
    return properties && (properties.count !== undefined || properties.n !== undefined);
  }

  function radiusFor(properties, base) {
    const count = Number(properties.count !== undefined ? properties.count : properties.n) || 1;
    return Math.min(base + Math.sqrt(count) * 1.4, 18);
  }

  function addressStyle(properties) {
    const colour = ADDRESS_COLOURS[properties && properties.status] || ADDRESS_COLOURS.planned;
    // single addresses name their area: the neighbours' stay faint
    const outside =
      properties && properties.area_id !== undefined && properties.area_id !== config.areaId;
    return {
      radius: isCell(properties) ? radiusFor(properties, 2) : 3,
      weight: 0.5,
      color: "#ffffff",
      fill: true,
      fillColor: colour,
      fillOpacity: outside ? 0.3 : 0.9,
    };
  }

  function demandKind(properties, layerName) {
    const value = String(
      (properties && (properties.kind || properties.type || properties.demand)) || layerName || ""
    );
    if (/order|signup/i.test(value)) return "order";
    if (/interest/i.test(value)) return "interest";
    // a grid cell takes the colour of what it holds most of
    const orders = Number(properties && properties.orders) || 0;
    if (orders && orders >= (Number(properties.interests) || 0)) return "order";
    return "interest";
  }

  function demandStyle(properties, zoom, geometryDimension, layerName) {
    const isOrder = demandKind(properties, layerName) === "order";
    if (isCell(properties)) {
      return {
        radius: radiusFor(properties, 3),
        weight: 1,
        color: "#ffffff",
        fill: true,
        fillColor: isOrder ? COLOURS.order : COLOURS.interest,
        fillOpacity: 0.8,
      };
    }
    // an order is a filled dot; an interest a ring around the address (both can show)
    return {
      radius: isOrder ? 4 : 6,
      weight: isOrder ? 1 : 2,
      color: isOrder ? "#ffffff" : COLOURS.interest,
      fill: true,
      fillColor: isOrder ? COLOURS.order : "#ffffff",
      fillOpacity: isOrder ? 1 : 0,
    };
  }

  // --- the charts --------------------------------------------------------------

  const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
  const DAY_LABEL = { format: (day) => day.getDate() + " " + MONTHS[day.getMonth()] };
  const FULL_DAY = {
    format: (day) => DAY_LABEL.format(day) + " " + day.getFullYear(),
  };

  function parseDay(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(y, m - 1, d);
  }

  function drawCharts() {
    const series = config.series;
    const demandCanvas = document.getElementById("demand-chart");
    const rateCanvas = document.getElementById("take-rate-chart");
    if (!demandCanvas || !rateCanvas) return;
    if (!series.days.length) {
      demandCanvas.parentElement.hidden = true;
      rateCanvas.parentElement.hidden = true;
      document.getElementById("chart-empty").hidden = false;
      return;
    }
    if (typeof Chart === "undefined") return;
    const days = series.days.map(parseDay);
    const labels = days.map((day) => DAY_LABEL.format(day));
    document.getElementById("chart-range").textContent =
      FULL_DAY.format(days[0]) + " – " + FULL_DAY.format(days[days.length - 1]);

    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = COLOURS.muted;
    const common = {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      // points only while there are few days; a long series reads better as bare lines
      elements: {
        point: { radius: days.length <= 31 ? 3 : 0, hoverRadius: 4 },
        line: { tension: 0.15, borderWidth: 2 },
      },
      scales: {
        x: {
          grid: { display: false },
          ticks: { maxTicksLimit: 8, maxRotation: 0, autoSkipPadding: 16 },
        },
      },
      plugins: {
        legend: { position: "top", align: "end", labels: { boxWidth: 12, boxHeight: 2 } },
        tooltip: {
          callbacks: { title: (items) => FULL_DAY.format(days[items[0].dataIndex]) },
        },
      },
    };

    demandCanvas.chart = new Chart(demandCanvas, {
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: "Orders",
            data: series.orders,
            borderColor: COLOURS.order,
            backgroundColor: "rgba(229, 62, 62, 0.08)",
            fill: "origin",
          },
          {
            label: "Interests",
            data: series.interests,
            borderColor: COLOURS.interest,
            backgroundColor: COLOURS.interest,
          },
        ],
      },
      options: {
        ...common,
        scales: {
          ...common.scales,
          y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLOURS.line } },
        },
      },
    });

    const peak = Math.max(series.target, ...series.takeRate);
    rateCanvas.chart = new Chart(rateCanvas, {
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: "Take rate",
            data: series.takeRate,
            borderColor: COLOURS.ok,
            backgroundColor: "rgba(47, 133, 90, 0.12)",
            fill: "origin",
          },
          {
            label: "Target",
            data: series.days.map(() => series.target),
            borderColor: COLOURS.muted,
            borderDash: [6, 4],
            borderWidth: 1.5,
            tension: 0,
          },
        ],
      },
      options: {
        ...common,
        scales: {
          ...common.scales,
          y: {
            beginAtZero: true,
            suggestedMax: Math.min(100, Math.ceil((peak * 1.15) / 5) * 5 || 10),
            ticks: { callback: (value) => value + " %", maxTicksLimit: 5 },
            grid: { color: COLOURS.line },
          },
        },
        plugins: {
          ...common.plugins,
          tooltip: {
            callbacks: {
              title: common.plugins.tooltip.callbacks.title,
              label: (item) => item.dataset.label + ": " + item.parsed.y.toFixed(1) + " %",
            },
          },
        },
      },
    });
  }

  // --- the phase buttons -------------------------------------------------------

  function guardPhaseButtons() {
    const form = document.getElementById("phase-form");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  function guardDeleteForm() {
    const form = document.getElementById("delete-form");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  drawMap();
  drawCharts();
  guardPhaseButtons();
  guardDeleteForm();
})();
