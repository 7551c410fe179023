"""Checks: requests for checks, referral quality, child matching, cross-border links."""
