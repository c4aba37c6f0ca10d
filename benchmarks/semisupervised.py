"""Few labels, many unlabelled images: the semi-supervised GAN against classic augmentation
(issue 37, part 1).

For each seed and K, K training digits per class keep their labels (``data.labels_per_class``:
``ganforge.data.base.labels_to_keep`` with the run's seed, so every row sees the same K x 10
labelled images); the other training digits are unlabelled; the digits test split (360 images)
is only used for the final accuracy. Rows:

| row | what classifies the test digits |
|---|---|
| real only | the CNN of ``benchmarks/augmentation.py`` on the K x 10 labelled images |
| classic | the same CNN, with its classic augmentation (rotations, translations) |
| SSL GAN | the semi-supervised GAN's D (preset ``digits_ssl``), trained on the K x 10 labels + every training image unlabelled; D_ema when the run keeps an EMA of D (``train.d_ema_beta``) |
| SSL GAN, last D | with ``train.d_ema_beta`` only: the same run's D of the last step, not averaged (a paired comparison) |
| classic + pseudo-labels | the CNN, classic augmentation, on the labelled images + the unlabelled ones labelled by the SSL D |
| cGAN on SSL labels + classic | a conditional GAN trained on every training image with the SSL D's labels (true ones where kept), its samples added to the labelled images, the CNN with classic augmentation |

Held-out accuracy, mean +- standard error over seeds, in ``benchmarks/results/semisupervised.md``.

    python benchmarks/semisupervised.py --seeds 5 --ks 5 10 20 50
    python benchmarks/semisupervised.py --seeds 1 --ks 10 --ssl-steps 50 --clf-steps 50 --cgan-steps 0   # smoke
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import _harness as H
from augmentation import accuracy, to_tensor, train_classifier
from ganforge.data.base import labels_to_keep
from ganforge.data.images import digits_split
from ganforge.trained import load_run

OUT = H.RESULTS / "semisupervised.md"
ROWS = ("real only", "classic", "SSL GAN", "SSL GAN, last D", "classic + pseudo-labels", "cGAN on SSL labels + classic")


@torch.no_grad()
def ssl_predict(run, images: torch.Tensor) -> torch.Tensor:
    """The SSL D's classes (N,) of images (N, C, R, R) uint8 as the run's data holds them."""
    return torch.cat([run.D.classify(run.data.encode(b.float() / 255)).argmax(1) for b in images.split(512)])


def run_setting(k: int, seed: int, a, xtr8, ytr, xte8, yte, work: Path) -> dict:
    xtr, xte = to_tensor(xtr8[:, 0].numpy(), a.resolution), to_tensor(xte8[:, 0].numpy(), a.resolution)
    pick = labels_to_keep(ytr, k, seed)  # the rows the SSL run keeps labels of (same function, same seed)
    x, y = xtr[pick], ytr[pick]
    out = {"real only": accuracy(train_classifier(x, y, a.clf_steps, False, seed), xte, yte),
           "classic": accuracy(train_classifier(x, y, a.clf_steps, True, seed), xte, yte)}
    # the semi-supervised GAN: its D is the classifier
    cfg = H.config("digits_ssl", [f"data.labels_per_class={k}", f"train.steps={a.ssl_steps}", "eval.every=0",
                                  "train.sample_every=0", "train.ckpt_every=0", *a.ssl_set], seed=seed,
                   threads=a.threads)
    t0 = time.perf_counter()
    (work / f"ssl-k{k}-s{seed}").mkdir(parents=True, exist_ok=True)
    H.train(cfg, work / f"ssl-k{k}-s{seed}", callbacks=[])
    run = load_run(work / f"ssl-k{k}-s{seed}", parts=("D",))
    test_images, test_labels = run.data.holdout  # the digits test split, as the run's data holds it
    assert torch.equal(test_labels, yte)
    out["SSL GAN"] = float((ssl_predict(run, test_images) == yte).float().mean())
    if run.d_ema:  # the same run's last D, not averaged; the pseudo-labels below stay D_ema's
        averaged, run.D = run.D, copy.deepcopy(run.D)
        run.D.load_state_dict(torch.load(run.ckpt_path, weights_only=True)["D"])
        out["SSL GAN, last D"] = float((ssl_predict(run, test_images) == yte).float().mean())
        run.D = averaged
    out["ssl_s"] = time.perf_counter() - t0
    # pseudo-labels: the SSL D's classes for the unlabelled images, the true ones where kept
    pseudo = ssl_predict(run, run.data.images)  # the training split, in digits_split's order
    pseudo[pick] = y
    out["pseudo_acc"] = float((pseudo == ytr).float().mean())  # how right the pseudo-labels are (reported)
    out["classic + pseudo-labels"] = accuracy(train_classifier(xtr, pseudo, a.clf_steps, True, seed), xte, yte)
    if a.cgan_steps:
        npz = work / f"pseudo-k{k}-s{seed}.npz"
        np.savez(npz, images=(xtr8[:, 0] * 255).round().byte().numpy(), labels=pseudo.numpy())
        gcfg = H.config("digits_small", ["data.name=npz", f"data.path={npz}", "data.limit=0", "data.channels=1",
                                         f"data.resolution={a.resolution}", "model.conditional=true",
                                         f"train.steps={a.cgan_steps}", "eval.every=0", "doctor.enabled=false",
                                         "eval.n_samples=200", "train.sample_every=0"], seed=seed, threads=a.threads)
        g = H.train(gcfg, work / f"cgan-k{k}-s{seed}", via_api=True).result
        labels = torch.arange(10).repeat_interleave(a.per_class)
        syn = g.generator.generate(len(labels), seed=seed, label=labels).clamp(0, 1)
        net = train_classifier(torch.cat([x, syn]), torch.cat([y, labels]), a.clf_steps, True, seed, len(x),
                               a.syn_share)
        out["cGAN on SSL labels + classic"] = accuracy(net, xte, yte)
    return out


def _job(job) -> dict:
    """One (K, seed) setting in a worker process (``--workers``): the data read there."""
    k, seed, a, work = job
    torch.set_num_threads(a.threads)
    (xtr, ytr), (xte, yte) = digits_split()
    xtr8, xte8 = torch.from_numpy(xtr).float()[:, None], torch.from_numpy(xte).float()[:, None]
    out = run_setting(k, seed, a, xtr8, torch.from_numpy(ytr).long(), xte8, torch.from_numpy(yte).long(), Path(work))
    print("done", k, seed, {row: round(v, 4) for row, v in out.items()}, flush=True)
    if a.log:  # each setting as it finishes, one JSON line: a long run stopped early keeps what it measured
        with open(a.log, "a") as f:
            f.write(json.dumps({"k": k, "seed": seed, **out}) + "\n")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed + seeds - 1 (more seeds into the same --log; then --from-log)")
    p.add_argument("--ks", type=int, nargs="+", default=[5, 10, 20, 50])
    p.add_argument("--ssl-steps", type=int, default=4000)
    p.add_argument("--ssl-set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for the SSL GAN's config")
    p.add_argument("--cgan-steps", type=int, default=1500, help="0 skips the conditional-GAN row")
    p.add_argument("--clf-steps", type=int, default=600)
    p.add_argument("--per-class", type=int, default=100, help="cGAN row: synthetic images per class")
    p.add_argument("--syn-share", type=float, default=0.3, help="cGAN row: share of each batch drawn synthetic")
    p.add_argument("--resolution", type=int, default=16, help="the CNN rows' image size (the SSL D: its preset's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="(K, seed) settings trained at once, each in its process")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--log", default="", help="append each finished setting to this JSON-lines file")
    p.add_argument("--from-log", default="", help="only make the table, from a --log file (a run stopped early)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    (xtr, ytr), (xte, yte) = digits_split()
    results, extra = {}, {}
    if a.from_log:  # the table of the settings a stopped run logged (each K: the seeds that finished)
        done = [json.loads(line) for line in Path(a.from_log).read_text().splitlines() if line.strip()]
        a.ks = [k for k in a.ks if any(r["k"] == k for r in done)]
    else:
        jobs = [(k, s) for s in range(a.first_seed, a.first_seed + a.seeds) for k in a.ks]  # seed-major: every K gets its first seeds first
        with H.temp_dir() as tmp:
            done = list(H.pool_map(_job, [(k, s, a, str(tmp)) for k, s in jobs], a.workers))
        done = [{"k": k, "seed": s, **r} for (k, s), r in zip(jobs, done)]
    seeds = {k: sorted(r["seed"] for r in done if r["k"] == k) for k in a.ks}
    for k in a.ks:
        per_seed = [r for r in done if r["k"] == k]
        results[k] = {row: [r[row] for r in per_seed if row in r] for row in ROWS}
        extra[k] = {key: [r[key] for r in per_seed] for key in ("pseudo_acc", "ssl_s")}

    def cell(v: list) -> str:  # in %; one seed: '± nan'; a row not run: '-'
        return H.pm(v, "{:.1f}", scale=100, alone=math.nan) if v else "-"

    cmd = (f"python benchmarks/semisupervised.py --seeds {a.seeds} --ks {' '.join(map(str, a.ks))} --ssl-steps "
           f"{a.ssl_steps} --cgan-steps {a.cgan_steps} --clf-steps {a.clf_steps}"
           + (f" --ssl-set {' '.join(a.ssl_set)}" if a.ssl_set else ""))
    lines = ["# Few labels, many unlabelled digits: held-out accuracy (%)", "",
             "Seeds per K: " + "; ".join(f"K = {k}: {len(v)} ({', '.join(map(str, v))})" for k, v in seeds.items())
             + (" (the settings that finished; from the run's log)" if a.from_log else "")
             + ". K labelled training digits per class (the same rows for every row of a seed), "
             + f"the other {len(xtr)} - 10K training digits unlabelled, {len(xte)} held-out test digits. SSL GAN: "
             f"preset `digits_ssl`{''.join(', ' + o for o in a.ssl_set)}, {a.ssl_steps} steps; its D classifies. "
             f"CNN rows: `benchmarks/augmentation.py`'s CNN and classic augmentation at {a.resolution} px, "
             f"{a.clf_steps} Adam steps of batch 64. cGAN row: preset `digits_small` conditional, {a.cgan_steps} "
             f"steps on every training image with the SSL D's labels, {a.per_class} samples per class, "
             f"{100 * a.syn_share:.0f} % of each batch synthetic. Command: `{cmd}`. Total "
             + (f"{time.perf_counter() - t0:.0f} s" if not a.from_log else "time: see SSL run (s)")
             + f" (a shared machine, {a.workers} setting(s) at once: wall times under load).", "",
             "| K per class | " + " | ".join(ROWS) + " | pseudo-label accuracy | SSL run (s) |",
             "|---" * (len(ROWS) + 3) + "|"]
    for k, rows in results.items():
        lines.append(f"| {k} | " + " | ".join(cell(rows[r]) for r in ROWS) + f" | {cell(extra[k]['pseudo_acc'])} | "
                     f"{H.mean(extra[k]['ssl_s']):.0f} |")
    lines += ["", "Target: the SSL GAN at least 2 points above classic augmentation at K = 10 and K = 20."]
    H.write_results(lines, a.out, threads=a.threads)


if __name__ == "__main__":
    main()
