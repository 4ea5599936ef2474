"""Catalogue: hostile manifest blobs (manifest landing mode). Each is refused with ManifestError naming the item,
never a crash, and the message carries no control character."""

import json

import pytest

from shared.landing.rules import ManifestError, parse_manifest

CASES = {
    "not_json": b"not json",
    "deeply_nested": b"[" * 50_000 + b"]" * 50_000,
    "invalid_utf8": b"\xff\xfe[",
    "number": b"7",
    "object_without_files": b'{"items": []}',
    "empty_list": b"[]",
    "name_traversal": json.dumps(["../../victim.csv"]).encode(),
    "name_encoded_traversal": json.dumps(["%2e%2e"]).encode(),
    "name_double_encoded_traversal": json.dumps(["%252e%252e"]).encode(),
    "name_dot": json.dumps(["."]).encode(),
    "name_backslash": json.dumps(["a\\b.csv"]).encode(),
    "name_subfolder": json.dumps(["sub/a.csv"]).encode(),
    "name_absolute": json.dumps(["/etc/passwd"]).encode(),
    "name_nul": json.dumps(["a\u0000.csv"]).encode(),
    "name_crlf": json.dumps(["a\r\nINFO forged.csv"]).encode(),
    "name_fullwidth_dots": json.dumps(["\uff0e\uff0e"]).encode(),
    "name_too_long": json.dumps(["x" * 2000]).encode(),
    "name_not_a_string": json.dumps([{"name": 7}]).encode(),
    "name_empty": json.dumps([{"name": ""}]).encode(),
    "size_negative": json.dumps([{"name": "a.csv", "size": -1}]).encode(),
    "size_bool": json.dumps([{"name": "a.csv", "size": True}]).encode(),
    "size_float": json.dumps([{"name": "a.csv", "size": 1.5}]).encode(),
    "md5_garbage": json.dumps([{"name": "a.csv", "md5": "z" * 5000}]).encode(),
    "md5_number": json.dumps([{"name": "a.csv", "md5": 5}]).encode(),
    "item_list": json.dumps([["a.csv"]]).encode(),
    "huge_integer": b'[{"name": "a.csv", "size": ' + b"9" * 5000 + b"}]",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_manifest_is_refused_with_a_clear_error(catalogue, name):
    with catalogue.case("landing.manifest", name) as c:
        with pytest.raises(ManifestError) as info:
            parse_manifest(CASES[name])
        message = str(info.value)
        c.check(message and "\n" not in message and "\x00" not in message and len(message) < 600, message[:200])
