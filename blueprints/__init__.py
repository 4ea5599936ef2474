"""The app's Functions, one blueprint per area, registered by ``function_app.py``.

Each module holds decorators and one-line wrappers only: a wrapper imports its ``shared`` module in its body,
never at import (the worker imports every blueprint on a cold start). ``registry`` names the Durable
functions for both the registration here and the orchestrators in ``shared``.
"""
