"""Transfers in under a child protection plan (form SOC 1233, DOMAIN.md §3)."""
