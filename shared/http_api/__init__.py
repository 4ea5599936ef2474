"""HTTP functions: request parsing and responses."""
