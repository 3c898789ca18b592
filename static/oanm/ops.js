// The dispatchers' maps (/field/ops/): work orders as markers coloured by status, or a
// crew's route (depot, numbered stops, the tour line). Everything comes from the JSON in
// #ops-map-config; Leaflet is served from our own static/, so the pages work offline.
(function () {
  "use strict";

  const configElement = document.getElementById("ops-map-config");
  const element = document.getElementById("ops-map");

  function cssVariable(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function statusColour(status) {
    return cssVariable("--wo-" + status, "#616e7c");
  }

  function legendItem(colour, label, shape) {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = "swatch " + (shape || "dot");
    swatch.style.setProperty("--swatch", colour);
    item.append(swatch, document.createTextNode(label));
    return item;
  }

  function popup(marker) {
    const box = document.createElement("div");
    const title = document.createElement(marker.url ? "a" : "strong");
    if (marker.url) title.href = marker.url;
    title.textContent = (marker.n ? marker.n + ". " : "") + marker.ref;
    const where = document.createElement("div");
    where.textContent = marker.label || "";
    box.append(title, where);
    return box;
  }

  function baseLayer(map, config) {
    if (config.baseMap) {
      L.tileLayer(config.baseMap.url, { attribution: config.baseMap.attribution, maxZoom: 19 }).addTo(map);
    } else {
      element.classList.add("no-base-map");
    }
    map.attributionControl.setPrefix(false);
  }

  function drawWorkOrders(map, config, legend) {
    const points = [];
    const seen = new Set();
    config.markers.forEach((marker) => {
      const colour = statusColour(marker.status);
      L.circleMarker([marker.lat, marker.lon], {
        radius: 7, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.95,
      }).bindPopup(popup(marker)).addTo(map);
      points.push([marker.lat, marker.lon]);
      seen.add(marker.status);
    });
    Object.entries(config.statuses).forEach(([status, label]) => {
      if (seen.has(status)) legend.append(legendItem(statusColour(status), label));
    });
    return points;
  }

  function drawRoute(map, config, legend) {
    const points = [];
    if (config.depot) {
      const depot = [config.depot.lat, config.depot.lon];
      L.marker(depot, {
        icon: L.divIcon({ className: "ops-depot-icon", html: "<span></span>", iconSize: [18, 18] }),
        title: config.depot.name,
      }).bindPopup(config.depot.name).addTo(map);
      points.push(depot);
      legend.append(legendItem("#102a43", "depot " + config.depot.name, "area"));
    }
    config.stops.forEach((stop) => {
      const html = document.createElement("span");
      html.textContent = String(stop.n);
      html.style.background = statusColour(stop.status);
      L.marker([stop.lat, stop.lon], {
        icon: L.divIcon({ className: "ops-stop-icon", html: html, iconSize: [22, 22] }),
        title: stop.n + ". " + stop.ref,
      }).bindPopup(popup(stop)).addTo(map);
      points.push([stop.lat, stop.lon]);
    });
    if (config.depot && config.stops.length) {
      L.polyline(points.concat([points[0]]), { color: cssVariable("--accent", "#0b6e99"), weight: 3, opacity: 0.8 }).addTo(map);
      legend.append(legendItem(cssVariable("--accent", "#0b6e99"), "tour (straight lines)", "area"));
    }
    return points;
  }

  function draw() {
    if (!configElement || !element || typeof L === "undefined") return;
    const config = JSON.parse(configElement.textContent);
    const map = L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false });
    baseLayer(map, config);
    const legend = document.getElementById("ops-map-legend");
    const points = config.kind === "route" ? drawRoute(map, config, legend) : drawWorkOrders(map, config, legend);
    if (points.length === 1) {
      map.setView(points[0], 16);
    } else if (points.length) {
      map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 17 });
    } else {
      map.setView([52.545, 13.35], 13);
    }
    map.on("click", () => map.scrollWheelZoom.enable());
    element.dataset.ready = "true";
    element.dataset.markers = String(points.length);
  }

  function crewSwitch() {
    const select = document.querySelector("[data-route-switch]");
    if (select) select.addEventListener("change", () => { window.location.href = select.value; });
  }

  draw();
  crewSwitch();
})();
