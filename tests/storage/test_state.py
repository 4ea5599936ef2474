from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.storage.blob import BlobServiceClient

from shared.storage.state import StateConflictError, StateStore


@pytest.fixture
def store(azurite, request):
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    return StateStore(service.get_container_client(f"state-{abs(hash(request.node.name)) % 10**8}"))


def test_exactly_one_concurrent_create_wins(store):
    with ThreadPoolExecutor(16) as pool:
        wins = list(pool.map(lambda n: store.create("claims/run-1.json", {"by": n}), range(16)))
    assert wins.count(True) == 1
    assert store.read("claims/run-1.json")["by"] == wins.index(True)


def test_concurrent_updates_lose_nothing(store):
    def increment(_):
        return store.update("counter.json", lambda doc: (None, {"n": (doc or {"n": 0})["n"] + 1}))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(increment, range(16)))
    assert store.read("counter.json") == {"n": 16}


def test_an_unchanged_document_is_not_written_and_missing_ones_read_none(store):
    assert store.read("absent.json") is None
    assert store.update("absent.json", lambda doc: ("kept", None)) == "kept"
    assert store.read("absent.json") is None
    store.write("doc.json", {"a": 1})
    assert list(store.names("doc")) == ["doc.json"]
    store.delete("doc.json")
    store.delete("doc.json")  # deleting twice is harmless
    assert store.read("doc.json") is None


def test_an_update_that_always_loses_says_so(store):
    store.write("hot.json", {"n": 0})

    def change_underneath(doc):
        store.write("hot.json", {"n": doc["n"] + 100})  # another writer wins every race
        return None, {"n": doc["n"] + 1}

    with pytest.raises(StateConflictError, match="kept changing"):
        store.update("hot.json", change_underneath, attempts=3)


def test_a_document_name_outside_the_grammar_never_reaches_storage():
    from shared.paths import InvalidName
    from shared.storage.state import StateStore

    class Refusing:  # any call to storage would fail the test
        def __getattr__(self, name):
            raise AssertionError(f"storage was called: {name}")

    store = StateStore(Refusing())
    store._ready = True
    for name in ("jobs/../runs/x.json", "runs/%2e%2e/x", "a\\b", "runs/x?comp=list", "/abs", "jobs/x\n"):
        for call in (lambda: store.read(name), lambda: store.write(name, {}), lambda: store.create(name, {}),
                     lambda: store.delete(name), lambda: store.update(name, lambda d: (None, {"x": 1}))):
            with pytest.raises(InvalidName):
                call()
