"""Developer tools: the local stack (Azurite + emulator + func start) and the demo."""
