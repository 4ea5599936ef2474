"""The crash bench's parts: settings, the process-wide fault wrappers, the stack (Azurite, the emulator), one
scenario and its ground truth. ``python -m bench.crash_bench`` is the entry point."""
