"""Deterministic building blocks shared by the app's orchestrations (no I/O, no Azure SDK)."""
