"""Batch-scoring runs for Azure ML batch endpoints, driven by storage events and HTTP."""

__version__ = "0.1.0"
