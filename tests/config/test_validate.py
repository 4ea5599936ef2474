"""The generic validator knows nothing about routes: a toy model shows every rule it derives from metadata."""

from dataclasses import dataclass
from typing import Literal, Optional

from shared.config.fields import setting
from shared.config.validate import Problems, Where, build


@dataclass(frozen=True)
class Part:
    name: str = setting(pattern=r"^[a-z]+$", pattern_message="must be lowercase letters, got {value}")
    size: int = setting(1, minimum=1, maximum=10, why_max="(ten is plenty)")


@dataclass(frozen=True)
class Thing:
    label: str = setting(json_name="label-text")
    kind: Literal["a", "b"] = setting("a")
    ratio: Optional[float] = setting(None, minimum=0, maximum=1)
    parts: tuple[Part, ...] = setting((), item_label="part {name!r}")
    named: dict[str, Part] = setting(default_factory=dict, item_label="named {key}")
    flag: bool = setting(False)


def run(data):
    problems = Problems()
    return build(Thing, data, Where(), problems), problems.items


def test_defaults_come_from_the_model_and_json_names_are_honoured():
    thing, problems = run({"label-text": "x"})
    assert problems == [] and thing == Thing(label="x")


def test_every_problem_is_named_and_collected():
    thing, problems = run({"kind": "c", "ratio": float("nan"), "flag": 1, "extra": 0,
                           "parts": [{"name": "ok", "size": 11}, {"name": "Bad"}, "x"],
                           "named": {"n1": {"name": "q", "size": 0}}})
    assert thing is None
    assert problems == [
        "extra: unknown field (known: flag, kind, label-text, named, parts, ratio)",
        "label-text: is required",
        "kind: must be one of a, b, got 'c'",
        "ratio: must be a finite number, got nan (NaN and Infinity are not allowed)",
        "part 'ok': size: must be at least 1 and at most 10, got 11 (ten is plenty)",
        "parts[1]: name: must be lowercase letters, got 'Bad'",
        "parts[2]: must be an object, got 'x'",
        "named 'n1': size: must be at least 1 and at most 10, got 0",
        "flag: must be true or false, got 1",
    ]


def test_where_formats_labels_and_paths():
    assert str(Where("route 'r'").key("poll").key("x")) == "route 'r': poll.x"
    assert str(Where().key("sinks").index(2).key("url")) == "sinks[2].url"
    assert str(Where().key("k" * 100)).endswith("…") and len(str(Where().key("k" * 100))) == 64
