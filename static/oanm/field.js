/* The field portal's script: maps of the day and of a task, the signature pad, the ONT
 * serial scan, and the offline queue.
 *
 * Every sign-off, problem report and photo goes out with fetch (Accept: application/json)
 * under the id the form carries (client_uid, made here in the browser). When the phone
 * has no signal — navigator.onLine is false or the fetch fails — the submission is kept
 * in IndexedDB (photos as Blobs) and sent again, under the same id, when the phone is back
 * online, when a page loads and every half minute. The server treats a repeated id as the
 * same submission, so sending twice changes nothing. A submission the server refuses
 * (4xx) is kept aside as "needs attention" instead of being retried forever.
 */
(function () {
  "use strict";

  const DB_NAME = "oanm-field";
  const STORE = "queue";
  const RETRY_MS = 30000;
  const FLASH_KEY = "oanm-field-flash";

  // --- small helpers ------------------------------------------------------------------

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function csrfToken() {
    const holder = document.querySelector("[data-csrf]");
    if (holder && holder.dataset.csrf) return holder.dataset.csrf;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function config(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // --- the queue on the device (IndexedDB) -------------------------------------------------

  let dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = window.indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore(STORE, { keyPath: "uid" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return dbPromise;
  }

  function withStore(mode, work) {
    return openDb().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(STORE, mode);
          const result = work(tx.objectStore(STORE));
          tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error);
        })
    );
  }

  const queue = {
    all: () =>
      withStore("readonly", (store) => store.getAll()).then((items) =>
        (items || []).sort((a, b) => a.created - b.created)
      ),
    put: (item) => withStore("readwrite", (store) => store.put(item)),
    remove: (uid) => withStore("readwrite", (store) => store.delete(uid)),
  };

  // --- sending -----------------------------------------------------------------------------

  /** Send one submission; tells what became of it: ok, refused, signed_out or retry. */
  async function send(item) {
    const body = new FormData();
    for (const [name, value] of item.fields) {
      if (name !== "csrfmiddlewaretoken") body.append(name, value);
    }
    for (const [name, blob, filename] of item.files || []) body.append(name, blob, filename);
    // a network failure throws: the caller keeps the item for later
    const response = await fetch(item.url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("application/json")) {
      data = await response.json();
    }
    if (response.ok && data && data.ok) return { outcome: "ok", data };
    if (response.status === 401) return { outcome: "signed_out", data };
    if (response.status >= 400 && response.status < 500) {
      const detail = data && data.detail ? data.detail : `refused by the server (${response.status})`;
      return { outcome: "refused", data: data || { detail }, detail };
    }
    return { outcome: "retry", data };
  }

  let flushing = false;

  /** Send what waits on the phone, oldest first; stop at the first sign of no signal. */
  async function flush() {
    if (flushing || !navigator.onLine) {
      render();
      return;
    }
    flushing = true;
    let sent = 0;
    let state = "";
    try {
      const items = (await queue.all()).filter((item) => item.state === "queued");
      for (const item of items) {
        let result;
        try {
          result = await send(item);
        } catch (error) {
          state = "No signal: trying again soon.";
          break;
        }
        if (result.outcome === "ok") {
          await queue.remove(item.uid);
          sent += 1;
          onSent(item, result.data);
        } else if (result.outcome === "refused") {
          item.state = "attention";
          item.error = result.detail;
          await queue.put(item);
          const form = document.querySelector(`form[data-field-form][action="${new URL(item.url).pathname}"]`);
          if (form && item.kind !== "photo") showError(form, result.data);
        } else if (result.outcome === "signed_out") {
          state = "Sign in again to send them.";
          break;
        } else {
          state = "The server is busy: trying again soon.";
        }
      }
    } finally {
      flushing = false;
    }
    if (sent) flash(`${plural(sent, "saved submission")} sent.`, true);
    await render(state);
  }

  /** A queued item reached the server: bring the page up to date if it shows its task. */
  function onSent(item, data) {
    const status = document.querySelector("[data-task-status]");
    const form = document.querySelector(`form[data-field-form][data-task="${item.task}"]`);
    if (status && form && data && data.status) {
      status.textContent = data.status_display;
      status.dataset.taskStatus = data.status;
      status.className = `badge status-${data.status}`;
    }
    if (form && item.kind !== "photo") {
      message(form, `Sent: ${data.status_display}.`, "ok");
    }
    if (item.kind === "photo" && data) addPhotos(data);
  }

  /** The queue bar: how many wait, and the refused ones with what the server said. */
  async function render(state) {
    let items = [];
    try {
      items = await queue.all();
    } catch (error) {
      return;
    }
    const waiting = items.filter((item) => item.state === "queued");
    const attention = items.filter((item) => item.state === "attention");
    document.querySelectorAll("[data-queue-count]").forEach((node) => {
      node.textContent = String(waiting.length);
    });
    const noun = document.querySelector("[data-queue-noun]");
    if (noun) noun.textContent = waiting.length === 1 ? "submission" : "submissions";
    const bar = document.querySelector("[data-queue-bar]");
    if (!bar) return;
    bar.hidden = waiting.length === 0 && attention.length === 0;
    bar.querySelector("[role=status]").hidden = waiting.length === 0;
    const stateNode = bar.querySelector("[data-queue-state]");
    if (stateNode && state !== undefined) stateNode.textContent = state;
    if (stateNode && !navigator.onLine) stateNode.textContent = "No signal now.";
    const list = bar.querySelector("[data-attention-list]");
    list.replaceChildren();
    for (const item of attention) {
      const li = document.createElement("li");
      li.dataset.attention = item.uid;
      const text = document.createElement("span");
      text.textContent = `Not accepted: ${item.label} — ${item.error}`;
      const open = document.createElement("a");
      open.href = item.page || "#";
      open.textContent = "Open task";
      const discard = document.createElement("button");
      discard.type = "button";
      discard.textContent = "Discard";
      discard.addEventListener("click", async () => {
        await queue.remove(item.uid);
        render();
      });
      li.append(text, " ", open, " ", discard);
      list.append(li);
    }
  }

  // --- the forms ----------------------------------------------------------------------------

  function message(form, text, kind) {
    const node = document.querySelector("[data-form-message]");
    if (!node) return;
    node.textContent = text;
    node.className = `form-message ${kind || ""}`;
    node.hidden = false;
    node.scrollIntoView({ block: "nearest" });
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((node) => {
      node.textContent = "";
      node.hidden = true;
    });
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  function showError(form, data) {
    const field = data.field || "__all__";
    const node =
      form.querySelector(`[data-error-for="${field}"]`) || form.querySelector('[data-error-for="__all__"]');
    if (node) {
      node.textContent = data.detail;
      node.hidden = false;
    }
    const input = form.querySelector(`[name="${field}"]`);
    if (input && input.type !== "hidden") {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else if (node) {
      node.scrollIntoView({ block: "center" });
    }
    message(form, "Not sent: see the message by the field.", "bad");
  }

  /** A message for the next page (`later`) or for this one. */
  function flash(text, good, later) {
    try {
      window.sessionStorage.setItem(FLASH_KEY, JSON.stringify({ text, good }));
    } catch (error) {
      return; /* private mode: no flash */
    }
    if (!later) showFlash();
  }

  function showFlash() {
    let saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(FLASH_KEY) || "null");
      window.sessionStorage.removeItem(FLASH_KEY);
    } catch (error) {
      return;
    }
    if (!saved) return;
    let list = document.querySelector(".messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      document.querySelector("main").before(list);
    }
    const li = document.createElement("li");
    li.className = `message ${saved.good ? "success" : "error"}`;
    li.textContent = saved.text;
    li.dataset.flash = "";
    list.append(li);
  }

  function taskLabel(form) {
    const title = document.querySelector(".task-head h1");
    const what = { complete: "sign-off", problem: "problem report", photo: "photo" }[form.dataset.fieldForm];
    return `${what} of “${title ? title.textContent.trim() : "a task"}”`;
  }

  function itemOf(form, uid, files) {
    return {
      uid,
      url: form.action,
      page: window.location.pathname,
      kind: form.dataset.fieldForm,
      task: form.dataset.task,
      label: taskLabel(form),
      fields: Array.from(new FormData(form).entries())
        .filter(([, value]) => typeof value === "string")
        .map(([name, value]) => [name, name === "client_uid" ? uid : value]),
      files: files || [],
      state: "queued",
      created: Date.now(),
    };
  }

  async function keep(form, item) {
    await queue.put(item);
    form.dataset.queued = "true";
    message(form, "Saved on this phone, will be sent when there is signal.", "queued");
    await render(navigator.onLine ? "" : "No signal now.");
  }

  /** Sign-off and problem report: one submission under the form's id. */
  async function submitOne(form) {
    const signature = form.querySelector("[data-signature-pad]");
    if (signature && signature.pad) signature.pad.save();
    const uid = form.querySelector("[name=client_uid]").value;
    const item = itemOf(form, uid);
    const button = form.querySelector("[type=submit]");
    if (!navigator.onLine) return keep(form, item);
    button.disabled = true;
    let result;
    try {
      result = await send(item);
    } catch (error) {
      button.disabled = false;
      return keep(form, item);
    }
    button.disabled = false;
    if (result.outcome === "ok") {
      await queue.remove(uid);
      flash(`${document.querySelector(".task-head h1").textContent.trim()}: ${result.data.status_display}.`, true, true);
      window.location.assign(result.data.next);
    } else if (result.outcome === "refused") {
      showError(form, result.data);
    } else if (result.outcome === "signed_out") {
      await keep(form, item);
      message(form, "Signed out: saved on this phone; sign in again and it is sent.", "queued");
    } else {
      await keep(form, item);
    }
  }

  function addPhotos(data) {
    const list = document.querySelector("[data-photo-list]");
    if (list && data.photo_urls) {
      data.photo_urls.forEach((url) => {
        const li = document.createElement("li");
        const img = document.createElement("img");
        img.src = url;
        img.alt = "Photo";
        li.append(img);
        list.append(li);
      });
    }
    const count = document.querySelector("[data-photo-count]");
    if (count && typeof data.photo_count === "number") count.textContent = plural(data.photo_count, "photo");
  }

  /** Photos: each its own submission, under its own id, so one lost photo is resent alone. */
  async function submitPhotos(form) {
    const input = form.querySelector("[data-photo-input]");
    const files = Array.from(input.files || []);
    if (!files.length) {
      showError(form, { field: "photo", detail: "choose a photo to add" });
      return;
    }
    let kept = 0;
    let online = navigator.onLine;
    for (const file of files) {
      const item = itemOf(form, uuid4(), [["photo", file, file.name || "photo.jpg"]]);
      item.label = `photo ${file.name} of “${document.querySelector(".task-head h1").textContent.trim()}”`;
      if (!online) {
        await queue.put(item);
        kept += 1;
        continue;
      }
      let result;
      try {
        result = await send(item);
      } catch (error) {
        online = false;
        await queue.put(item);
        kept += 1;
        continue;
      }
      if (result.outcome === "ok") addPhotos(result.data);
      else if (result.outcome === "refused") showError(form, result.data);
      else {
        await queue.put(item);
        kept += 1;
      }
    }
    input.value = "";
    if (kept) {
      message(form, `${plural(kept, "photo")} saved on this phone, will be sent when there is signal.`, "queued");
    } else if (!form.querySelector("[data-error-for=photo]:not([hidden])")) {
      message(form, `${plural(files.length, "photo")} uploaded.`, "ok");
    }
    await render();
  }

  async function adoptQueued(form) {
    // a submission of this form already waiting keeps its id: sending it again replaces it
    const uidInput = form.querySelector("[name=client_uid]");
    uidInput.value = uuid4();
    if (form.dataset.fieldForm === "photo") return;
    let items = [];
    try {
      items = await queue.all();
    } catch (error) {
      return;
    }
    const waiting = items.find((item) => item.url === form.action && item.state === "queued");
    if (waiting) {
      uidInput.value = waiting.uid;
      form.dataset.queued = "true";
      message(form, "Saved on this phone, will be sent when there is signal.", "queued");
    }
  }

  function setUpForms() {
    document.querySelectorAll("form[data-field-form]").forEach((form) => {
      adoptQueued(form);
      const photos = form.querySelector("[data-photo-input]");
      if (photos) photos.addEventListener("change", () => photos.files.length && form.requestSubmit());
      form.addEventListener("submit", (event) => {
        if (!window.indexedDB) return; // no queue on this phone: a plain post
        event.preventDefault();
        clearErrors(form);
        const work = form.dataset.fieldForm === "photo" ? submitPhotos(form) : submitOne(form);
        work.catch((error) => message(form, `Could not send: ${error}`, "bad"));
      });
    });
  }

  // --- signature pad ------------------------------------------------------------------------

  function setUpSignature() {
    const canvas = document.querySelector("[data-signature-pad]");
    if (!canvas) return;
    const form = canvas.closest("form");
    const hidden = form.querySelector("[data-signature]");
    const context = canvas.getContext("2d");
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#102a43";
    let drawing = false;
    let drawn = Boolean(hidden.value);
    if (drawn) {
      const image = new Image();
      image.onload = () => context.drawImage(image, 0, 0);
      image.src = hidden.value;
    }

    function point(event) {
      const rect = canvas.getBoundingClientRect();
      return [
        ((event.clientX - rect.left) * canvas.width) / rect.width,
        ((event.clientY - rect.top) * canvas.height) / rect.height,
      ];
    }
    canvas.addEventListener("pointerdown", (event) => {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      const [x, y] = point(event);
      context.beginPath();
      context.moveTo(x, y);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      const [x, y] = point(event);
      context.lineTo(x, y);
      context.stroke();
      drawn = true;
      event.preventDefault();
    });
    const stop = () => {
      drawing = false;
    };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    form.querySelector("[data-signature-clear]").addEventListener("click", () => {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
      hidden.value = "";
    });
    canvas.pad = {
      save() {
        hidden.value = drawn ? canvas.toDataURL("image/png") : "";
      },
    };
    form.addEventListener("submit", () => canvas.pad.save(), true);
  }

  // --- ONT serial scan (where the phone's browser can read barcodes) -----------------------

  function setUpScan() {
    const button = document.querySelector("[data-scan]");
    if (!button || !("BarcodeDetector" in window)) return;
    const picker = document.querySelector("[data-scan-file]");
    const hint = document.querySelector("[data-scan-hint]");
    const target = button.closest(".with-button").querySelector("input[name=ont_serial]");
    button.hidden = false;
    button.addEventListener("click", () => picker.click());
    picker.addEventListener("change", async () => {
      const file = picker.files && picker.files[0];
      if (!file) return;
      hint.hidden = false;
      hint.textContent = "Reading the code…";
      try {
        const bitmap = await createImageBitmap(file);
        const codes = await new window.BarcodeDetector().detect(bitmap);
        if (codes.length) {
          target.value = codes[0].rawValue.trim().toUpperCase();
          hint.textContent = "Read from the label: check it matches.";
        } else {
          hint.textContent = "No code found on the photo: type the serial.";
        }
      } catch (error) {
        hint.textContent = "This phone cannot read the code: type the serial.";
      }
      picker.value = "";
    });
  }

  // --- maps (Leaflet from our own static files) ---------------------------------------------

  function baseMap(element, baseMapConfig) {
    const map = L.map(element, { zoomSnap: 0.25, scrollWheelZoom: false, tap: true });
    if (baseMapConfig) {
      L.tileLayer(baseMapConfig.url, { attribution: baseMapConfig.attribution, maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function numbered(number) {
    return L.divIcon({
      className: "stop-icon",
      html: `<span>${number}</span>`,
      iconSize: [30, 30],
      iconAnchor: [15, 15],
    });
  }

  function setUpMaps() {
    if (typeof L === "undefined") return;
    const day = document.getElementById("day-map");
    const dayConfig = config("field-day-config");
    if (day && dayConfig && dayConfig.stops.length) {
      const points = dayConfig.stops.map((stop) => [stop.lat, stop.lon]);
      const map = baseMap(day, dayConfig.baseMap);
      if (points.length === 1) map.setView(points[0], 17);
      else map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 17 });
      if (points.length > 1) L.polyline(points, { color: "#0b6e99", weight: 3, dashArray: "6 6" }).addTo(map);
      dayConfig.stops.forEach((stop) => {
        L.marker([stop.lat, stop.lon], { icon: numbered(stop.number), title: `${stop.number}. ${stop.label}` })
          .on("click", () => window.location.assign(stop.url))
          .addTo(map);
      });
      day.dataset.ready = "true";
    }
    const task = document.getElementById("task-map");
    const taskConfig = config("field-task-config");
    if (task && taskConfig) {
      const at = [taskConfig.point.lat, taskConfig.point.lon];
      const map = baseMap(task, taskConfig.baseMap);
      map.setView(at, 17);
      L.circleMarker(at, { radius: 10, color: "#102a43", fillColor: "#0b6e99", fillOpacity: 0.9 })
        .bindTooltip(taskConfig.label)
        .addTo(map);
      task.dataset.ready = "true";
    }
  }

  // --- start --------------------------------------------------------------------------------

  function start() {
    showFlash();
    setUpMaps();
    setUpSignature();
    setUpScan();
    if (window.indexedDB) {
      setUpForms();
      window.addEventListener("online", () => flush());
      window.addEventListener("offline", () => render("No signal now."));
      window.setInterval(() => flush(), RETRY_MS);
      flush();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
