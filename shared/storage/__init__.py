"""Blob storage: pure URI helpers (``uris``) and the SDK adapter (``connections``)."""
