"""``python -m shared.config [--check]``: write (or check) config/routes.schema.json, generated from the models."""

import sys

from .loader import schema_main

raise SystemExit(schema_main(sys.argv[1:]))
