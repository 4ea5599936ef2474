"""Each route kind has one backend behind shared/route_backend.py's interface, and the activities that use it
never look at ``route.kind``."""

import ast
import inspect
from pathlib import Path
from typing import get_args

import pytest

from shared.config.models import RouteKind
from shared.route_backend import BACKENDS, RouteBackend, backend_for

ROOT = Path(__file__).resolve().parents[1]
INTERFACE = {name: inspect.signature(member) for name, member in vars(RouteBackend).items()
             if not name.startswith("_") and callable(member)}


def test_every_route_kind_has_a_backend_and_nothing_else_does():
    assert set(BACKENDS) == set(get_args(RouteKind))


@pytest.mark.parametrize("kind", sorted(get_args(RouteKind)))
def test_each_backend_implements_the_whole_interface(kind):
    backend = BACKENDS[kind]()
    assert set(INTERFACE) == {"submit", "status", "find_attempt", "cancel", "job_outputs"}
    for name, signature in INTERFACE.items():
        assert list(inspect.signature(getattr(backend, name)).parameters) == list(signature.parameters), name


def test_an_unknown_kind_is_refused_by_name():
    class Route:
        name, kind = "r1", "web_service"

    with pytest.raises(ValueError, match="route r1: no backend for kind 'web_service'"):
        backend_for(Route(), settings=None)


@pytest.mark.parametrize("path", ["shared/activities.py", "shared/delivery/activities.py",
                                  "shared/batch_endpoint/backend.py", "shared/pipeline_v1/backend.py"])
def test_the_activities_and_backends_never_dispatch_on_the_route_kind(path):
    tree = ast.parse((ROOT / path).read_text(), path)
    reads = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "kind"]
    assert reads == []
