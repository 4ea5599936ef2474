"""Problems name where they are in the project's words, whatever pydantic calls the location."""

from shared.config import ConfigError, parse_settings
from shared.config.problems import Where, where_of


def test_where_formats_labels_and_paths():
    assert str(Where("route 'r'").key("poll").key("x")) == "route 'r': poll.x"
    assert str(Where().key("sinks").index(2).key("url")) == "sinks[2].url"
    assert str(Where().key("k" * 100)).endswith("…") and len(str(Where().key("k" * 100))) == 64


def test_pydantic_locations_become_route_and_datastore_labels():
    document = {"routes": [{"name": "heart"}, {"name": "a/b"}], "datastores": {"ws": {}}}
    assert str(where_of(("routes", 0, "batch_endpoint", "sinks", 1, "url"), document)) == "route 'heart': sinks[1].url"
    assert str(where_of(("routes", 1, "pipeline_endpoint_v1", "name"), document)) == "routes[1]: name"
    assert str(where_of(("datastores", "ws", "container"), document)) == "datastore 'ws': container"
    assert str(where_of(("datastores", "ws", "name"), document)) == "datastore 'ws'"


def test_a_route_kind_outside_the_union_names_kind():
    try:
        parse_settings({"routes": [{"name": "r", "kind": "v3", "match": {"container": "landing"}}]}, {})
    except ConfigError as exc:
        assert exc.problems == ["route 'r': kind: must be one of batch_endpoint, pipeline_endpoint_v1, got 'v3'"]
    else:
        raise AssertionError("accepted")


def test_every_problem_of_a_document_is_collected_in_one_pass():
    document = {"routes": [{"name": "r", "match": {"container": "landing"}, "poll": {"growth": 0, "events": 1},
                            "extra": True, "notify": {"on": ["Done", "Never"]}}], "rotues": []}
    try:
        parse_settings(document, {})
    except ConfigError as exc:
        assert sorted(exc.problems) == sorted([
            "rotues: unknown field (known: $schema, datastores, description, management_url, routes, state)",
            "route 'r': poll.growth: must be at least 1 and at most 10, got 0",
            "route 'r': poll.events: must be true or false, got 1",
            "route 'r': extra: unknown field (known: delivery, description, endpoint, input, inputs, kind, landing,"
            " match, name, notify, output, outputs, overrides, pipeline_endpoint, poll, sinks)",
            "route 'r': notify.on: must be a non-empty list of outcomes from Succeeded, Failed, Canceled, TimedOut,"
            " got ['Done', 'Never']"])
    else:
        raise AssertionError("accepted")


def test_a_datastore_named_like_a_route_kind_keeps_its_field_words():
    document = {"routes": [{"name": "r", "match": {"container": "landing"}}],
                "datastores": {"batch_endpoint": {"account_url": "https://x.blob.core.windows.net", "container": "B"}}}
    try:
        parse_settings(document, {})
    except ConfigError as exc:
        assert "datastore 'batch_endpoint': container: 'B' is not a valid blob container name" in exc.problems
    else:
        raise AssertionError("accepted")
