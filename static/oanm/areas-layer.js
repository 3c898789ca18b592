/*
 * oanm's reusable areas layer for Leaflet maps.
 *
 *   var areas = OANM.areasLayer(map, {
 *     url: "/api/areas/",          // GeoJSON FeatureCollection of areas (pages are followed)
 *     colourBy: "phase",           // or "take_rate"
 *     onSelect: function (feature, layer, event) {},   // a click on an area
 *     filter: function (feature) { return true; },     // which areas to draw
 *     labels: true,                // code + take rate at the centre of each area
 *     labelMinZoom: 13,            // labels only from this zoom on
 *     phases: [{value, label}],    // legend labels; default: the four phases of oanm
 *     interactive: true,
 *   });
 *
 *   areas.refresh()           → Promise of the features; (re)loads from `url`
 *   areas.setColourBy(mode)   "phase" | "take_rate": restyles, updates the legend
 *   areas.colourBy()          the current mode
 *   areas.legend()            → a new <div class="areas-legend"> for the current mode
 *   areas.legendControl(opts) → an L.Control that shows the legend and follows the mode
 *   areas.features()          the loaded GeoJSON features
 *   areas.find(id)            the Leaflet layer of area `id` (or null)
 *   areas.select(id)          highlight area `id` (null clears); fires "select"
 *   areas.fitTo(id)           zoom the map to area `id`
 *   areas.on(name, fn)        "load" (features), "select" (feature or null), "colour" (mode)
 *   areas.layer               the L.GeoJSON group (add/remove it, e.g. in a layer switch)
 *   areas.remove()            take it off the map
 *
 *   OANM.areasLayer.phaseColour(phase)   the phase colour (from oanm.css --phase-<phase>)
 *   OANM.areasLayer.progressColour(p)    the gradient colour at p = take rate ÷ target
 *   OANM.areasLayer.figures(feature)     numbers of a feature's properties, parsed
 *
 * Phase colours come from the CSS variables in oanm.css, so every page agrees with the
 * badges. The take-rate gradient is relative to each area's own target: 0 → target → 2×
 * target on one sequential scale. An area still in planning or demand aggregation whose take
 * rate has reached its target is "ready to build": a strong dark outline in both modes (an
 * area in deployment or live is being built already; `figures().targetReached` still says
 * whether it reached its target).
 */
