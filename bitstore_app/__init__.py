"""bitstore: a tiered, content-addressed blob store for Django."""
