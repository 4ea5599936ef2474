"""Test scoring script: each input file's content says how run() treats it.

ok | fail | fail-once | sleep:<s> | sleep-once:<s> | skip | write | print | exit
'-once' variants use marker files in the cwd (the job's work dir), which survive worker restarts.
"""
import os
import sys
import time


def init():
    print("flaky init", flush=True)


def _once(tag, name):
    marker = f"marker-{tag}-{name}"
    if os.path.exists(marker):
        return False
    open(marker, "w").close()
    return True


def run(mini_batch):
    out = []
    for path in mini_batch:
        name = os.path.basename(path)
        action = open(path, encoding="utf-8").read().strip()
        if action == "fail":
            raise ValueError(f"cannot score {name}")
        if action == "fail-once" and _once("fail", name):
            raise RuntimeError(f"transient failure on {name}")
        if action.startswith("sleep:"):
            time.sleep(float(action.split(":")[1]))
        if action.startswith("sleep-once:") and _once("sleep", name):
            time.sleep(float(action.split(":")[1]))
        if action == "skip":
            continue
        if action == "write":
            with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], name + ".out"), "w") as f:
                f.write(f"custom output for {name}\n")
        if action == "print":
            print(f"stdout line from {name}")
            print(f"stderr line from {name}", file=sys.stderr)
        if action == "exit":
            os._exit(3)
        out.append([name, action])
    return out
