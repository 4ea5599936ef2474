"""Stand-ins for the batch-endpoint activities (plain functions) for HTTP-level tests: a job that ends ``final``
after ``polls`` status calls (``final=None``: it never ends). Delivery and notification run for real.

The same flows run against the real emulator in tests/e2e; these stand-ins only drive states quickly."""

from __future__ import annotations

from typing import Optional


class ScriptedJob:
    def __init__(self, polls: int = 2, final: Optional[str] = "Completed"):
        self.polls, self.final = polls, final
        self.calls: list[str] = []

    def activities(self) -> dict:
        def submit_job(payload):
            self.calls.append("submit")
            return {"job_name": "job-1", "status": "Queued", "studio_url": "https://ml.azure.com/runs/job-1"}

        def get_job_status(payload):
            self.calls.append("status")
            if "cancel" in self.calls:
                return {"status": "Canceled"}
            if self.final and self.calls.count("status") >= self.polls:
                return {"status": self.final, **({"job_error": "scoring script raised ValueError"}
                                                 if self.final == "Failed" else {})}
            return {"status": "Running"}

        def cancel_job(payload):
            self.calls.append("cancel")
            return {"cancel_requested": True}

        return {"submit_job": submit_job, "get_job_status": get_job_status, "cancel_job": cancel_job}
