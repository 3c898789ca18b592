"""OGC API – Features (Part 1 Core, Part 2 CRS) over addresses and areas, read-only."""
