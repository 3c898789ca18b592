"""The ISPs' door: server-rendered pages at /isp/ for ISP users (their own business) and the
owner's staff (every ISP's, read-only)."""
