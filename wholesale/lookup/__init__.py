"""The customers' public door, /lookup/: find an address, read its answer, sign up, book."""
