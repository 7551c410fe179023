"""The index of open (and recently closed) cases, loaded by the case management system."""
