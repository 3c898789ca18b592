"""Layer 7: the external systems oanm talks to (IQGeo, VETRO, provisioning, OGC, sync)."""
