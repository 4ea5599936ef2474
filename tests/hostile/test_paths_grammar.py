"""Catalogue: names and paths against shared.paths grammars."""

import pytest

from shared.paths import InvalidName, check_job_name, check_relative_path, check_run_id

BAD_PATHS = {
    "dotdot": "a/../b/", "encoded_dotdot": "trav/%2e%2e/%2e%2e/victim/", "dot": "./a/", "leading_slash": "/a/",
    "backslash": "a\\b/", "nul": "a\x00b/", "crlf": "a\r\nb/", "query": "a?x=1/", "fragment": "a#b/",
    "fullwidth_dots": "a/\uff0e\uff0e/b/", "long": "a/" * 40_000, "empty_segment": "a//b/", "empty": "",
    "encoded_backslash": "a%5cb/", "encoded_nul": "a%00/", "del_char": "a\x7f/",
}


@pytest.mark.parametrize("name", sorted(BAD_PATHS))
def test_bad_relative_paths_are_rejected(catalogue, name):
    with catalogue.case("paths.relative", name) as c:
        with pytest.raises(InvalidName) as info:
            check_relative_path(BAD_PATHS[name], field="path")
        c.check(info.value.field == "path", "the error names the field")


BAD_IDS = {"traversal": "../instances", "dot": ".", "query": "r-1?x=", "slash": "r-1/", "hash": "r-1#x",
           "space": "r 1", "empty": "", "unicode": "r\u00e9", "long": "r" * 200, "not_a_string": 7}


@pytest.mark.parametrize("name", sorted(BAD_IDS))
def test_bad_run_ids_are_rejected(catalogue, name):
    with catalogue.case("paths.run_id", name) as c:
        with pytest.raises(InvalidName):
            check_run_id(BAD_IDS[name])


@pytest.mark.parametrize("name", ["traversal", "slash", "query", "hash", "space", "empty"])
def test_bad_job_names_are_rejected(catalogue, name):
    with catalogue.case("paths.job_name", name):
        with pytest.raises(InvalidName):
            check_job_name(BAD_IDS[name])
