"""An output blob the same job wrote is its own write, seen again by the storage SDK's retry of a slow create;
a blob another job wrote is a path that already exists (contract §1.6) and fails the job."""

import pytest

from emulator.config import EmulatorConfig, StorageAccount
from emulator.storage import BlobLocation, PathExistsError, Storage


@pytest.fixture
def storage(azurite):
    account = azurite.default
    config = EmulatorConfig(storage_accounts={"acct": StorageAccount("acct", account.connection_string)})
    return Storage(config)


def test_a_create_that_finds_its_own_blob_succeeds(storage):
    where = BlobLocation("acct", "emu-outputs", "batch/run-1/predictions.csv")
    storage.upload_new(where, b"a,b\n", owner="job-1")
    storage.upload_new(where, b"a,b\n", owner="job-1")   # the SDK's retry after a lost answer
    blob = storage.container(where).get_blob_client(where.path)
    assert blob.download_blob().readall() == b"a,b\n"


def test_a_blob_another_job_wrote_fails_the_write(storage):
    where = BlobLocation("acct", "emu-outputs", "batch/run-2/predictions.csv")
    storage.upload_new(where, b"first\n", owner="job-1")
    with pytest.raises(PathExistsError):
        storage.upload_new(where, b"second\n", owner="job-2")
    with pytest.raises(PathExistsError):
        storage.upload_new(where, b"first\n")   # no owner: never taken for a retry
