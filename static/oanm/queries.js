/* The saved-query builder: and/or groups of conditions over a registered source, run
 * against /api/queries/run/, shown as a sortable, paginated table and on a Leaflet map.
 * Everything comes from the page's #query-config (the sources as /api/queries/sources/
 * describes them, the saved query if any); no framework, no internet. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("query-config").textContent);
  const $ = (id) => document.getElementById(id);
  const csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  const csrfToken = csrfInput ? csrfInput.value : "";
  const sources = Object.fromEntries(config.sources.map((s) => [s.key, s]));
  const source = sources[config.source];
  const MAX_DEPTH = 5;
  const PALETTE = ["#0b6e99", "#d69e2e", "#2f855a", "#805ad5", "#c53030", "#dd6b20",
    "#319795", "#b83280", "#5a67d8", "#718096"];

  let query = config.query; // the saved query, or null while it is new
  let definition = normalise(config.definition);
  let savedJson = JSON.stringify(clean(definition));
  const page = { limit: 50, offset: 0 };
  let lastRows = null;
  let lastGeo = null;

  // --- small helpers --------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of [].concat(children || [])) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function withParams(url, params) {
    const target = new URL(url, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined) target.searchParams.set(key, value);
    }
    if (config.shareToken && target.pathname.startsWith(config.urls.queries)) {
      target.searchParams.set("share", config.shareToken);
    }
    return target.pathname + target.search;
  }

  async function api(url, options) {
    const opts = options || {};
    const response = await fetch(url, {
      method: opts.method || "GET",
      credentials: "same-origin",
      headers: {
        Accept: opts.accept || "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      let message = data.detail || response.statusText;
      if (!data.detail && data && typeof data === "object") {
        message = Object.entries(data).filter(([k]) => k !== "code")
          .map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ") || message;
      }
      const error = new Error(message);
      error.field = data.field;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function isGroup(item) {
    return item && Object.prototype.hasOwnProperty.call(item, "op");
  }

  function normalise(data) {
    const where = data.where && isGroup(data.where) ? data.where : { op: "and", conditions: [] };
    return {
      version: 1,
      source: data.source || source.key,
      where: where,
      order_by: (data.order_by || source.default_order).slice(),
      columns: (data.columns || source.columns.filter((c) => c.default).map((c) => c.name)).slice(),
    };
  }

  function cleanGroup(group) {
    return {
      op: group.op,
      conditions: group.conditions.map((item) => (isGroup(item) ? cleanGroup(item)
        : { field: item.field, operator: item.operator, value: item.value })),
    };
  }

  function clean(data) {
    return {
      version: 1,
      source: data.source,
      where: cleanGroup(data.where),
      order_by: data.order_by.slice(),
      columns: data.columns.slice(),
    };
  }

  function fieldOf(condition) {
    return source.fields.find((f) => f.name === condition.field) || source.fields[0];
  }

  function isKnownField(condition) {
    return source.fields.some((f) => f.name === condition.field);
  }

  function operatorOf(field, key) {
    return field.operators.find((o) => o.key === key) || field.operators[0];
  }

  function status(text) {
    $("q-status").textContent = text || "";
  }

  // --- formatting -----------------------------------------------------------------------

  const numberFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 4 });
  const percentFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
  const dateTimeFormat = new Intl.DateTimeFormat("en-GB", {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });

  function format(value, column) {
    if (value === null || value === undefined || value === "") return "—";
    switch (column.kind) {
      case "choice": return (column.choices && column.choices[value]) || String(value);
      case "boolean": return value ? "yes" : "no";
      case "integer": return Number(value).toLocaleString("en");
      case "decimal":
        return column.percent ? `${percentFormat.format(Number(value) * 100)} %`
          : numberFormat.format(Number(value));
      case "datetime": return dateTimeFormat.format(new Date(value));
      default: return String(value);
    }
  }

  function isNumeric(column) {
    return column.kind === "integer" || column.kind === "decimal";
  }

  // Colours for a choice column: the site's own (--phase-live …) when it has them.
  const rootStyle = getComputedStyle(document.documentElement);
  function colourFor(column, value) {
    if (!column) return PALETTE[0];
    const own = rootStyle.getPropertyValue(`--${column.name}-${value}`).trim();
    if (own) return own;
    const keys = Object.keys(column.choices || {});
    const index = keys.indexOf(String(value));
    return index < 0 ? "#9aa5b1" : PALETTE[index % PALETTE.length];
  }

  // --- the filter tree ------------------------------------------------------------------

  function defaultValue(field, operator) {
    switch (operator.value) {
      case "boolean": return true;
      case "days": return 30;
      case "list": return [];
      case "pair": return [null, null];
      case "geometry": return null;
      default:
        if (field.kind === "boolean") return true;
        if (field.choices && field.choices.length && (field.kind === "choice")) {
          return field.choices[0].value;
        }
        return null;
    }
  }

  function newCondition() {
    const field = source.fields[0];
    const operator = field.operators[0];
    return { field: field.name, operator: operator.key, value: defaultValue(field, operator) };
  }

  function convertValue(value, from, to, field, operator) {
    if (from === to) return value;
    if (from === "one" && to === "list") return value === null ? [] : [value];
    if (from === "list" && to === "one") return value && value.length ? value[0] : defaultValue(field, operator);
    if (from === "one" && to === "pair") return [value, null];
    if (from === "pair" && to === "one") return value ? value[0] : null;
    return defaultValue(field, operator);
  }

  function renderWhere() {
    $("q-where").replaceChildren(renderGroup(definition.where, "where", 1, null));
    changed();
  }

  function renderGroup(group, path, depth, parent) {
    const box = el("div", { class: `q-group${depth === 1 ? " q-root" : ""}`, "data-path": path, "data-op": group.op });
    const select = el("select", { class: "q-group-op", "aria-label": "Combine the conditions" }, [
      el("option", { value: "and", text: "all" }),
      el("option", { value: "or", text: "any" }),
    ]);
    select.value = group.op;
    select.addEventListener("change", () => {
      group.op = select.value;
      box.dataset.op = group.op;
      changed();
    });
    const head = el("div", { class: "q-group-head" }, [
      el("span", { text: depth === 1 ? "Rows where" : "Where" }), select,
      el("span", { text: "of these are true" }),
    ]);
    if (parent) {
      head.append(el("button", {
        type: "button", class: "q-remove", title: "Remove this group", "aria-label": "Remove this group",
        text: "×",
        onclick: () => {
          parent.conditions.splice(parent.conditions.indexOf(group), 1);
          renderWhere();
        },
      }));
    }
    const body = el("div", { class: "q-group-body" });
    group.conditions.forEach((item, index) => {
      const itemPath = `${path}.conditions[${index}]`;
      body.append(isGroup(item) ? renderGroup(item, itemPath, depth + 1, group)
        : renderCondition(item, itemPath, group));
    });
    if (!group.conditions.length) {
      body.append(el("p", {
        class: "q-muted q-hint",
        text: depth === 1 ? "No conditions yet: every row matches." : "An empty group is left out.",
      }));
    }
    const foot = el("div", { class: "q-group-foot" }, [
      el("button", {
        type: "button", class: "q-add-condition", text: "+ Condition",
        onclick: () => { group.conditions.push(newCondition()); renderWhere(); },
      }),
    ]);
    if (depth < MAX_DEPTH) {
      foot.append(el("button", {
        type: "button", class: "q-add-group", text: "+ Group",
        title: "A group of conditions combined with all/any, e.g. (A or B) and C",
        onclick: () => {
          group.conditions.push({ op: group.op === "and" ? "or" : "and", conditions: [newCondition()] });
          renderWhere();
        },
      }));
    }
    box.append(head, body, foot);
    return box;
  }

  function renderCondition(condition, path, parent) {
    const row = el("div", { class: "q-condition", "data-path": path });
    if (!isKnownField(condition)) {
      // a field that is no longer registered: show it as it is, to be removed or replaced
      row.append(el("span", { class: "q-unknown", text: `${condition.field} ${condition.operator} ${JSON.stringify(condition.value)}` }),
        el("button", {
          type: "button", class: "q-replace", text: "Replace",
          onclick: () => {
            Object.assign(condition, newCondition());
            row.replaceWith(renderCondition(condition, path, parent));
            changed();
          },
        }),
        el("button", {
          type: "button", class: "q-remove", title: "Remove this condition",
          "aria-label": "Remove this condition", text: "×",
          onclick: () => {
            parent.conditions.splice(parent.conditions.indexOf(condition), 1);
            renderWhere();
          },
        }));
      return row;
    }
    const field = fieldOf(condition);
    const operator = operatorOf(field, condition.operator);
    condition.field = field.name;
    condition.operator = operator.key;

    const fieldSelect = el("select", { class: "q-field", "aria-label": "Field" },
      source.fields.map((f) => el("option", { value: f.name, text: f.label })));
    fieldSelect.value = field.name;
    fieldSelect.addEventListener("change", () => {
      const next = source.fields.find((f) => f.name === fieldSelect.value);
      condition.field = next.name;
      condition.operator = next.operators[0].key;
      condition.value = defaultValue(next, next.operators[0]);
      row.replaceWith(renderCondition(condition, path, parent));
      changed();
    });

    const operatorSelect = el("select", { class: "q-operator", "aria-label": "Operator" },
      field.operators.map((o) => el("option", { value: o.key, text: o.label })));
    operatorSelect.value = operator.key;
    operatorSelect.addEventListener("change", () => {
      const next = operatorOf(field, operatorSelect.value);
      condition.value = convertValue(condition.value, operator.value, next.value, field, next);
      condition.operator = next.key;
      row.replaceWith(renderCondition(condition, path, parent));
      changed();
    });

    const remove = el("button", {
      type: "button", class: "q-remove", title: "Remove this condition",
      "aria-label": "Remove this condition", text: "×",
      onclick: () => {
        parent.conditions.splice(parent.conditions.indexOf(condition), 1);
        renderWhere();
      },
    });
    row.append(fieldSelect, operatorSelect, renderValue(condition, field, operator, row), remove);
    return row;
  }

  // --- value editors, by the operator's value shape and the field's kind ---------------

  function toDisplay(field, value) {
    if (value === null || value === undefined) return "";
    if (field.percent) return String(Math.round(Number(value) * 100 * 10000) / 10000);
    return String(value);
  }

  function fromInput(field, text) {
    const raw = String(text).trim();
    if (raw === "") return null;
    if (field.kind === "integer" || (field.kind === "fk" && !field.choices)) {
      const number = Number(raw);
      return Number.isInteger(number) ? number : raw;
    }
    if (field.kind === "decimal") {
      const number = Number(raw.replace(",", "."));
      if (!Number.isFinite(number)) return raw;
      return field.percent ? Number((number / 100).toFixed(8)) : number;
    }
    if (field.kind === "fk") return Number(raw);
    return raw;
  }

  function scalarInput(field, value, set, label) {
    if (field.kind === "boolean") {
      const select = el("select", { "aria-label": label || field.label }, [
        el("option", { value: "true", text: "yes" }), el("option", { value: "false", text: "no" }),
      ]);
      select.value = value === false ? "false" : "true";
      select.addEventListener("change", () => { set(select.value === "true"); changed(); });
      return select;
    }
    if (field.choices) {
      const select = el("select", { "aria-label": label || field.label });
      if (value === null || value === undefined) select.append(el("option", { value: "", text: "choose…" }));
      for (const choice of field.choices) {
        select.append(el("option", { value: String(choice.value), text: choice.label }));
      }
      select.value = value === null || value === undefined ? "" : String(value);
      select.addEventListener("change", () => { set(fromInput(field, select.value)); changed(); });
      return select;
    }
    let input;
    if (field.kind === "integer" || field.kind === "decimal" || field.kind === "fk") {
      input = el("input", {
        type: "number", step: field.kind === "integer" ? "1" : "any",
        inputmode: "decimal", class: "q-number", "aria-label": label || field.label,
      });
    } else if (field.kind === "date" || field.kind === "datetime") {
      input = el("input", { type: "date", "aria-label": label || field.label });
    } else {
      input = el("input", { type: "text", "aria-label": label || field.label, placeholder: "text" });
    }
    input.value = toDisplay(field, value);
    input.addEventListener("input", () => { set(fromInput(field, input.value)); changed(); });
    if (field.percent) {
      return el("span", { class: "q-with-unit" }, [input, el("span", { class: "q-unit", text: "%" })]);
    }
    return input;
  }

  function renderValue(condition, field, operator, row) {
    const box = el("span", { class: "q-value" });
    const set = (value) => { condition.value = value; };
    switch (operator.value) {
      case "boolean": {
        const select = el("select", { "aria-label": "Empty?" }, [
          el("option", { value: "true", text: "yes" }), el("option", { value: "false", text: "no" }),
        ]);
        select.value = condition.value === false ? "false" : "true";
        select.addEventListener("change", () => { set(select.value === "true"); changed(); });
        box.append(select);
        break;
      }
      case "days": {
        const input = el("input", { type: "number", min: "1", max: "36500", step: "1", class: "q-number", "aria-label": "Days" });
        input.value = condition.value === null ? "" : String(condition.value);
        input.addEventListener("input", () => {
          const number = Number(input.value);
          set(input.value === "" ? null : Number.isInteger(number) ? number : input.value);
          changed();
        });
        box.append(input, el("span", { class: "q-unit", text: "days" }));
        break;
      }
      case "pair": {
        const pair = Array.isArray(condition.value) ? condition.value : [null, null];
        condition.value = pair;
        box.append(
          scalarInput(field, pair[0], (v) => { pair[0] = v; }, `${field.label} from`),
          el("span", { class: "q-unit", text: "and" }),
          scalarInput(field, pair[1], (v) => { pair[1] = v; }, `${field.label} to`),
        );
        break;
      }
      case "list": {
        const list = Array.isArray(condition.value) ? condition.value : [];
        condition.value = list;
        if (field.choices) {
          const chips = el("span", { class: "q-chips", role: "group", "aria-label": field.label });
          for (const choice of field.choices) {
            const input = el("input", { type: "checkbox", value: String(choice.value) });
            input.checked = list.map(String).includes(String(choice.value));
            input.addEventListener("change", () => {
              condition.value = field.choices
                .filter((c) => chips.querySelector(`input[value="${CSS.escape(String(c.value))}"]`).checked)
                .map((c) => c.value);
              changed();
            });
            chips.append(el("label", { class: "q-chip" }, [input, choice.label]));
          }
          box.append(chips);
        } else {
          const input = el("input", {
            type: "text", class: "q-list-input", "aria-label": `${field.label} values`,
            placeholder: "values, separated by commas",
          });
          input.value = list.map((v) => toDisplay(field, v)).join(", ");
          input.addEventListener("input", () => {
            condition.value = input.value.split(",").map((part) => fromInput(field, part))
              .filter((v) => v !== null);
            changed();
          });
          box.append(input);
        }
        break;
      }
      case "geometry":
        geometryEditor(condition, box, row);
        break;
      default:
        box.append(scalarInput(field, condition.value, set));
    }
    return box;
  }

  // --- "inside the drawn area": a small map with drawing tools --------------------------

  const openDrawings = new WeakSet();

  function describeGeometry(value) {
    if (!value) return "no area drawn yet";
    const parts = value.type === "MultiPolygon" ? value.coordinates.length : 1;
    return parts === 1 ? "1 area drawn" : `${parts} areas drawn`;
  }

  function geometryEditor(condition, box, row) {
    const note = el("span", { class: "q-muted q-geo-note", text: describeGeometry(condition.value) });
    const holder = el("div", { class: "q-draw", hidden: !openDrawings.has(condition) });
    const toggle = el("button", { type: "button", class: "q-draw-toggle" });
    const label = () => {
      toggle.textContent = openDrawings.has(condition) ? "Hide map"
        : condition.value ? "Edit on map" : "Draw on map";
    };
    label();
    let map = null;
    const open = () => {
      holder.hidden = false;
      if (!map) {
        map = drawingMap(holder, condition, () => {
          note.textContent = describeGeometry(condition.value);
          changed();
        });
      } else {
        map.invalidateSize();
      }
    };
    toggle.addEventListener("click", () => {
      if (openDrawings.has(condition)) {
        openDrawings.delete(condition);
        holder.hidden = true;
      } else {
        openDrawings.add(condition);
        open();
      }
      label();
    });
    box.append(toggle, note);
    // the map goes below the condition's inputs, once the row holds them
    requestAnimationFrame(() => {
      row.append(holder);
      if (openDrawings.has(condition)) open();
    });
  }

  function polygonsOf(geometry) {
    if (!geometry) return [];
    return geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  }

  function drawingMap(holder, condition, onChange) {
    const mapDiv = el("div", { class: "q-draw-map" });
    holder.append(mapDiv, el("p", {
      class: "q-muted q-draw-help",
      text: "Draw a polygon or a rectangle with the tools on the left; draw several to add them up. Edit or delete with the tools below them.",
    }));
    const map = baseMap(mapDiv);
    mapDiv.leafletMap = map; // for tests and the console
    const drawn = new L.FeatureGroup().addTo(map);
    for (const rings of polygonsOf(condition.value)) {
      drawn.addLayer(L.polygon(rings.map((ring) => ring.map(([lon, lat]) => [lat, lon])), drawStyle));
    }
    map.addControl(new L.Control.Draw({
      position: "topleft",
      draw: {
        polygon: { allowIntersection: false, showArea: false, shapeOptions: drawStyle },
        rectangle: { showArea: false, shapeOptions: drawStyle },
        polyline: false, circle: false, marker: false, circlemarker: false,
      },
      edit: { featureGroup: drawn },
    }));
    const update = () => {
      const polygons = [];
      drawn.eachLayer((layer) => {
        const geometry = layer.toGeoJSON(6).geometry;
        if (geometry.type === "Polygon") polygons.push(geometry.coordinates);
        else if (geometry.type === "MultiPolygon") polygons.push(...geometry.coordinates);
      });
      condition.value = polygons.length === 0 ? null
        : polygons.length === 1 ? { type: "Polygon", coordinates: polygons[0] }
          : { type: "MultiPolygon", coordinates: polygons };
      onChange();
    };
    map.on(L.Draw.Event.CREATED, (event) => { drawn.addLayer(event.layer); update(); });
    map.on(L.Draw.Event.EDITED, update);
    map.on(L.Draw.Event.DELETED, update);
    addContext(map, drawn.getLayers().length ? null : "fit");
    if (drawn.getLayers().length) map.fitBounds(drawn.getBounds().pad(0.3));
    return map;
  }

  const drawStyle = { color: "#c05621", weight: 2, dashArray: "6 4", fillOpacity: 0.08 };

  // --- maps -----------------------------------------------------------------------------

  function baseMap(container) {
    const map = L.map(container, { preferCanvas: true, zoomSnap: 0.25 });
    if (config.tiles.url) {
      L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 }).addTo(map);
    } else {
      container.classList.add("q-no-tiles");
    }
    map.setView([52.52, 13.4], 11);
    return map;
  }

  let contextPromise = null;
  function contextData() {
    const ctx = config.sources.find((s) => s.context_where && s.geometry);
    if (!ctx) return Promise.resolve(null);
    if (!contextPromise) {
      contextPromise = api(withParams(config.urls.run, { format: "geojson" }), {
        method: "POST",
        accept: "application/geo+json",
        body: {
          definition: {
            version: 1, source: ctx.key, where: ctx.context_where, columns: [ctx.columns[0].name],
          },
        },
      }).catch(() => null);
    }
    return contextPromise;
  }

  // The orientation layer (active areas) under a map: thin outlines with their codes.
  function addContext(map, fit) {
    return contextData().then((collection) => {
      if (!collection || !collection.features.length) return null;
      const labels = L.layerGroup().addTo(map);
      const layer = L.geoJSON(collection, {
        interactive: false,
        style: { color: "#7b8794", weight: 1.2, fillColor: "#9aa5b1", fillOpacity: 0.05 },
        onEachFeature: (feature, shape) => {
          const name = Object.values(feature.properties)[0];
          if (name) {
            labels.addLayer(L.tooltip({ permanent: true, direction: "center", className: "q-context-label" })
              .setLatLng(shape.getBounds().getCenter()).setContent(String(name)));
          }
        },
      }).addTo(map);
      layer.bringToBack();
      if (fit && layer.getBounds().isValid()) map.fitBounds(layer.getBounds().pad(0.05));
      return layer;
    });
  }

  let resultMap = null;
  let resultLayer = null;
  let filterLayer = null;
  let contextLayerPromise = null;

  function ensureResultMap() {
    if (resultMap) return;
    resultMap = baseMap($("q-map"));
    $("q-map").leafletMap = resultMap;
    contextLayerPromise = addContext(resultMap, null);
  }

  function geometriesIn(group) {
    const found = [];
    for (const item of group.conditions) {
      if (isGroup(item)) found.push(...geometriesIn(item));
      else if (item.value && typeof item.value === "object" && item.value.type
        && String(item.value.type).endsWith("Polygon")) found.push(item.value);
    }
    return found;
  }

  function popupHtml(feature, columns) {
    const table = el("table", { class: "q-popup" });
    for (const column of columns) {
      table.append(el("tr", {}, [
        el("th", { text: column.label }), el("td", { text: format(feature.properties[column.name], column) }),
      ]));
    }
    return table;
  }

  // The map colours by a choice column: the one picked, else status or phase, else the first.
  let colourBy = null;
  function colourColumnOf(columns) {
    const choices = columns.filter((c) => c.kind === "choice");
    return choices.find((c) => c.name === colourBy)
      || choices.find((c) => c.name === "status" || c.name === "phase") || choices[0] || null;
  }

  function drawResults(collection, options) {
    const keepView = options && options.keepView;
    ensureResultMap();
    if (resultLayer) resultMap.removeLayer(resultLayer);
    if (filterLayer) resultMap.removeLayer(filterLayer);
    const legend = $("q-legend");
    legend.replaceChildren();
    if (!collection.geometry) {
      $("q-map-note").textContent = `${source.label} have no place on the map.`;
      return;
    }
    const columns = collection.columns || [];
    const colourColumn = colourColumnOf(columns);
    const colour = (feature) => colourFor(colourColumn, colourColumn ? feature.properties[colourColumn.name] : null);
    resultLayer = L.geoJSON(collection, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        radius: collection.features.length > 1000 ? 3.5 : 5, weight: 1, color: "#ffffff", fillColor: colour(feature), fillOpacity: 0.9,
      }),
      style: (feature) => ({ color: colour(feature), weight: 2, fillColor: colour(feature), fillOpacity: 0.3 }),
      onEachFeature: (feature, layer) => layer.bindPopup(() => popupHtml(feature, columns)),
    }).addTo(resultMap);
    const drawnAreas = geometriesIn(definition.where);
    filterLayer = L.geoJSON({ type: "GeometryCollection", geometries: drawnAreas }, {
      interactive: false, style: drawStyle,
    }).addTo(resultMap);
    const choiceColumns = collection.features.length ? columns.filter((c) => c.kind === "choice") : [];
    if (choiceColumns.length > 1) {
      const select = el("select", { "aria-label": "Colour the map by" },
        choiceColumns.map((c) => el("option", { value: c.name, text: c.label })));
      select.value = colourColumn.name;
      select.addEventListener("change", () => {
        colourBy = select.value;
        drawResults(lastGeo, { keepView: true });
        if (lastRows) renderTable(lastRows);
      });
      legend.append(el("label", { class: "q-colour-by" }, ["Colour by", select]));
    } else if (choiceColumns.length) {
      legend.append(el("strong", { text: colourColumn.label }));
    }
    if (choiceColumns.length) {
      const present = new Set(collection.features.map((f) => String(f.properties[colourColumn.name])));
      for (const [value, label] of Object.entries(colourColumn.choices || {})) {
        if (!present.has(value)) continue;
        legend.append(el("span", { class: "q-legend-item" }, [
          el("span", { class: "q-swatch", style: `background:${colourFor(colourColumn, value)}` }), label,
        ]));
      }
    }
    const shown = collection.features.length;
    $("q-map-note").textContent = collection.capped
      ? `The map shows the first ${shown.toLocaleString("en")} of ${collection.count.toLocaleString("en")} rows; narrow the query to see them all.`
      : `${shown.toLocaleString("en")} on the map.`;
    const bounds = resultLayer.getBounds();
    if (filterLayer.getBounds().isValid()) bounds.extend(filterLayer.getBounds());
    if (keepView) {
      return;
    } else if (bounds.isValid()) {
      resultMap.fitBounds(bounds.pad(0.08), { maxZoom: 17 });
    } else if (contextLayerPromise) {
      contextLayerPromise.then((layer) => {
        if (!layer) return;
        resultMap.invalidateSize();
        resultMap.fitBounds(layer.getBounds().pad(0.05));
      });
    }
  }

  // --- the table ------------------------------------------------------------------------

  function renderTable(result) {
    const table = $("q-table");
    const columns = result.columns;
    const [orderKey] = definition.order_by;
    const colourColumn = colourColumnOf(columns);
    const head = el("tr");
    for (const column of columns) {
      const th = el("th", { class: isNumeric(column) ? "num" : null, scope: "col" });
      if (column.sortable) {
        const direction = orderKey === column.name ? "asc" : orderKey === `-${column.name}` ? "desc" : null;
        th.setAttribute("aria-sort", direction === "asc" ? "ascending" : direction === "desc" ? "descending" : "none");
        th.append(el("button", {
          type: "button", class: "q-sort",
          title: `Sort by ${column.label}`,
          onclick: () => {
            definition.order_by = [direction === "asc" ? `-${column.name}` : column.name];
            changed();
            run();
          },
        }, [column.label, el("span", { class: "q-arrow", text: direction === "asc" ? " ▲" : direction === "desc" ? " ▼" : "" })]));
      } else {
        th.textContent = column.label;
      }
      head.append(th);
    }
    table.tHead.replaceChildren(head);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of result.results) {
      const tr = el("tr", { "data-id": row.id });
      for (const column of columns) {
        const td = el("td", { class: isNumeric(column) ? "num" : null });
        if (column === colourColumn && row[column.name] !== null) {
          td.append(el("span", { class: "q-swatch", style: `background:${colourFor(column, row[column.name])}` }));
        }
        td.append(format(row[column.name], column));
        tr.append(td);
      }
      body.append(tr);
    }
    if (!result.results.length) {
      body.append(el("tr", {}, [el("td", { colspan: String(columns.length), class: "q-muted q-empty", text: "No rows match this query." })]));
    }
    const count = result.count;
    $("q-count").textContent = `${count.toLocaleString("en")} ${count === 1 ? "row" : "rows"}`;
    $("q-range").textContent = count
      ? `${(result.offset + 1).toLocaleString("en")}–${(result.offset + result.results.length).toLocaleString("en")} of ${count.toLocaleString("en")}`
      : "";
    $("q-prev").disabled = result.offset <= 0;
    $("q-next").disabled = result.offset + result.results.length >= count;
  }

  // --- running --------------------------------------------------------------------------

  function clearErrors() {
    $("q-error").textContent = "";
    document.querySelectorAll(".q-invalid").forEach((node) => node.classList.remove("q-invalid"));
    document.querySelectorAll(".q-condition-error").forEach((node) => node.remove());
  }

  function showError(error) {
    $("q-error").textContent = error.message;
    let path = error.field || "";
    while (path) {
      const node = document.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (node) {
        node.classList.add("q-invalid");
        node.append(el("div", { class: "q-condition-error", text: error.message }));
        node.scrollIntoView({ block: "nearest" });
        return;
      }
      const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
      if (cut <= 0) break;
      path = path.slice(0, cut);
    }
  }

  let running = 0;
  async function run(options) {
    const keepPage = options && options.keepPage;
    if (!keepPage) page.offset = 0;
    clearErrors();
    const ticket = ++running;
    status("Running…");
    $("q-run").disabled = true;
    const body = { definition: clean(definition) };
    try {
      const rows = api(withParams(config.urls.run, { limit: page.limit, offset: page.offset }), { method: "POST", body });
      const geo = keepPage && lastGeo ? Promise.resolve(lastGeo)
        : api(withParams(config.urls.run, { format: "geojson" }), { method: "POST", body, accept: "application/geo+json" });
      const [rowResult, geoResult] = await Promise.all([rows, geo]);
      if (ticket !== running) return;
      lastRows = rowResult;
      lastGeo = geoResult;
      renderTable(rowResult);
      drawResults(geoResult);
      status("");
      document.body.dataset.ran = String(ticket);
    } catch (error) {
      if (ticket !== running) return;
      status("");
      showError(error);
    } finally {
      if (ticket === running) $("q-run").disabled = false;
    }
  }

  // --- saving, sharing, stars, exports ----------------------------------------------------

  function isDirty() {
    return JSON.stringify(clean(definition)) !== savedJson;
  }

  function changed() {
    $("q-dirty").hidden = !(query && query.can_edit && isDirty());
  }

  function queryUrl(suffix) {
    return `${config.urls.queries}${query.id}/${suffix || ""}`;
  }

  function renderHeader() {
    const name = query ? query.name : `New query on ${source.label.toLowerCase()}`;
    $("q-name").textContent = name;
    document.title = `${name} · oanm`;
    const star = $("q-star");
    star.hidden = !query;
    const saveButton = $("q-save");
    if (query) {
      star.textContent = query.is_favourite ? "★" : "☆";
      star.classList.toggle("on", query.is_favourite);
      star.setAttribute("aria-pressed", String(query.is_favourite));
      star.title = query.is_favourite ? "Remove from favourites" : "Add to favourites";
      const byline = [source.label];
      if (query.is_mine) {
        const people = query.shared_with.length;
        byline.push("yours");
        if (people) byline.push(`shared with ${people} colleague${people === 1 ? "" : "s"}`);
        if (query.share_link) byline.push("link on");
      } else {
        byline.push(`by ${query.owner.name}`);
        if (!query.can_edit) byline.push("you can run it, star it and save a copy");
      }
      if (query.description) byline.push(query.description);
      $("q-byline").textContent = byline.join(" · ");
      saveButton.textContent = query.can_edit ? "Save" : "Save a copy";
    } else {
      $("q-byline").textContent = `${source.label}: ${source.description}`;
      saveButton.textContent = "Save";
    }
    $("q-save-as").hidden = !query || !query.can_edit;
    $("q-rename").hidden = !(query && query.can_edit);
    $("q-share").hidden = !(query && query.can_edit);
    $("q-delete").hidden = !(query && query.can_edit);
    changed();
  }

  function saveDialog(heading, name, description, action) {
    const dialog = $("q-save-dialog");
    $("q-save-heading").textContent = heading;
    $("q-save-name").value = name || "";
    $("q-save-description").value = description || "";
    $("q-save-error").textContent = "";
    const form = $("q-save-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      $("q-save-confirm").disabled = true;
      try {
        await action($("q-save-name").value, $("q-save-description").value);
        dialog.close();
      } catch (error) {
        $("q-save-error").textContent = error.message;
      } finally {
        $("q-save-confirm").disabled = false;
      }
    };
    dialog.showModal();
    $("q-save-name").select();
  }

  async function createQuery(name, description) {
    const created = await api(config.urls.queries, {
      method: "POST", body: { name, description, definition: clean(definition) },
    });
    window.location.assign(created.url);
  }

  async function updateQuery(changes) {
    query = await api(queryUrl(), { method: "PATCH", body: changes });
    if (changes.definition) savedJson = JSON.stringify(clean(definition));
    renderHeader();
    return query;
  }

  $("q-save").addEventListener("click", async () => {
    if (!query) {
      saveDialog("Save query", "", "", createQuery);
    } else if (query.can_edit) {
      try {
        await updateQuery({ definition: clean(definition) });
        status("Saved.");
      } catch (error) {
        showError(error);
      }
    } else {
      saveDialog("Save a copy as your own query", `${query.name} (copy)`, query.description, createQuery);
    }
  });
  $("q-save-as").addEventListener("click", () => {
    saveDialog("Save as a new query", `${query.name} (copy)`, query.description, createQuery);
  });
  $("q-rename").addEventListener("click", () => {
    saveDialog("Rename", query.name, query.description,
      (name, description) => updateQuery({ name, description }));
  });
  $("q-delete").addEventListener("click", async () => {
    if (!window.confirm(`Delete “${query.name}”? This cannot be undone.`)) return;
    try {
      await api(queryUrl(), { method: "DELETE" });
      window.location.assign(config.urls.list);
    } catch (error) {
      showError(error);
    }
  });
  $("q-star").addEventListener("click", async () => {
    try {
      const result = await api(withParams(queryUrl("favourite/")), {
        method: "POST", body: { is_favourite: !query.is_favourite },
      });
      query.is_favourite = result.is_favourite;
      renderHeader();
    } catch (error) {
      showError(error);
    }
  });
  for (const close of document.querySelectorAll("dialog [data-close]")) {
    close.addEventListener("click", () => close.closest("dialog").close());
  }

  // Sharing: colleagues one by one, and the link.
  function renderSharing() {
    $("q-share-name").textContent = query.name;
    $("q-share-org").textContent = config.organisation;
    const sharedIds = new Set(query.shared_with.map((u) => u.id));
    const select = $("q-share-user");
    select.replaceChildren(el("option", { value: "", text: "choose a colleague…" }));
    for (const person of config.colleagues) {
      if (!sharedIds.has(person.id)) {
        select.append(el("option", { value: String(person.id), text: person.name === person.username ? person.name : `${person.name} (${person.username})` }));
      }
    }
    const list = $("q-share-list");
    list.replaceChildren();
    for (const person of query.shared_with) {
      list.append(el("li", {}, [
        el("span", { text: person.name }),
        el("button", {
          type: "button", class: "q-remove", title: `Stop sharing with ${person.name}`,
          "aria-label": `Stop sharing with ${person.name}`, text: "×",
          onclick: () => share({ user: String(person.id), remove: true }),
        }),
      ]));
    }
    if (!query.shared_with.length) list.append(el("li", { class: "q-muted", text: "Not shared with anyone yet." }));
    $("q-share-link-on").checked = Boolean(query.share_link);
    $("q-share-link-row").hidden = !query.share_link;
    $("q-share-link").value = query.share_link || "";
  }

  async function share(body) {
    $("q-share-error").textContent = "";
    try {
      const sharing = await api(queryUrl("share/"), { method: "POST", body });
      query.shared_with = sharing.shared_with;
      query.share_link = sharing.share_link;
      renderSharing();
      renderHeader();
    } catch (error) {
      $("q-share-error").textContent = error.message;
    }
  }

  $("q-share").addEventListener("click", () => {
    renderSharing();
    $("q-share-dialog").showModal();
  });
  $("q-share-add").addEventListener("click", () => {
    const user = $("q-share-user").value;
    if (user) share({ user });
  });
  $("q-share-link-on").addEventListener("change", (event) => share({ link: event.target.checked }));
  $("q-share-copy").addEventListener("click", async () => {
    const input = $("q-share-link");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (error) {
      input.select();
      document.execCommand("copy");
    }
    $("q-share-copy").textContent = "Copied";
    setTimeout(() => { $("q-share-copy").textContent = "Copy link"; }, 1500);
  });

  // Exports: what the builder shows now (a saved, unchanged query downloads from its URL).
  async function exportAs(format) {
    clearErrors();
    if (query && !isDirty()) {
      const link = el("a", { href: withParams(queryUrl("results/"), { export: format }) });
      document.body.append(link);
      link.click();
      link.remove();
      return;
    }
    status(`Preparing the ${format.toUpperCase()} file…`);
    try {
      const response = await fetch(withParams(config.urls.run, { export: format }), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ definition: clean(definition) }),
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        const error = new Error(data.detail || response.statusText);
        error.field = data.field;
        throw error;
      }
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="?([^";]+)"?/.exec(disposition);
      const link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : `query.${format}` });
      document.body.append(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 2000);
      status("");
    } catch (error) {
      status("");
      showError(error);
    }
  }
  $("q-export-csv").addEventListener("click", () => exportAs("csv"));
  $("q-export-xlsx").addEventListener("click", () => exportAs("xlsx"));

  // --- source, columns, paging ----------------------------------------------------------

  function renderSources() {
    const select = $("q-source");
    for (const item of config.sources) {
      select.append(el("option", { value: item.key, text: item.label }));
    }
    select.value = source.key;
    select.disabled = Boolean(query);
    if (query) select.title = "A saved query keeps its source; start a new query for another.";
    select.addEventListener("change", () => {
      window.location.assign(`${config.urls.new}?source=${encodeURIComponent(select.value)}`);
    });
  }

  function renderColumns() {
    const box = $("q-columns-list");
    box.replaceChildren();
    for (const column of source.columns) {
      const input = el("input", { type: "checkbox", value: column.name });
      input.checked = definition.columns.includes(column.name);
      input.addEventListener("change", () => {
        const checked = source.columns.map((c) => c.name)
          .filter((name) => box.querySelector(`input[value="${CSS.escape(name)}"]`).checked);
        if (!checked.length) {
          input.checked = true;
          return;
        }
        definition.columns = checked;
        changed();
        run({ keepPage: true });
      });
      box.append(el("label", { class: "q-chip" }, [input, column.label]));
    }
  }

  $("q-prev").addEventListener("click", () => {
    page.offset = Math.max(0, page.offset - page.limit);
    run({ keepPage: true });
  });
  $("q-next").addEventListener("click", () => {
    page.offset += page.limit;
    run({ keepPage: true });
  });
  $("q-run").addEventListener("click", () => run());
  $("q-where").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("input")) {
      event.preventDefault();
      run();
    }
  });

  renderSources();
  renderColumns();
  renderHeader();
  renderWhere();
  if (config.definitionError) {
    // saved before something it uses went away: show what, run once it is fixed
    showError(Object.assign(new Error(`This query no longer runs: ${config.definitionError.detail}`),
      { field: config.definitionError.field }));
  } else {
    run();
  }
})();
