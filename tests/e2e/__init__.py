"""End-to-end tests: Azurite, the batch-endpoint emulator and the real function app, in process."""
