"""Who uses the service: union members, staff accounts, bearer tokens."""
