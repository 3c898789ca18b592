"""VETRO FiberMap: service locations in, commercial state out (docs/vetro.md)."""
