"""The change feed for other GIS systems (`/api/sync/`): every address and area change in
order behind a resumable cursor, and an upsert of addresses keyed by (system, external id).
See docs/sync-api.md."""
