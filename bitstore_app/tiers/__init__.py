"""Tiers that need Django; the engine in `bitstore_app.core` does not import them."""
