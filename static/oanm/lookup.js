// The customers' pages (/lookup/…): the address box with its type-ahead, "use my location",
// the map where a tap finds the nearest addresses, and an address's map and sortable offers.
//
// The address box is an ARIA 1.2 combobox: the input owns a listbox of suggestions, the arrow
// keys move the active option (aria-activedescendant), Enter opens it, Escape closes the list,
// and a polite live region says how many addresses were found or that none was (with "did you
// mean" buttons that search again). Without JavaScript the same form searches on the server.
// Every library is served from our own static/ (Leaflet), so the page works with no internet.
(function () {
  "use strict";

  const DEBOUNCE_MS = 200;
  const MIN_CHARS = 2;
  const SUGGESTIONS = 8;
  const NEAREST = 5;

  function readConfig(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function cssVariable(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([key, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    children.forEach((child) => {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(child));
      }
    });
    return node;
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  // A Leaflet map with the configured base map, or none (the pages work offline).
  function baseMap(element, baseMapConfig, options) {
    const map = L.map(element, Object.assign({ zoomSnap: 0.25, scrollWheelZoom: false }, options));
    if (baseMapConfig) {
      L.tileLayer(baseMapConfig.url, { attribution: baseMapConfig.attribution, maxZoom: 19 }).addTo(
        map
      );
    } else {
      element.classList.add("no-base-map");
    }
    map.attributionControl.setPrefix(false);
    return map;
  }

  // --- /lookup/: the address box ----------------------------------------------------------

  function addressSearch(config) {
    const form = document.querySelector("[data-search-form]");
    const input = document.querySelector("[data-search-input]");
    const list = document.querySelector("[data-search-list]");
    const status = document.querySelector("[data-search-status]");
    const suggestions = document.querySelector("[data-did-you-mean]");
    if (!form || !input || !list) return;

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    let matches = [];
    let active = -1;
    let timer = null;
    let controller = null;
    let lastQuery = null;

    function addressUrl(id) {
      return config.addressUrl.replace("{id}", encodeURIComponent(id));
    }

    function say(message) {
      // a live region is read when its text changes: clear first so a repeat is read again
      status.textContent = "";
      window.setTimeout(() => (status.textContent = message), 30);
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      const options = list.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (index + options.length) % options.length;
      options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
      const option = options[active];
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }

    function open(match) {
      window.location.assign(addressUrl(match.id));
    }

    function showDidYouMean(list) {
      suggestions.replaceChildren();
      suggestions.hidden = !list.length;
      if (!list.length) return;
      suggestions.append(el("span", { text: "Did you mean " }));
      list.forEach((text) => {
        const button = el("button", { type: "button", "data-suggestion": text, text: text });
        button.addEventListener("click", () => {
          input.value = text;
          input.focus();
          search(text, { now: true });
        });
        suggestions.append(button);
      });
    }

    function render(data, query) {
      matches = data.results || [];
      list.replaceChildren();
      matches.forEach((match, index) => {
        const second = [match.postcode, match.city].filter(Boolean).join(" ");
        const option = el(
          "li",
          { role: "option", id: "address-option-" + index, "aria-selected": "false" },
          el("span", { className: "main", text: match.label }),
          match.unit && !match.label.includes(match.unit)
            ? el("span", { className: "sub", text: match.unit })
            : null
        );
        option.dataset.addressId = match.id;
        if (second && !match.label.includes(second)) {
          option.append(el("span", { className: "sub", text: second }));
        }
        // mousedown, not click: the input keeps the focus and the list stays open until then
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          open(match);
        });
        list.append(option);
      });
      // weak matches come with the street names the search thinks were meant
      const didYouMean = data.did_you_mean || [];
      showDidYouMean(didYouMean);
      const meant = didYouMean.length ? " Did you mean " + didYouMean.join(" or ") + "?" : "";
      if (matches.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        active = -1;
        input.removeAttribute("aria-activedescendant");
        say(
          plural(matches.length, "address", "addresses") +
            " found. Use the up and down arrow keys to choose, and Enter to open." +
            meant
        );
      } else {
        close();
        say("No address matches “" + query + "”." + meant);
      }
    }

    function search(query, options) {
      window.clearTimeout(timer);
      const compact = query.replace(/\s+/g, "");
      if (compact.length < MIN_CHARS) {
        lastQuery = null;
        matches = [];
        list.replaceChildren();
        showDidYouMean([]);
        close();
        status.textContent = "";
        return;
      }
      const run = () => {
        if (query === lastQuery) return;
        lastQuery = query;
        if (controller) controller.abort();
        controller = new AbortController();
        const url = config.searchUrl + "?" + new URLSearchParams({ q: query, limit: SUGGESTIONS });
        fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal })
          .then((response) =>
            response.json().then((body) => ({ ok: response.ok, code: response.status, body }))
          )
          .then(({ ok, code, body }) => {
            if (input.value.trim() !== query) return; // typed on since
            if (!ok) {
              lastQuery = null;
              close();
              say(
                code === 429
                  ? "Too many searches at once: " + (body.detail || "please wait a moment.")
                  : body.detail || "The search did not work; please try again."
              );
              return;
            }
            render(body, query);
          })
          .catch((error) => {
            if (error.name === "AbortError") return;
            lastQuery = null;
            say("The search did not work; check your connection and try again.");
          });
      };
      if (options && options.now) run();
      else timer = window.setTimeout(run, DEBOUNCE_MS);
    }

    input.addEventListener("input", () => search(input.value.trim()));
    input.addEventListener("focus", () => {
      if (matches.length && input.value.trim() === lastQuery) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    });
    input.addEventListener("blur", () => window.setTimeout(close, 150));
    input.addEventListener("keydown", (event) => {
      const isOpen = !list.hidden && matches.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!isOpen && matches.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        }
        if (matches.length) setActive(active + 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (isOpen) setActive(active <= 0 ? matches.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (isOpen && active >= 0) {
          event.preventDefault();
          open(matches[active]);
        }
        // otherwise the form searches on the server (the page without JavaScript)
      } else if (event.key === "Escape") {
        if (isOpen) {
          event.preventDefault();
          close();
        } else if (input.value) {
          input.value = "";
          search("");
        }
      } else if (event.key === "Home" && isOpen && event.ctrlKey) {
        setActive(0);
      }
    });
    // a search typed before this script ran (slow phone) still gets its suggestions
    if (input.value.trim() && document.activeElement === input) search(input.value.trim());
  }

  // --- /lookup/: use my location, tap the map ----------------------------------------------

  function nearestFinder(config) {
    const element = document.getElementById("lookup-map");
    const listElement = document.querySelector("[data-nearest-list]");
    const status = document.querySelector("[data-search-status]");
    const locate = document.querySelector("[data-use-location]");
    const hint = document.querySelector("[data-map-hint]");
    let map = null;
    let markers = null;

    function addressUrl(id) {
      return config.addressUrl.replace("{id}", encodeURIComponent(id));
    }

    function showNearest(lat, lon, source) {
      const url = config.nearestUrl + "?" + new URLSearchParams({ lat, lon, limit: NEAREST });
      status.textContent = "Looking for the nearest addresses…";
      fetch(url, { headers: { Accept: "application/json" } })
        .then((response) =>
          response.json().then((body) => ({ ok: response.ok, code: response.status, body }))
        )
        .then(({ ok, body }) => {
          if (!ok) {
            status.textContent = body.detail || "That did not work; please try again.";
            return;
          }
          const results = body.results || [];
          listElement.replaceChildren();
          if (markers) markers.clearLayers();
          results.forEach((match) => {
            const distance =
              match.distance_m === null || match.distance_m === undefined
                ? ""
                : " (" + Math.round(match.distance_m) + " m)";
            const link = el("a", { href: addressUrl(match.id), "data-address-id": match.id });
            link.textContent = match.label;
            listElement.append(el("li", {}, link, distance));
            if (markers) {
              const location = match.location || { lon: match.lon, lat: match.lat };
              L.circleMarker([location.lat, location.lon], {
                radius: 7,
                color: "#102a43",
                weight: 2,
                fillColor: cssVariable("--accent", "#0b6e99"),
                fillOpacity: 0.9,
              })
                .bindTooltip(match.label)
                .on("click", () => window.location.assign(addressUrl(match.id)))
                .addTo(markers);
            }
          });
          listElement.hidden = !results.length;
          status.textContent = results.length
            ? plural(results.length, "address", "addresses") +
              " near " +
              (source === "location" ? "your location" : "the place you tapped") +
              ", listed below the map."
            : "No address of ours is near that place.";
          if (map && source === "location") map.setView([lat, lon], Math.max(map.getZoom(), 17));
        })
        .catch(() => (status.textContent = "That did not work; check your connection."));
    }

    if (element && typeof L !== "undefined") {
      element.hidden = false;
      hint.hidden = false;
      map = baseMap(element, config.baseMap, { zoomControl: true });
      const extent = config.extent;
      if (extent) {
        map.fitBounds(
          [
            [extent[1], extent[0]],
            [extent[3], extent[2]],
          ],
          { padding: [8, 8] }
        );
      } else {
        map.setView([0, 0], 2);
      }
      (config.areas || []).forEach((area) => {
        const colour = cssVariable("--phase-" + area.phase, "#718096");
        L.geoJSON(area.boundary, {
          style: { color: colour, weight: 1.5, fillColor: colour, fillOpacity: 0.12 },
          interactive: false,
        }).addTo(map);
      });
      markers = L.layerGroup().addTo(map);
      map.on("click", (event) => {
        map.scrollWheelZoom.enable();
        showNearest(event.latlng.lat.toFixed(6), event.latlng.lng.toFixed(6), "tap");
      });
      element.dataset.ready = "true";
    }

    if (locate && "geolocation" in navigator) {
      locate.hidden = false;
      locate.addEventListener("click", () => {
        status.textContent = "Finding your location…";
        navigator.geolocation.getCurrentPosition(
          (position) =>
            showNearest(
              position.coords.latitude.toFixed(6),
              position.coords.longitude.toFixed(6),
              "location"
            ),
          (error) => {
            status.textContent =
              error.code === error.PERMISSION_DENIED
                ? "Your browser did not share your location. Type your address instead."
                : "Your location could not be found. Type your address instead.";
          },
          { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
        );
      });
    }
  }

  // --- an address's answer: its map, the offers' order --------------------------------------

  function addressMap(config) {
    const element = document.getElementById("address-map");
    if (!element || typeof L === "undefined" || config.address.lat === null) return;
    const map = baseMap(element, config.baseMap, { zoomControl: true });
    const point = [config.address.lat, config.address.lon];
    const colour = cssVariable("--phase-" + (config.areaPhase || ""), "#3182ce");
    const area = config.boundary
      ? L.geoJSON(config.boundary, {
          style: { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.12 },
          interactive: false,
        })
      : null;
    // the view first: Leaflet draws vector layers only on a map that has one
    if (area) map.fitBounds(area.getBounds().extend(point), { padding: [16, 16], maxZoom: 17 });
    else map.setView(point, 17);
    if (area) area.addTo(map);
    L.circleMarker(point, {
      radius: 9,
      color: "#102a43",
      weight: 3,
      fillColor: "#f7c948",
      fillOpacity: 1,
    })
      .bindTooltip(config.label)
      .addTo(map);
    map.on("click", () => map.scrollWheelZoom.enable());
    element.dataset.ready = "true";
  }

  function offerSort() {
    const select = document.querySelector("[data-offer-sort]");
    const list = document.querySelector("[data-offer-list]");
    if (!select || !list) return;
    const keys = {
      price: (item) => [parseFloat(item.dataset.price), -parseFloat(item.dataset.speed)],
      speed: (item) => [-parseFloat(item.dataset.speed), parseFloat(item.dataset.price)],
    };
    select.addEventListener("change", () => {
      const key = keys[select.value] || keys.price;
      const items = Array.from(list.children);
      items.sort((a, b) => {
        const [a1, a2] = key(a);
        const [b1, b2] = key(b);
        return a1 - b1 || a2 - b2;
      });
      list.append(...items);
      const url = new URL(window.location.href);
      url.searchParams.set("sort", select.value);
      window.history.replaceState(null, "", url);
    });
  }

  const searchConfig = readConfig("lookup-config");
  if (searchConfig) {
    addressSearch(searchConfig);
    nearestFinder(searchConfig);
  }
  const addressConfig = readConfig("lookup-address-config");
  if (addressConfig) {
    addressMap(addressConfig);
    offerSort();
  }
})();
