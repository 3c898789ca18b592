"""The dispatchers' operations view at /field/ops/: work orders on a map and a list,
overdue and stuck work, crew load, deployment progress, acceptance, routes and bookings."""
