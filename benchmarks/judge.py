"""How good a judge is the discriminator, and how close does the game get to D = 1/2?

    python benchmarks/judge.py                    # the default digits job, checkpoints every 500 steps
    python benchmarks/judge.py --steps 3000 --seeds 0 1 2

For each checkpoint of a training run (the `digits` preset, the default job): the AUROC of the
run's own D separating held-out real digits (never trained on) from the run's samples (G_ema,
as `ganforge sample` draws them), and its mean probability on each. At the end, the honest
check of the equilibrium claim: a fresh D of the same architecture, newly initialised, trained
on the training split against the frozen final G (Adam, 2,000 steps), then its accuracy on
held-out reals and fresh samples: 50 % means it cannot tell them apart (G perfect for this D).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score

import _harness as H

sys.path.insert(0, str(H.ROOT / "src"))

from ganforge.build import build_models  # noqa: E402
from ganforge.losses import build_loss  # noqa: E402
from ganforge.train.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from ganforge.trained import load_run  # noqa: E402


@torch.no_grad()
def judge_at(run_dir: Path, step: int, held: torch.Tensor, n: int) -> dict:
    ckpt = load_checkpoint(run_dir, step)
    g = load_run(run_dir, step=step)
    _, D = build_models(g.cfg, g.data.shape, g.n_classes)
    D.load_state_dict(ckpt["D"])
    D.eval()
    fake = g.generate(n, seed=123)  # data space, [0, 1]
    lr = D(g.data.encode(held[:n]), None)
    lf = D(g.data.encode(fake), None)
    y = torch.cat([torch.ones(len(lr)), torch.zeros(len(lf))])
    s = torch.cat([lr, lf])
    return {"step": step, "auroc": roc_auc_score(y.numpy(), s.numpy()), "d_real": float(torch.sigmoid(lr).mean()),
            "d_fake": float(torch.sigmoid(lf).mean())}


def fresh_d(run_dir: Path, held: torch.Tensor, steps: int, seed: int) -> float:
    """Held-out accuracy of a new D trained against the frozen final G."""
    g = load_run(run_dir)
    torch.manual_seed(seed)
    _, D = build_models(g.cfg, g.data.shape, g.n_classes)
    opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = build_loss("non_saturating")
    train = g.data.images.float() / 255
    gen = torch.Generator().manual_seed(seed)
    for i in range(steps):
        idx = torch.randint(len(train), (64,), generator=gen)
        with torch.no_grad():
            fake = g.generate(64, seed=10_000 + i)
        lossd = loss.d_loss(D(g.data.encode(train[idx]), None), D(g.data.encode(fake), None))
        opt.zero_grad(set_to_none=True)
        lossd.backward()
        opt.step()
    D.eval()
    with torch.no_grad():
        fake = g.generate(len(held), seed=999)
        right = (D(g.data.encode(held), None) > 0).float().sum() + (D(g.data.encode(fake), None) <= 0).float().sum()
    return float(right / (2 * len(held)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--fresh-steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--out", default=str(H.RESULTS / "judge.md"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    lines = ["# The discriminator as a judge, and the equilibrium check", "",
             f"`python benchmarks/judge.py --steps {a.steps} --seeds {' '.join(map(str, a.seeds))}`: the default "
             f"digits job (preset `digits`), {a.steps} steps, checkpoints every {a.every}; {a.n} held-out real "
             "digits (the test split, never trained on) against as many samples of G_ema. One CPU thread.", "",
             "| seed | step | D's AUROC held-out real vs fake | mean D(real) | mean D(fake) |", "|---|---|---|---|---|"]
    fresh = []
    for seed in a.seeds:
        # the run's TensorBoard files stay on, as they were
        cfg = H.config("digits", [f"train.steps={a.steps}", f"train.ckpt_every={a.every}", "train.keep_ckpts=100",
                                  "eval.every=0"], seed=seed, threads=1,
                       quiet=["train.progress=false", "train.sample_every=0"])
        with H.trained(cfg, via_api=True) as t:
            run = t.run_dir
            g = load_run(run)
            hx, _ = g.data.holdout
            held = hx.float()[: a.n] / 255
            for step, _ in list_checkpoints(run):
                r = judge_at(run, step, held, a.n)
                lines.append(f"| {seed} | {step} | {r['auroc']:.3f} | {r['d_real']:.3f} | {r['d_fake']:.3f} |")
                print(lines[-1], flush=True)
            fresh.append(fresh_d(run, held, a.fresh_steps, seed))
    lines += ["", "A fresh D (same architecture, new weights) trained against the frozen final G for "
              f"{a.fresh_steps} Adam steps, accuracy on held-out reals and fresh samples (50 % = cannot tell): "
              + ", ".join(f"seed {s}: {100 * f:.1f} %" for s, f in zip(a.seeds, fresh)) + "."]
    H.write_results(lines, a.out, threads=1)


if __name__ == "__main__":
    main()
