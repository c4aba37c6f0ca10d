"""Fit CTGAN (``ctgan`` 0.12.1, its defaults) on a CSV and write a synthetic CSV; run ONLY with the
separate benchmark environment's python (ctgan is never a ganforge dependency). Prints one JSON
line: fit seconds and peak resident memory (MiB) of this process.

    /work/ctgan-venv/bin/python benchmarks/ctgan_fit.py TRAIN.csv OUT.csv --discrete a,b --epochs 300 --seed 0
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

import _harness as H  # its module level needs no ganforge: this environment has none

p = argparse.ArgumentParser()
p.add_argument("train")
p.add_argument("out")
p.add_argument("--discrete", default="")
p.add_argument("--epochs", type=int, default=300)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--n", type=int, default=1000)
a = p.parse_args()
torch.set_num_threads(1)  # the machine is shared; ganforge's side runs on one thread as well
np.random.seed(a.seed)
torch.manual_seed(a.seed)
from ctgan import CTGAN  # noqa: E402

df = pd.read_csv(a.train)
discrete = [c for c in a.discrete.split(",") if c]
for c in discrete:
    df[c] = df[c].astype(str)
t = time.perf_counter()
model = CTGAN(epochs=a.epochs)
model.set_random_state(a.seed)
model.fit(df, discrete)
fit_s = time.perf_counter() - t
model.sample(a.n).to_csv(a.out, index=False)
print(json.dumps({"fit_s": fit_s, "peak_mb": H.peak_mb()}))
