/* The ISP portal's one script: the small map of an order's address (Leaflet from our own
   static/; the configured base map when there is one, else a plain grid). */
(function () {
  "use strict";

  function orderMap() {
    const element = document.getElementById("order-map");
    const configNode = document.getElementById("isp-map-config");
    if (!element || !configNode || typeof L === "undefined") return;
    const config = JSON.parse(configNode.textContent);
    if (config.lat === null || config.lon === null) return;
    const map = L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false });
    if (config.baseMap) {
      L.tileLayer(config.baseMap.url, { attribution: config.baseMap.attribution, maxZoom: 19 }).addTo(map);
    } else {
      element.classList.add("no-base-map");
    }
    map.attributionControl.setPrefix(false);
    const point = [config.lat, config.lon];
    map.setView(point, 17);
    L.circleMarker(point, { radius: 9, color: "#102a43", weight: 3, fillColor: "#f7c948", fillOpacity: 1 })
      .bindTooltip(config.label)
      .addTo(map);
    map.on("click", () => map.scrollWheelZoom.enable());
    element.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", orderMap);
})();
