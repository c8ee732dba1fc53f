"""The HTTP layer: app factory, routers, request/response models, the error→status table."""
