"""OGC API – Features at /ogc/: Part 1 Core and Part 2 CRS over addresses and areas, and
Part 4 edits (POST, PUT, PATCH) of areas. See docs/ogc.md."""
