"""A local Functions host for development where Core Tools is not installed (dev-only, never deployed).

``python -m devhost`` serves ``function_app.py`` like ``func start``: see :mod:`devhost.host`.
"""
