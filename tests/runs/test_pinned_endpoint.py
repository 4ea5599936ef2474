"""A run's pinned endpoint goes back through the routes document's own validation (shared/runs/pinning.py)."""

import pytest

from shared.config import EndpointConfig, Workspace
from shared.runs.pinning import PinnedEndpointError, endpoint_of, pin

ENDPOINT = EndpointConfig("https://h.eastus.inference.ml.azure.com/jobs", "blue", Workspace("s", "rg", "ws"))


class Unpinned:
    endpoint = None


def test_a_pinned_endpoint_round_trips():
    assert endpoint_of(Unpinned, pin(ENDPOINT)) == ENDPOINT


@pytest.mark.parametrize("change, expected", [
    ({"scoring_uri": "http://evil.example.com/jobs"}, "the run's pinned endpoint: scoring_uri: must be an https://"),
    ({"deployment": "a/b"}, "the run's pinned endpoint: deployment: must be a deployment name"),
    ({"extra": 1}, "the run's pinned endpoint: extra: unknown field (known: deployment, deployment_kind,"),
])
def test_a_tampered_pinned_endpoint_is_refused_in_the_documents_words(change, expected):
    with pytest.raises(PinnedEndpointError) as caught:
        endpoint_of(Unpinned, {**pin(ENDPOINT), **change})
    assert str(caught.value).startswith(expected)