(function (global) {
  "use strict";

  var OANM = (global.OANM = global.OANM || {});

  var DEFAULT_PHASES = [
    { value: "planning", label: "planning" },
    { value: "demand_aggregation", label: "demand aggregation" },
    { value: "in_deployment", label: "in deployment" },
    { value: "live", label: "live" },
  ];
  var FALLBACK_PHASE_COLOURS = {
    planning: "#9aa5b1",
    demand_aggregation: "#d69e2e",
    in_deployment: "#3182ce",
    live: "#38a169",
  };
  // Sequential (light → dark) scale over progress = take rate ÷ target, 0 … 2.
  var GRADIENT = [
    [0.0, [255, 255, 217]],
    [0.5, [199, 233, 180]],
    [1.0, [65, 182, 196]],
    [1.5, [34, 94, 168]],
    [2.0, [8, 29, 88]],
  ];
  var READY_PHASES = ["planning", "demand_aggregation"];
  var READY_OUTLINE = "#102a43";
  var SELECTED_OUTLINE = "#0b6e99";

  function escapeHtml(value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      }
    );
  }
  OANM.escapeHtml = OANM.escapeHtml || escapeHtml;

  function cssVariable(name) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value ? value.trim() : "";
  }

  function phaseColour(phase) {
    return cssVariable("--phase-" + phase) || FALLBACK_PHASE_COLOURS[phase] || "#718096";
  }

  function progressColour(progress) {
    var p = Math.max(0, Math.min(2, Number(progress) || 0));
    for (var i = 1; i < GRADIENT.length; i++) {
      if (p <= GRADIENT[i][0]) {
        var lo = GRADIENT[i - 1], hi = GRADIENT[i];
        var t = (p - lo[0]) / (hi[0] - lo[0]);
        var rgb = lo[1].map(function (c, k) {
          return Math.round(c + (hi[1][k] - c) * t);
        });
        return "rgb(" + rgb.join(",") + ")";
      }
    }
    return "rgb(" + GRADIENT[GRADIENT.length - 1][1].join(",") + ")";
  }

  function number(value) {
    var n = Number(value);
    return isFinite(n) ? n : 0;
  }

  /** The figures of an area feature as numbers (the API may send decimals as strings). */
  function figures(feature) {
    var p = feature.properties || {};
    var takeRate = number(p.take_rate);
    var target = number(p.target_take_rate);
    var progress =
      p.progress !== undefined && p.progress !== null
        ? number(p.progress)
        : target > 0 ? takeRate / target : 0;
    var homes = number(p.homes);
    var targetReached = p.ready_to_build !== undefined ? !!p.ready_to_build
      : p.is_ready_to_build !== undefined ? !!p.is_ready_to_build
      : homes > 0 && progress >= 1;
    return {
      id: p.id !== undefined ? p.id : feature.id,
      code: p.code || "",
      name: p.name || "",
      phase: p.phase || "",
      homes: homes,
      interests: number(p.interests),
      orders: number(p.orders),
      takeRate: takeRate,
      interestRate: number(p.interest_rate),
      target: target,
      progress: progress,
      targetReached: targetReached,
      // the flag asks for a decision: an area in deployment or live is being built already
      ready: targetReached && READY_PHASES.indexOf(p.phase) !== -1,
    };
  }

  function percent(fraction, digits) {
    return (fraction * 100).toFixed(digits === undefined ? 1 : digits).replace(/\.0$/, "") + "%";
  }

  function areasLayer(map, options) {
    options = L.extend(
      {
        url: "/api/areas/",
        colourBy: "phase",
        onSelect: null,
        filter: null,
        labels: true,
        labelMinZoom: 13,
        phases: DEFAULT_PHASES,
        interactive: true,
      },
      options || {}
    );
    var mode = options.colourBy === "take_rate" ? "take_rate" : "phase";
    var features = [];
    var byId = {};
    var selectedId = null;
    var listeners = { load: [], select: [], colour: [] };
    var legendHosts = [];

    function fire(name, value) {
      listeners[name].forEach(function (fn) {
        fn(value);
      });
    }

    function style(feature) {
      var f = figures(feature);
      var fill = mode === "phase" ? phaseColour(f.phase) : progressColour(f.progress);
      var selected = selectedId !== null && String(f.id) === String(selectedId);
      var stroke = mode === "phase" ? phaseColour(f.phase) : "#7b8794";
      var weight = 1.5;
      var dashArray = null;
      if (f.ready) {
        stroke = READY_OUTLINE;
        weight = 4;
      }
      if (selected) {
        stroke = SELECTED_OUTLINE;
        weight = f.ready ? 5 : 4;
        dashArray = f.ready ? "10 5" : null;
      }
      return {
        color: stroke,
        weight: weight,
        opacity: 1,
        dashArray: dashArray,
        fillColor: fill,
        fillOpacity: mode === "phase" ? (selected ? 0.45 : 0.3) : selected ? 0.75 : 0.6,
        className: "oanm-area oanm-area-" + f.phase + (f.ready ? " oanm-area-ready" : ""),
      };
    }

    function labelHtml(feature) {
      var f = figures(feature);
      return (
        '<span class="code">' + escapeHtml(f.code) + "</span>" +
        '<span class="rate">' + percent(f.takeRate) + (f.ready ? " ✓" : "") + "</span>"
      );
    }

    var layer = L.geoJSON(null, {
      style: style,
      filter: function (feature) {
        return options.filter ? options.filter(feature) : true;
      },
      interactive: options.interactive,
      onEachFeature: function (feature, featureLayer) {
        var f = figures(feature);
        byId[String(f.id)] = featureLayer;
        featureLayer.feature = feature;
        if (options.labels) {
          featureLayer.bindTooltip(labelHtml(feature), {
            permanent: true,
            direction: "center",
            className: "oanm-area-label",
            interactive: false,
          });
        }
        if (options.interactive) {
          featureLayer.on("click", function (event) {
            L.DomEvent.stopPropagation(event);
            api.select(f.id);
            if (options.onSelect) options.onSelect(feature, featureLayer, event);
          });
          featureLayer.on("mouseover", function () {
            if (String(f.id) !== String(selectedId)) featureLayer.setStyle({ weight: style(feature).weight + 1.5 });
          });
          featureLayer.on("mouseout", function () {
            featureLayer.setStyle(style(feature));
          });
        }
      },
    });

    function updateLabelVisibility() {
      var container = map.getContainer();
      var hidden = map.getZoom() < options.labelMinZoom;
      container.classList.toggle("oanm-area-labels-hidden", hidden);
    }
    map.on("zoomend", updateLabelVisibility);
    updateLabelVisibility();

    function fetchAll(url, collected) {
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("areas could not be loaded (HTTP " + response.status + ")");
          return response.json();
        })
        .then(function (data) {
          var batch = data.features || (data.results && data.results.features) || [];
          collected = collected.concat(batch);
          var next = data.next || (data.links && data.links.next);
          return next ? fetchAll(next, collected) : collected;
        });
    }

    function renderLegends() {
      legendHosts.forEach(function (host) {
        host.innerHTML = "";
        host.appendChild(api.legend());
      });
    }

    var api = {
      layer: layer,
      refresh: function () {
        return fetchAll(options.url, []).then(function (loaded) {
          features = loaded;
          byId = {};
          layer.clearLayers();
          layer.addData({ type: "FeatureCollection", features: loaded });
          if (selectedId !== null && !byId[String(selectedId)]) api.select(null);
          renderLegends();
          fire("load", features);
          return features;
        });
      },
      setColourBy: function (value) {
        mode = value === "take_rate" ? "take_rate" : "phase";
        layer.setStyle(style);
        renderLegends();
        fire("colour", mode);
        return api;
      },
      colourBy: function () {
        return mode;
      },
      features: function () {
        return features;
      },
      find: function (id) {
        return byId[String(id)] || null;
      },
      select: function (id) {
        selectedId = id === null || id === undefined ? null : id;
        layer.setStyle(style);
        var selectedLayer = selectedId === null ? null : api.find(selectedId);
        if (selectedLayer && selectedLayer.bringToFront) selectedLayer.bringToFront();
        fire("select", selectedLayer ? selectedLayer.feature : null);
        return api;
      },
      selected: function () {
        return selectedId;
      },
      fitTo: function (id, fitOptions) {
        var found = api.find(id);
        if (found) map.fitBounds(found.getBounds(), L.extend({ padding: [40, 40], maxZoom: 17 }, fitOptions || {}));
        return api;
      },
      bounds: function () {
        return layer.getLayers().length ? layer.getBounds() : null;
      },
      on: function (name, fn) {
        listeners[name].push(fn);
        return api;
      },
      legend: function () {
        var box = document.createElement("div");
        box.className = "areas-legend areas-legend-" + mode;
        var html = '<div class="legend-title">Areas · ' + (mode === "phase" ? "phase" : "take rate") + "</div>";
        if (mode === "phase") {
          var counts = {};
          features.forEach(function (feature) {
            var phase = figures(feature).phase;
            counts[phase] = (counts[phase] || 0) + 1;
          });
          options.phases.forEach(function (phase) {
            html +=
              '<div class="legend-row" data-phase="' + escapeHtml(phase.value) + '">' +
              '<span class="swatch" style="background:' + phaseColour(phase.value) + '"></span>' +
              escapeHtml(phase.label) +
              '<span class="legend-count">' + (counts[phase.value] || 0) + "</span></div>";
          });
        } else {
          var stops = [];
          for (var i = 0; i <= 20; i++) stops.push(progressColour(i / 10) + " " + i * 5 + "%");
          html +=
            '<div class="legend-gradient" style="background:linear-gradient(to right,' + stops.join(",") + ')"></div>' +
            '<div class="legend-scale"><span>0%</span><span>target</span><span>2× target</span></div>';
        }
        var ready = features.filter(function (feature) {
          return figures(feature).ready;
        }).length;
        html +=
          '<div class="legend-row legend-ready"><span class="swatch outline"></span>ready to build' +
          '<span class="legend-count">' + ready + "</span></div>";
        box.innerHTML = html;
        return box;
      },
      legendControl: function (controlOptions) {
        var Control = L.Control.extend({
          onAdd: function () {
            var host = L.DomUtil.create("div", "leaflet-bar oanm-legend");
            legendHosts.push(host);
            host.appendChild(api.legend());
            L.DomEvent.disableClickPropagation(host);
            return host;
          },
        });
        return new Control(L.extend({ position: "bottomright" }, controlOptions || {}));
      },
      remove: function () {
        map.off("zoomend", updateLabelVisibility);
        map.removeLayer(layer);
      },
    };

    layer.addTo(map);
    return api;
  }

  areasLayer.phaseColour = phaseColour;
  areasLayer.progressColour = progressColour;
  areasLayer.figures = figures;
  areasLayer.percent = percent;
  areasLayer.READY_OUTLINE = READY_OUTLINE;
  OANM.areasLayer = areasLayer;
})(window);
