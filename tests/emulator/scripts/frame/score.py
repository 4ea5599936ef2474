"""Returns a pandas DataFrame, as many real scoring scripts do; column names must not reach the output."""
import os

import pandas as pd


def init():
    pass


def run(mini_batch):
    return pd.DataFrame([{"file": os.path.basename(p), "rows": len(open(p).read().splitlines()), "score": 0.5}
                         for p in mini_batch])
