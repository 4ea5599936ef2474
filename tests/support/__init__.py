"""Test support: Azurite fixture (azurite.py), Durable history builder + replay (history.py),
and an in-process Durable extension stand-in with an HTTP API (durable_host.py)."""
