"""Local Azure ML batch-endpoint emulator (never deployed). See emulator/README.md."""
from .config import EmulatorConfig, load_config
from .core import Emulator
from .jobs import Job, JobStatus
from .server import EmulatorServer

__all__ = ["Emulator", "EmulatorConfig", "EmulatorServer", "Job", "JobStatus", "load_config"]
