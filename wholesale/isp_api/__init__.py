"""The ISP systems' API under /api/isp/: an ISP's own orders, services, customers,
notifications, webhook log and catalog, plus the network data every ISP may read.

Every queryset starts from `wholesale.selectors`, so another ISP's row is a 404 exactly like
one that does not exist; every write calls one service function.
"""
