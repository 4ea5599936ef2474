"""Delivering a run's outputs to its downstream sinks."""
