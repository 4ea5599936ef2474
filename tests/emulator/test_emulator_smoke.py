from conftest import SAMPLE, body, ds_uri, unique, upload, wait_for, emulator_job


def test_smoke(server, client, store):
    folder = unique("in/heart")
    upload(store, folder, {f.name: f.read_bytes() for f in sorted((SAMPLE / "data").glob("*.csv"))})
    out = unique("out") + "/predictions.csv"
    r = client.post("/endpoints/heart/jobs", json=body(ds_uri(folder), ds_uri(out)))
    assert r.status_code == 201, r.text
    job = wait_for(client, "heart", r.json()["name"])
    print(job)
    print(client.get(f"/endpoints/heart/jobs/{job['name']}/logs").text)
    print(emulator_job(server, job["name"]))
    assert job["properties"]["status"] == "Completed"
