// The area list (/areas/): a click anywhere on a row opens the area (Ctrl/⌘ or the middle
// button open it in a new tab); ticking a phase or a toggle applies the filter at once;
// empty filter fields stay out of the address.
(function () {
  "use strict";

  const table = document.getElementById("area-table");
  if (table) {
    const open = (event) => {
      const row = event.target.closest("tr[data-href]");
      if (!row || event.target.closest("a, button, input, label")) return;
      if (window.getSelection && String(window.getSelection()).length) return; // selecting text
      if (event.ctrlKey || event.metaKey || event.button === 1) {
        window.open(row.dataset.href, "_blank", "noopener");
      } else if (event.button === 0) {
        window.location.assign(row.dataset.href);
      }
    };
    table.addEventListener("click", open);
    table.addEventListener("auxclick", open);
  }

  const filters = document.getElementById("area-filters");
  if (filters) {
    filters.addEventListener("change", (event) => {
      if (event.target.type === "checkbox") filters.requestSubmit();
    });
    // Leave empty fields out of the address, so links stay short and readable.
    filters.addEventListener("formdata", (event) => {
      for (const [key, value] of Array.from(event.formData.entries())) {
        if (value === "") event.formData.delete(key);
      }
    });
  }
})();
