"""Signed, expiring blob URLs, at the path the README names (the code is web/signed_urls.py)."""

from .web.signed_urls import signed_blob_url

__all__ = ["signed_blob_url"]
