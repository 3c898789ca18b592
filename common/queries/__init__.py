"""Saved queries: a generic filter engine that apps plug their models into.

- `registry`: each app registers the models and fields it lets people query (in its own
  `queries.py`, found by `autodiscover_modules("queries")`), so the engine never imports
  the apps above it;
- `access`: who may use queries at all, registered by the accounts layer;
- `definition`: the versioned JSON filter tree, parsed and validated;
- `compiler`: a definition → a queryset, result pages and GeoJSON;
- `exports`: CSV and XLSX, streamed;
- `services` / `selectors`: the `SavedQuery` writes and reads, with their permission checks.
"""
