"""Bringing up a finished installation's ONT on the access network, through a vendor adapter
(docs/provisioning.md)."""
