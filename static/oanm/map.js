/*
 * The planners' area map (/map/): areas by phase or take rate, addresses and demand from
 * the vector tiles, a popup per area (figures, open, split, delete, phase moves), the split panel
 * (draw a line, half, share of orders; preview, then confirm) and the list of areas.
 *
 * Configuration comes from the page (<script id="map-config">, see areas/map_views.py);
 * the areas layer is the reusable OANM.areasLayer (areas-layer.js). `window.oanmMap`
 * exposes the parts (map, areas, split …) to other scripts and to the browser tests.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const params = new URLSearchParams(window.location.search);
  const escapeHtml = OANM.escapeHtml;
  const figuresOf = OANM.areasLayer.figures;
  const percent = OANM.areasLayer.percent;
  const phaseLabels = Object.fromEntries(config.phases.map((p) => [p.value, p.label]));

  const ADDRESS_COLOURS = {
    planned: "#829ab1",
    awaiting_deployment: "#f7c948",
    in_deployment: "#2186eb",
    connected: "#3ebd93",
    activated: "#0c6b58",
  };
  const DEMAND_COLOURS = { interest: "#805ad5", order: "#e53e3e" };
  const PART_COLOURS = ["#6b46c1", "#dd6b20"];
  const HEAT_STOPS = [[0.2, "#4c51bf"], [0.45, "#805ad5"], [0.65, "#ed64a6"], [0.85, "#f6ad55"], [1, "#fff5b1"]];
  const HEAT_GRADIENT = Object.fromEntries(HEAT_STOPS);

  // keeps what is zoomed to clear of the switches (top right) and the legend (bottom right)
  const VIEW_PADDING = { paddingTopLeft: [40, 40], paddingBottomRight: [250, 40], maxZoom: 17 };

  // ---------------------------------------------------------------- small helpers

  function url(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(values[key]));
  }

  function csrfToken() {
    const cookie = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
    if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /** A write to our API (with the CSRF token); resolves {ok, status, data}; `data.detail`
   * carries the message (null data for a 204). */
  async function sendJson(method, target, body) {
    let response;
    try {
      response = await fetch(target, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, data: { detail: "the server could not be reached" } };
    }
    if (response.status === 204) return { ok: true, status: 204, data: null };
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = { detail: `the server answered ${response.status} without a message` };
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  /** POST JSON to our API; resolves {ok, status, data}. */
  function postJson(target, body) {
    return sendJson("POST", target, body);
  }

  function errorMessage(data) {
    if (!data) return "something went wrong";
    if (typeof data.detail === "string") return data.detail;
    if (typeof data.message === "string") return data.message;
    const firstField = Object.keys(data).find((key) => key !== "code");
    if (firstField) {
      const value = data[firstField];
      return `${firstField}: ${Array.isArray(value) ? value.join(" ") : value}`;
    }
    return "something went wrong";
  }

  /** Where a click on a tile feature happened (VectorGrid's points carry no latlng of their own). */
  function eventLatLng(event) {
    return event.latlng || map.mouseEventToLatLng(event.originalEvent);
  }

  function sentence(text) {
    const trimmed = String(text).trim();
    const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  }

  function count(value) {
    return Number(value || 0).toLocaleString("en");
  }

  function plural(value, noun) {
    return `${count(value)} ${noun}${Number(value) === 1 ? "" : "s"}`;
  }

  const flashBox = document.querySelector("[data-map-flash]");
  let flashTimer = null;
  function flash(message, kind) {
    flashBox.textContent = message;
    flashBox.className = "map-flash " + (kind || "info");
    flashBox.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => (flashBox.hidden = true), kind === "error" ? 12000 : 8000);
  }
  flashBox.addEventListener("click", () => (flashBox.hidden = true));

  // ---------------------------------------------------------------- the map

  const map = L.map("area-map", {
    zoomControl: false,
    minZoom: 4,
    maxZoom: config.baseMap ? 19 : 20,
    zoomSnap: 0.5,
    wheelPxPerZoomLevel: 90,
  });
  L.control.zoom({ position: "topleft" }).addTo(map);
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  map.createPane("oanm-demand-heat").style.zIndex = 430;
  map.createPane("oanm-addresses").style.zIndex = 440;
  map.createPane("oanm-demand").style.zIndex = 450;
  map.createPane("oanm-split").style.zIndex = 460;

  if (config.baseMap) {
    L.tileLayer(config.baseMap.url, { attribution: config.baseMap.attribution, maxZoom: 19 }).addTo(map);
  } else {
    map.getContainer().classList.add("no-base-map");
    map.attributionControl.addAttribution("no base map configured");
  }
  // no view yet: the layers wait for the areas' extent (set when they are loaded), so no
  // tiles are fetched for a view nobody asked for
  const EMPTY_VIEW = { center: [51.0, 10.0], zoom: 5 };

  // ---------------------------------------------------------------- areas

  const popup = L.popup({ maxWidth: 340, minWidth: 280, autoPanPadding: [40, 40], className: "area-popup" });
  const areas = OANM.areasLayer(map, {
    url: config.urls.areas,
    colourBy: params.get("colour") === "take_rate" ? "take_rate" : "phase",
    phases: config.phases,
    onSelect: (feature, layer, event) => {
      // while an area is being split, it stays the selected one
      if (split.active()) areas.select(split.state.areaId);
      else openPopup(feature, event ? event.latlng : null);
    },
  });

  function areaFeature(id) {
    const layer = areas.find(id);
    return layer ? layer.feature : null;
  }

  function popupHtml(feature) {
    const f = figuresOf(feature);
    const progressWidth = Math.min(100, f.progress * 100);
    const moves = config.isOperator ? config.transitions[f.phase] || [] : [];
    let html =
      `<div class="area-popup-body" data-area-id="${escapeHtml(f.id)}">` +
      `<h3><span class="code">${escapeHtml(f.code)}</span>` +
      (f.name && f.name !== f.code ? ` <span class="name">${escapeHtml(f.name)}</span>` : "") +
      `</h3><p class="badges"><span class="badge phase-${escapeHtml(f.phase)}">${escapeHtml(phaseLabels[f.phase] || f.phase)}</span>` +
      (f.ready ? ' <span class="badge ready">ready to build</span>' : "") +
      `</p><table class="figures">` +
      `<tr><th>Homes</th><td data-figure="homes">${count(f.homes)}</td></tr>` +
      `<tr><th>Interests</th><td data-figure="interests">${count(f.interests)} <small>(${percent(f.interestRate)} of homes)</small></td></tr>` +
      `<tr><th>Orders</th><td data-figure="orders">${count(f.orders)}</td></tr>` +
      `<tr><th>Take rate</th><td data-figure="take_rate"><b>${percent(f.takeRate)}</b> of ${percent(f.target)} target</td></tr>` +
      `</table>` +
      `<div class="progress${f.ready ? " done" : ""}" title="${percent(f.progress, 0)} of the target" aria-label="progress to target">` +
      `<span style="width:${progressWidth}%"></span></div>` +
      `<p class="progress-caption">${percent(f.progress, 0)} of the way to the target</p>` +
      `<div class="popup-actions"><a class="button" href="${url(config.urls.areaPage, { id: f.id })}" data-action="open">Open</a>`;
    if (config.isOperator) {
      html += ` <button type="button" data-action="split">Split…</button>`;
      // only an area still in planning can be deleted (one drawn by mistake); the server
      // also refuses one with a standing signup, and says so
      if (f.phase === "planning") html += ` <button type="button" class="danger" data-action="delete">Delete area…</button>`;
    }
    html += `</div>`;
    if (moves.length) {
      html +=
        `<div class="phase-moves"><span class="label">Move to</span>` +
        moves.map((to) => `<button type="button" data-phase="${escapeHtml(to)}" class="phase-button phase-${escapeHtml(to)}">${escapeHtml(phaseLabels[to] || to)}</button>`).join(" ") +
        `<input type="text" data-phase-reason placeholder="reason (optional)" aria-label="Reason for the phase change">` +
        `</div>`;
    }
    html += `<p class="popup-error error" data-popup-error role="alert" hidden></p></div>`;
    return html;
  }

  function openPopup(feature, latlng) {
    const layer = areas.find(figuresOf(feature).id);
    const at = latlng || (layer ? layer.getBounds().getCenter() : null);
    if (!at) return;
    popup.setLatLng(at).setContent(popupHtml(feature)).openOn(map);
    bindPopupButtons();
  }

  map.on("popupclose", (event) => {
    if (event.popup === popup && !split.active()) areas.select(null);
  });

  function bindPopupButtons() {
    const root = popup.getElement();
    if (!root) return;
    root.querySelectorAll("[data-phase]").forEach((button) =>
      button.addEventListener("click", () => movePhase(button.dataset.phase))
    );
    const splitButton = root.querySelector("[data-action=split]");
    if (splitButton) splitButton.addEventListener("click", () => split.start(areas.selected()));
    const deleteButton = root.querySelector("[data-action=delete]");
    if (deleteButton) deleteButton.addEventListener("click", () => deleteArea(root.querySelector("[data-area-id]").dataset.areaId));
  }

  /** Delete the area of the popup (after a confirm): DELETE /api/areas/{id}/; on a refusal
   * (409: not in planning, a standing signup) the server's message shows in the popup. */
  async function deleteArea(id) {
    const feature = areaFeature(id);
    if (!feature) return null;
    const f = figuresOf(feature);
    const title = f.name && f.name !== f.code ? `${f.code} ${f.name}` : f.code;
    const question =
      `Delete area ${title}? It goes off the map and the lists (kept in history), ` +
      `its addresses go to the area around them, and its code stays taken.`;
    if (!window.confirm(question)) return null;
    const root = popup.getElement();
    const errorBox = root ? root.querySelector("[data-popup-error]") : null;
    const button = root ? root.querySelector("[data-action=delete]") : null;
    if (button) button.disabled = true;
    const result = await sendJson("DELETE", url(config.urls.area, { id: id }));
    if (!result.ok) {
      if (errorBox) {
        errorBox.textContent = errorMessage(result.data);
        errorBox.hidden = false;
      } else flash(errorMessage(result.data), "error");
      if (button) button.disabled = false;
      return result;
    }
    map.closePopup(popup);
    areas.select(null);
    try {
      await areas.refresh();
    } catch (error) {
      flash(error.message, "error");
      return result;
    }
    flash(`Area ${f.code} was deleted.`, "success");
    if (layerState.addresses) addresses.redraw();
    if (layerState.demand) showDemand();
    return result;
  }

  async function movePhase(to) {
    const id = areas.selected();
    const root = popup.getElement();
    const errorBox = root.querySelector("[data-popup-error]");
    const reasonInput = root.querySelector("[data-phase-reason]");
    root.querySelectorAll("[data-phase]").forEach((b) => (b.disabled = true));
    const result = await postJson(url(config.urls.phase, { id: id }), {
      phase: to,
      reason: reasonInput ? reasonInput.value : "",
    });
    if (!result.ok) {
      errorBox.textContent = errorMessage(result.data);
      errorBox.hidden = false;
      root.querySelectorAll("[data-phase]").forEach((b) => (b.disabled = false));
      return;
    }
    const code = figuresOf(areaFeature(id)).code;
    await areas.refresh();
    flash(`Area ${code} moved to ${phaseLabels[to] || to}.`, "success");
    const feature = areaFeature(id);
    if (feature) {
      areas.select(id);
      openPopup(feature, popup.getLatLng());
    }
  }

  // ---------------------------------------------------------------- addresses (vector tiles)

  /*
   * VectorGrid's points have no latlng, and Leaflet ≥ 1.8 asks a clicked point for one
   * (it takes small circles for markers): give them one, from their tile and pixel.
   */
  const TileGrid = L.VectorGrid.Protobuf.extend({
    _createLayer: function (feature, pxPerExtent) {
      const layer = L.VectorGrid.Protobuf.prototype._createLayer.call(this, feature, pxPerExtent);
      layer.featureId = feature.id; // the address id of a point (cells have none)
      if (feature.type === 1 && layer._point) {
        const grid = this;
        layer.getLatLng = function () {
          const tile = this._renderer.getCoord();
          const size = grid.getTileSize();
          return map.unproject(L.point(tile.x * size.x + this._point.x, tile.y * size.y + this._point.y), tile.z);
        };
      }
      return layer;
    },
  });
  const tileGrid = (tileUrl, options) => new TileGrid(tileUrl, options);

  // Cells are 16 px wide (1/16 of a tile): circles stay within about one cell
  function clusterRadius(total, largest) {
    return Math.max(3, Math.min(largest, 2.5 + Math.sqrt(total) * 0.9));
  }

  const addresses = tileGrid(config.urls.addressTiles, {
    pane: "oanm-addresses",
    rendererFactory: L.svg.tile,
    interactive: true,
    maxNativeZoom: 18,
    fetchOptions: { credentials: "same-origin" },
    vectorTileLayerStyles: {
      addresses: (properties, zoom) => {
        const colour = ADDRESS_COLOURS[properties.status] || "#52606d";
        if (properties.count === undefined) {
          // one address (from zoom 14); below, a cell of them with its count
          const units = Number(properties.units || 1);
          const base = zoom >= 17 ? 5.5 : zoom >= 16 ? 4.5 : zoom >= 15 ? 3.5 : 2.8;
          return {
            radius: units > 1 ? Math.min(9, base + Math.sqrt(units) * 0.8) : base,
            weight: 1,
            color: "#ffffff",
            opacity: 0.9,
            fill: true,
            fillColor: colour,
            fillOpacity: 0.95,
          };
        }
        const total = Number(properties.count || properties.homes || 1);
        return {
          radius: clusterRadius(total, 10),
          weight: 1,
          color: "#ffffff",
          opacity: 0.8,
          fill: true,
          fillColor: colour,
          fillOpacity: 0.7,
        };
      },
    },
  });
  addresses.on("click", (event) => {
    const p = event.layer.properties || {};
    let html;
    if (p.count === undefined) {
      html =
        `<b>${escapeHtml(p.label || "Address " + event.layer.featureId)}</b><br>` +
        `${escapeHtml((p.status || "").replace(/_/g, " "))}` +
        (Number(p.units) > 1 ? ` · ${escapeHtml(p.units)} units` : "") +
        (p.premises_type ? ` · ${escapeHtml(String(p.premises_type).replace(/_/g, " "))}` : "");
    } else {
      const parts = config.addressStatuses
        .filter((s) => Number(p[s.value]) > 0)
        .map((s) => `${count(p[s.value])} ${escapeHtml(s.label)}`);
      html = `<b>${count(p.count)} addresses</b>` + (p.homes ? ` · ${count(p.homes)} homes` : "") + (parts.length ? `<br>${parts.join(", ")}` : "");
    }
    L.popup({ className: "address-popup" }).setLatLng(eventLatLng(event)).setContent(html).openOn(map);
    L.DomEvent.stopPropagation(event);
  });

  // ---------------------------------------------------------------- demand (points or heat)

  const demandState = { mode: params.get("demand") === "heat" ? "heat" : "points", interest: true, order: true, areaOnly: false };

  function demandUrl() {
    const template = config.urls.demandTiles;
    const area = demandState.areaOnly && areas.selected() !== null ? areas.selected() : null;
    return area === null ? template : `${template}?area=${encodeURIComponent(area)}`;
  }

  function demandWeights(properties) {
    // a point has a kind; an aggregated cell counts interests and orders
    if (properties.kind) {
      return { interest: properties.kind === "interest" ? 1 : 0, order: properties.kind === "order" ? 1 : 0 };
    }
    return {
      interest: Number(properties.interests || properties.interest || 0),
      order: Number(properties.orders || properties.order || 0),
    };
  }

  function shownWeight(properties) {
    const w = demandWeights(properties);
    return (demandState.interest ? w.interest : 0) + (demandState.order ? w.order : 0);
  }

  function demandStyle(properties, zoom) {
    const weights = demandWeights(properties);
    const shown = shownWeight(properties);
    if (!shown) return [];
    if (properties.kind) {
      const isOrder = properties.kind === "order";
      const base = zoom >= 17 ? 6.5 : zoom >= 16 ? 5.5 : zoom >= 15 ? 4.5 : 3.5;
      return {
        radius: isOrder ? base : base - 0.5,
        weight: isOrder ? 1 : 1.5,
        color: isOrder ? "#ffffff" : DEMAND_COLOURS.interest,
        opacity: 1,
        fill: true,
        fillColor: isOrder ? DEMAND_COLOURS.order : "#ffffff",
        fillOpacity: isOrder ? 0.95 : 0.85,
      };
    }
    const orderShare = demandState.order ? weights.order / shown : 0;
    return {
      radius: clusterRadius(shown, 8),
      weight: 1.5,
      color: "#ffffff",
      opacity: 0.9,
      fill: true,
      fillColor: orderShare >= 0.5 ? DEMAND_COLOURS.order : DEMAND_COLOURS.interest,
      fillOpacity: 0.75,
    };
  }

  function makeDemandPoints() {
    const layer = tileGrid(demandUrl(), {
      pane: "oanm-demand",
      rendererFactory: L.svg.tile,
      interactive: true,
      maxNativeZoom: 18,
      fetchOptions: { credentials: "same-origin" },
      vectorTileLayerStyles: { demand: demandStyle },
    });
    layer.on("click", (event) => {
      const p = event.layer.properties || {};
      const w = demandWeights(p);
      const html = p.kind
        ? `<b>${p.kind === "order" ? "Order" : "Interest"}</b>` + (p.at ? ` since ${escapeHtml(p.at)}` : "") + (p.label ? `<br>${escapeHtml(p.label)}` : "")
        : `<b>${plural(w.order, "order")} · ${plural(w.interest, "interest")}</b> around here`;
      L.popup({ className: "address-popup" }).setLatLng(eventLatLng(event)).setContent(html).openOn(map);
      L.DomEvent.stopPropagation(event);
    });
    return layer;
  }

  /** A heat layer fed from the demand tiles in view (decoded by VectorGrid's own reader). */
  const heat = (function () {
    // leaflet-heat always draws in the overlay pane: move its canvas into our own pane
    const PaneHeatLayer = L.HeatLayer.extend({
      onAdd: function (target) {
        L.HeatLayer.prototype.onAdd.call(this, target);
        target.getPane(this.options.pane).appendChild(this._canvas);
      },
      onRemove: function (target) {
        target.getPanes().overlayPane.appendChild(this._canvas);
        L.HeatLayer.prototype.onRemove.call(this, target);
      },
      // nothing to draw off the map (leaflet-heat would read the absent map's state)
      redraw: function () {
        return this._map ? L.HeatLayer.prototype.redraw.call(this) : this;
      },
      // a redraw scheduled for the next frame may find the layer removed by then
      _redraw: function () {
        if (!this._map) {
          this._frame = null;
          return;
        }
        L.HeatLayer.prototype._redraw.call(this);
      },
    });
    const layer = new PaneHeatLayer([], { pane: "oanm-demand-heat", radius: 22, blur: 18, minOpacity: 0.25, gradient: HEAT_GRADIENT });
    const cache = new Map();
    let fetcher = L.vectorGrid.protobuf(demandUrl(), { fetchOptions: { credentials: "same-origin" } });
    let generation = 0;

    function tileZoom() {
      return Math.max(0, Math.min(18, Math.round(map.getZoom())));
    }

    function tilePoints(coords) {
      const key = `${demandUrl()}|${coords.z}/${coords.x}/${coords.y}`;
      if (!cache.has(key)) {
        cache.set(
          key,
          fetcher._getVectorTilePromise(coords).then((tile) => {
            const points = [];
            const data = tile.layers && tile.layers.demand;
            if (!data) return points;
            const extent = data.extent || 4096;
            const scale = 256 / extent;
            data.features.forEach((feature) => {
              const rings = feature.geometry || [];
              const first = rings[0] && rings[0][0] ? rings[0][0] : rings[0];
              // a point in the tile's buffer belongs to the next tile: count it there only
              if (!first || first.x < 0 || first.y < 0 || first.x >= extent || first.y >= extent) return;
              const latlng = map.unproject(
                [coords.x * 256 + first.x * scale, coords.y * 256 + first.y * scale],
                coords.z
              );
              points.push({ latlng: latlng, properties: feature.properties });
            });
            return points;
          })
        );
      }
      return cache.get(key);
    }

    async function redraw() {
      if (!map._loaded || !map.hasLayer(layer)) return;
      const mine = ++generation;
      const z = tileZoom();
      const bounds = map.getPixelBounds(map.getCenter(), z);
      const min = bounds.min.divideBy(256).floor();
      const max = bounds.max.divideBy(256).floor();
      const jobs = [];
      const limit = Math.pow(2, z);
      for (let x = min.x; x <= max.x; x++) {
        for (let y = min.y; y <= max.y; y++) {
          if (y < 0 || y >= limit) continue;
          jobs.push(tilePoints({ x: ((x % limit) + limit) % limit, y: y, z: z }));
        }
      }
      const tiles = await Promise.all(jobs.map((job) => job.catch(() => [])));
      if (mine !== generation || !map.hasLayer(layer) || !layer._map) return;
      const data = [];
      let strongest = 0;
      tiles.flat().forEach((point) => {
        const weight = shownWeight(point.properties);
        if (!weight) return;
        strongest = Math.max(strongest, weight);
        data.push([point.latlng.lat, point.latlng.lng, weight]);
      });
      layer.setOptions({ max: Math.max(1, strongest * 0.8) });
      layer.setLatLngs(data);
      heatState.points = data.length;
    }

    const heatState = {
      layer: layer,
      points: 0,
      redraw: redraw,
      reset: () => {
        cache.clear();
        fetcher = L.vectorGrid.protobuf(demandUrl(), { fetchOptions: { credentials: "same-origin" } });
        return redraw();
      },
    };
    map.on("moveend", redraw);
    layer.on("add", redraw);
    return heatState;
  })();

  let demandPoints = makeDemandPoints();
  const demandGroup = L.layerGroup();

  function showDemand() {
    demandGroup.clearLayers();
    if (demandState.mode === "heat") {
      demandGroup.addLayer(heat.layer);
      heat.reset();
    } else {
      demandPoints = makeDemandPoints();
      demandGroup.addLayer(demandPoints);
    }
    renderLegend();
  }

  // ---------------------------------------------------------------- layer switches and legend

  const layerState = {
    areas: params.get("areas") !== "off",
    addresses: params.get("addresses") !== "off",
    demand: params.get("demand") !== "off",
  };

  const LayersControl = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      const box = L.DomUtil.create("div", "leaflet-bar oanm-layers");
      box.innerHTML =
        `<fieldset><legend>Layers</legend>` +
        `<label class="layer-toggle"><input type="checkbox" data-layer="areas"> Areas</label>` +
        `<div class="choice" role="radiogroup" aria-label="Colour areas by">` +
        `<label><input type="radio" name="colour-by" value="phase" data-colour-by> Phase</label>` +
        `<label><input type="radio" name="colour-by" value="take_rate" data-colour-by> Take rate</label></div>` +
        `<label class="layer-toggle"><input type="checkbox" data-layer="addresses"> Addresses</label>` +
        `<label class="layer-toggle"><input type="checkbox" data-layer="demand"> Demand</label>` +
        `<div class="choice" role="radiogroup" aria-label="Show demand as">` +
        `<label><input type="radio" name="demand-mode" value="points" data-demand-mode> Points</label>` +
        `<label><input type="radio" name="demand-mode" value="heat" data-demand-mode> Heat map</label></div>` +
        `<div class="choice"><label><input type="checkbox" data-demand-kind="interest"> Interests</label>` +
        `<label><input type="checkbox" data-demand-kind="order"> Orders</label></div>` +
        `<label class="area-only"><input type="checkbox" data-demand-area-only> Selected area only</label>` +
        `</fieldset>`;
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });
  const layersControl = new LayersControl().addTo(map);
  const layersBox = layersControl.getContainer();

  function applyLayers() {
    [["areas", areas.layer], ["addresses", addresses], ["demand", demandGroup]].forEach(([name, layer]) => {
      if (layerState[name] && !map.hasLayer(layer)) map.addLayer(layer);
      if (!layerState[name] && map.hasLayer(layer)) map.removeLayer(layer);
    });
    if (layerState.demand && demandState.mode === "heat") heat.redraw();
    renderLegend();
  }

  layersBox.querySelectorAll("[data-layer]").forEach((input) => {
    input.checked = layerState[input.dataset.layer];
    input.addEventListener("change", () => {
      layerState[input.dataset.layer] = input.checked;
      applyLayers();
    });
  });
  layersBox.querySelectorAll("[data-colour-by]").forEach((input) => {
    input.checked = input.value === areas.colourBy();
    input.addEventListener("change", () => input.checked && areas.setColourBy(input.value));
  });
  layersBox.querySelectorAll("[data-demand-mode]").forEach((input) => {
    input.checked = input.value === demandState.mode;
    input.addEventListener("change", () => {
      if (!input.checked) return;
      demandState.mode = input.value;
      showDemand();
    });
  });
  layersBox.querySelectorAll("[data-demand-kind]").forEach((input) => {
    input.checked = demandState[input.dataset.demandKind];
    input.addEventListener("change", () => {
      demandState[input.dataset.demandKind] = input.checked;
      if (demandState.mode === "heat") heat.redraw();
      else demandPoints.redraw();
      renderLegend();
    });
  });
  const areaOnlyInput = layersBox.querySelector("[data-demand-area-only]");
  areaOnlyInput.addEventListener("change", () => {
    demandState.areaOnly = areaOnlyInput.checked;
    showDemand();
  });
  areas.on("select", () => {
    areaOnlyInput.disabled = areas.selected() === null;
    if (demandState.areaOnly) showDemand();
  });
  areaOnlyInput.disabled = true;

  const LegendControl = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: function () {
      const box = L.DomUtil.create("div", "leaflet-bar oanm-legend");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });
  const legendControl = new LegendControl().addTo(map);

  function renderLegend() {
    const box = legendControl.getContainer();
    box.innerHTML = "";
    if (layerState.areas) box.appendChild(areas.legend());
    if (layerState.addresses) {
      const section = document.createElement("div");
      section.className = "addresses-legend";
      section.innerHTML =
        `<div class="legend-title">Addresses · status</div><div>` +
        config.addressStatuses
          .map((s) => `<div class="legend-row" data-status="${escapeHtml(s.value)}"><span class="swatch dot" style="background:${ADDRESS_COLOURS[s.value] || "#52606d"}"></span>${escapeHtml(s.label)}</div>`)
          .join("") +
        `</div><div class="legend-note">zoomed out: circles sized by the number of addresses</div>`;
      box.appendChild(section);
    }
    if (layerState.demand) {
      const section = document.createElement("div");
      section.className = "demand-legend";
      if (demandState.mode === "heat") {
        const stops = HEAT_STOPS.map(([at, colour]) => `${colour} ${Math.round(at * 100)}%`);
        section.innerHTML =
          `<div class="legend-title">Demand · heat map</div>` +
          `<div class="legend-gradient" style="background:linear-gradient(to right,#4c51bf00 0%,${stops.join(",")})"></div>` +
          `<div class="legend-scale"><span>fewer</span><span>${[demandState.interest && "interests", demandState.order && "orders"].filter(Boolean).join(" + ") || "nothing shown"}</span><span>more</span></div>`;
      } else {
        section.innerHTML =
          `<div class="legend-title">Demand · points</div><div class="legend-rows">` +
          (demandState.interest ? `<div class="legend-row" data-kind="interest"><span class="swatch dot ring" style="border-color:${DEMAND_COLOURS.interest}"></span>interest</div>` : "") +
          (demandState.order ? `<div class="legend-row" data-kind="order"><span class="swatch dot" style="background:${DEMAND_COLOURS.order}"></span>order</div>` : "") +
          `</div><div class="legend-note">zoomed out: circles sized by count</div>`;
      }
      box.appendChild(section);
    }
    box.hidden = !box.childElementCount;
  }
  areas.on("load", renderLegend);
  areas.on("colour", () => {
    renderLegend();
    renderList();
  });

  // ---------------------------------------------------------------- the list of areas

  const listBox = document.querySelector("[data-area-rows]");
  const searchInput = document.querySelector("[data-area-search]");
  const sortSelect = document.querySelector("[data-area-sort]");
  const countBox = document.querySelector("[data-area-count]");

  function renderList() {
    const query = searchInput.value.trim().toLowerCase();
    const [key, direction] = sortSelect.value.split(":");
    const rows = areas
      .features()
      .map(figuresOf)
      .filter((f) => !query || f.code.toLowerCase().includes(query) || f.name.toLowerCase().includes(query));
    const field = { take_rate: "takeRate", progress: "progress", orders: "orders", homes: "homes", code: "code" }[key];
    rows.sort((a, b) => {
      const order = field === "code" ? a.code.localeCompare(b.code, "en", { numeric: true }) : a[field] - b[field];
      return (direction === "desc" ? -order : order) || a.code.localeCompare(b.code, "en", { numeric: true });
    });
    countBox.textContent = query ? `${rows.length} of ${areas.features().length}` : `${rows.length}`;
    const selected = areas.selected();
    listBox.innerHTML = rows
      .map((f) => {
        const colour = areas.colourBy() === "phase" ? OANM.areasLayer.phaseColour(f.phase) : OANM.areasLayer.progressColour(f.progress);
        return (
          `<li><button type="button" class="area-row${String(f.id) === String(selected) ? " selected" : ""}${f.ready ? " ready" : ""}" data-area-id="${escapeHtml(f.id)}">` +
          `<span class="swatch" style="background:${colour}"></span>` +
          `<span class="title"><span class="code">${escapeHtml(f.code)}</span>` +
          (f.name && f.name !== f.code ? ` <span class="name">${escapeHtml(f.name)}</span>` : "") +
          (f.ready ? ' <span class="badge ready" title="take rate reached the target">ready to build</span>' : "") +
          `</span><span class="rate">${percent(f.takeRate)}</span>` +
          `<span class="phase">${escapeHtml(phaseLabels[f.phase] || f.phase)}</span>` +
          `<span class="mini-progress${f.ready ? " done" : ""}" title="${percent(f.progress, 0)} of the target"><span style="width:${Math.min(100, f.progress * 100)}%"></span></span>` +
          `<span class="sub">${plural(f.orders, "order")} · ${plural(f.homes, "home")} · target ${percent(f.target, 0)}</span>` +
          `</button></li>`
        );
      })
      .join("");
    if (!rows.length) listBox.innerHTML = `<li class="empty">${areas.features().length ? "No area matches." : "No areas yet."}</li>`;
  }

  listBox.addEventListener("click", (event) => {
    const button = event.target.closest("[data-area-id]");
    if (!button) return;
    focusArea(button.dataset.areaId);
  });
  searchInput.addEventListener("input", renderList);
  sortSelect.addEventListener("change", renderList);
  areas.on("load", renderList);
  areas.on("select", renderList);

  function focusArea(id, options) {
    options = options || {};
    const feature = areaFeature(id);
    if (!feature) return false;
    // the popup waits for the map to get there (at once when not animated)
    if (!options.noPopup) map.once("moveend", () => openPopup(feature));
    areas.fitTo(id, Object.assign({}, VIEW_PADDING, { animate: options.animate !== false }));
    areas.select(id);
    return true;
  }

  // ---------------------------------------------------------------- splitting

  const split = (function () {
    const panel = document.getElementById("split-panel");
    const message = panel.querySelector("[data-split-message]");
    const previewBox = panel.querySelector("[data-split-preview]");
    const partsBody = panel.querySelector("[data-split-parts]");
    const confirmButton = panel.querySelector("[data-split-confirm]");
    const shareInput = panel.querySelector("[data-share]");
    const shareOutput = panel.querySelector("#split-share-value");
    const shareAxis = panel.querySelector("[data-share-axis]");
    const reasonInput = panel.querySelector("[data-split-reason]");
    const previewLayer = L.featureGroup([], { pane: "oanm-split" }).addTo(map);
    const state = { areaId: null, mode: "line", request: null, preview: null, busy: false };
    let drawer = null;

    L.drawLocal.draw.handlers.polyline.tooltip = {
      start: "Click outside the area to start the split line.",
      cont: "Click to add a point; cross the whole area.",
      end: "Click the last point again (or Finish line) to preview.",
    };

    function say(text, kind) {
      message.textContent = text || "";
      message.className = "split-message" + (kind ? " " + kind : "");
    }

    function clearPreview() {
      previewLayer.clearLayers();
      previewBox.hidden = true;
      partsBody.innerHTML = "";
      state.preview = null;
      state.request = null;
    }

    function stopDrawing() {
      if (drawer) drawer.disable();
      drawer = null;
    }

    function startDrawing() {
      stopDrawing();
      clearPreview();
      drawer = new L.Draw.Polyline(map, {
        shapeOptions: { color: "#102a43", weight: 3, opacity: 0.9, dashArray: "6 6" },
        allowIntersection: true,
        showLength: true,
        metric: true,
        feet: false,
      });
      drawer.enable();
    }

    map.on(L.Draw.Event.CREATED, (event) => {
      if (!state.areaId) return;
      const points = event.layer.getLatLngs().map((p) => [p.lng, p.lat]);
      drawer = null;
      previewLine({ type: "LineString", coordinates: points });
    });

    function setMode(mode) {
      state.mode = mode;
      panel.querySelectorAll("[data-split-mode]").forEach((tab) => tab.setAttribute("aria-selected", String(tab.dataset.splitMode === mode)));
      panel.querySelectorAll("[data-split-body]").forEach((body) => (body.hidden = body.dataset.splitBody !== mode));
      clearPreview();
      say("");
      if (mode === "line") startDrawing();
      else stopDrawing();
    }

    function start(id, options) {
      options = options || {};
      if (!config.isOperator) return;
      const feature = areaFeature(id);
      if (!feature) {
        flash("That area is not on the map (it may have been split already).", "error");
        return;
      }
      state.areaId = String(figuresOf(feature).id);
      map.closePopup();
      areas.select(state.areaId);
      areas.fitTo(state.areaId, Object.assign({}, VIEW_PADDING, { animate: options.animate !== false }));
      panel.querySelector("[data-split-area]").textContent = figuresOf(feature).code;
      reasonInput.value = "";
      panel.hidden = false;
      document.body.classList.add("splitting");
      setMode(state.mode);
    }

    function cancel() {
      stopDrawing();
      clearPreview();
      say("");
      panel.hidden = true;
      document.body.classList.remove("splitting");
      state.areaId = null;
    }

    function partFigures(feature, index) {
      const p = feature.properties || {};
      return {
        label: p.code || p.name || `Part ${index === 0 ? "A" : "B"}`,
        side: p.side && p.side.length > 1 ? p.side : "",
        homes: Number(p.homes || 0),
        orders: Number(p.orders || 0),
        takeRate: Number(p.take_rate || 0),
      };
    }

    async function request(body) {
      if (!state.areaId || state.busy) return null;
      state.busy = true;
      panel.classList.add("busy");
      say("Working out both parts…");
      const result = await postJson(url(config.urls.split, { id: state.areaId }), body);
      state.busy = false;
      panel.classList.remove("busy");
      return result;
    }

    async function preview(body) {
      clearPreview();
      const result = await request(Object.assign({}, body, { preview: true }));
      if (!result) return null;
      if (!result.ok) {
        say(errorMessage(result.data), "error");
        if (state.mode === "line") startDrawing();
        return result;
      }
      const parts = (result.data && result.data.features) || [];
      state.request = body;
      state.preview = result.data;
      parts.forEach((feature, index) => {
        const f = partFigures(feature, index);
        L.geoJSON(feature, {
          pane: "oanm-split",
          interactive: false,
          style: { color: PART_COLOURS[index % 2], weight: 3, fillColor: PART_COLOURS[index % 2], fillOpacity: 0.35, className: "split-part split-part-" + index },
        })
          .bindTooltip(
            `<span class="code">${escapeHtml(f.label)}</span><span class="rate">${plural(f.orders, "order")} / ${plural(f.homes, "home")} · ${percent(f.takeRate)}</span>`,
            { permanent: true, direction: "center", className: "oanm-area-label split-part-label" }
          )
          .addTo(previewLayer);
      });
      const line = (result.data && result.data.line) || body.line;
      if (line) {
        L.geoJSON(line, { pane: "oanm-split", interactive: false, style: { color: "#102a43", weight: 2, dashArray: "6 6" } }).addTo(previewLayer);
      }
      partsBody.innerHTML = parts
        .map((feature, index) => {
          const f = partFigures(feature, index);
          return (
            `<tr data-part="${index}"><td><span class="swatch" style="background:${PART_COLOURS[index % 2]}"></span>${escapeHtml(f.label)}` +
            (f.side ? `<small class="side">${escapeHtml(f.side)}</small>` : "") +
            `</td>` +
            `<td class="num">${count(f.homes)}</td><td class="num">${count(f.orders)}</td><td class="num">${percent(f.takeRate)}</td></tr>`
          );
        })
        .join("");
      previewBox.hidden = false;
      const note = result.data && result.data.note ? `${sentence(result.data.note)} ` : "";
      say(`${note}Check both parts, then confirm. Nothing has changed yet.`);
      confirmButton.focus();
      return result;
    }

    function previewLine(line) {
      return preview({ line: line });
    }

    function previewHalf(axis) {
      return preview({ mode: "half", axis: axis });
    }

    function previewShare(share, axis) {
      return preview({ mode: "share", share: share, axis: axis });
    }

    async function confirm() {
      if (!state.request) return null;
      const parent = figuresOf(areaFeature(state.areaId) || { properties: {} }).code;
      const body = Object.assign({}, state.request, reasonInput.value ? { reason: reasonInput.value } : {});
      const result = await request(body);
      if (!result) return null;
      if (!result.ok) {
        say(errorMessage(result.data), "error");
        return result;
      }
      const children = childrenOf(result.data);
      cancel();
      await areas.refresh();
      const names = children.map((c) => c.code || c.name || `#${c.id}`);
      flash(`Area ${parent} was split into ${names.join(" and ")}.`, "success");
      const bounds = L.latLngBounds([]);
      children.forEach((c) => {
        const layer = areas.find(c.id);
        if (layer) bounds.extend(layer.getBounds());
      });
      if (bounds.isValid()) map.fitBounds(bounds, VIEW_PADDING);
      if (layerState.addresses) addresses.redraw();
      return result;
    }

    function childrenOf(data) {
      const list = (data && (data.features || data.children || data.areas || data.results)) || (Array.isArray(data) ? data : []);
      const found = list.map((item) => {
        const p = item.properties || item;
        return { id: p.id !== undefined ? p.id : item.id, code: p.code, name: p.name };
      });
      if (!found.length && data && data.first_child) {
        [data.first_child, data.second_child].forEach((c) => c && found.push(typeof c === "object" ? { id: c.id, code: c.code, name: c.name } : { id: c }));
      }
      return found;
    }

    panel.querySelectorAll("[data-split-mode]").forEach((tab) => tab.addEventListener("click", () => setMode(tab.dataset.splitMode)));
    panel.querySelectorAll("[data-split-cancel]").forEach((button) => button.addEventListener("click", cancel));
    panel.querySelector("[data-draw-start]").addEventListener("click", startDrawing);
    panel.querySelector("[data-draw-finish]").addEventListener("click", () => {
      if (drawer && drawer._markers && drawer._markers.length > 1) drawer.completeShape();
      else say("Click at least two points on the map first.", "error");
    });
    panel.querySelectorAll("[data-half-axis]").forEach((button) => button.addEventListener("click", () => previewHalf(button.dataset.halfAxis)));
    shareInput.addEventListener("input", () => (shareOutput.textContent = `${shareInput.value}%`));
    panel.querySelector("[data-share-preview]").addEventListener("click", () => previewShare(Number(shareInput.value) / 100, shareAxis.value));
    shareInput.addEventListener("change", () => previewShare(Number(shareInput.value) / 100, shareAxis.value));
    confirmButton.addEventListener("click", confirm);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden && !drawer) cancel();
    });

    return {
      start: start,
      cancel: cancel,
      setMode: setMode,
      previewLine: previewLine,
      previewHalf: previewHalf,
      previewShare: previewShare,
      confirm: confirm,
      active: () => state.areaId !== null,
      state: state,
    };
  })();

  // ---------------------------------------------------------------- start

  showDemand();
  applyLayers();
  let firstLoad = true;
  areas.on("load", () => {
    if (!firstLoad) return;
    firstLoad = false;
    // the first view goes straight to the area asked for, or else to all of them
    const wanted = params.get("area");
    const found = wanted !== null && areaFeature(wanted) !== null;
    const bounds = areas.bounds();
    if (found && params.get("split") === "1" && config.isOperator) split.start(wanted, { animate: false });
    else if (found) focusArea(wanted, { animate: false });
    else if (bounds) map.fitBounds(bounds, VIEW_PADDING);
    else map.setView(EMPTY_VIEW.center, EMPTY_VIEW.zoom);
    if (wanted !== null && !found) flash(`Area ${wanted} is not on the map (it may have been split).`, "error");
    document.body.dataset.mapReady = "true";
  });
  areas.refresh().catch((error) => {
    if (!map._loaded) map.setView(EMPTY_VIEW.center, EMPTY_VIEW.zoom);
    flash(error.message, "error");
    document.body.dataset.mapReady = "error";
  });

  window.oanmMap = {
    map: map,
    areas: areas,
    addresses: addresses,
    demand: { state: demandState, heat: heat, show: showDemand, points: () => demandPoints },
    split: split,
    deleteArea: deleteArea,
    focusArea: focusArea,
    config: config,
  };
})();
