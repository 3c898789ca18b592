"""IQGeo → oanm address import (see docs/iqgeo.md)."""
