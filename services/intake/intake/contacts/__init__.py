"""Contacts and referrals: submitted, routed, locked down, forwarded, returned for consent."""
