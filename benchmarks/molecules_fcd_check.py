"""FCD of a kept LatentGAN benchmark run and of the training molecules, both against ChemNet run here on
the first 10,000 MOSES test molecules (the check behind benchmarks/results/molecules.md's FCD note).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/molecules_fcd_check.py /tmp/molbench/seed-0

Prints both as JSON lines and saves them to benchmarks/results/molecules_fcd_check.md.
"""

import json
import sys

import torch

import _harness as H
from ganforge.data.kinds.molecule_io import canonical
from ganforge.metrics.molecules import chemnet_stats, frechet
from ganforge.trained import load_run

torch.set_num_threads(1)
r = load_run(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ganforge-molecules-bench/seed-0")
gen = [s for s in r.data.strings(r.generate(10000, 0)) if s]
test = chemnet_stats([canonical(s) for s in r.data.test])
got = {"fcd_gen_vs_own_test10k": frechet(chemnet_stats(gen), test)}
print(json.dumps(got), flush=True)
got["fcd_train10k_vs_own_test10k"] = frechet(chemnet_stats(r.data.smiles[:10000]), test)
print(json.dumps({"fcd_train10k_vs_own_test10k": got["fcd_train10k_vs_own_test10k"]}), flush=True)
H.write_results(["# FCD check: a LatentGAN run's samples and the training molecules against the run's own test set", "",
                 f"Run: `{sys.argv[1] if len(sys.argv) > 1 else 'default'}`; ChemNet (fcd_torch) on 10,000 molecules each.", "",
                 "| what | FCD |", "|---|---|", f"| 10,000 samples of G | {got['fcd_gen_vs_own_test10k']:.2f} |",
                 f"| 10,000 training molecules | {got['fcd_train10k_vs_own_test10k']:.2f} |"],
                H.RESULTS / "molecules_fcd_check.md", threads=1)
