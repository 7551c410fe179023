"""Requests for consultation: the confidential consultation log (DOMAIN.md §3)."""
