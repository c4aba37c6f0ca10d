"""The textbook claims about GANs that ganforge teaches, each put to an experiment.

1. At convergence D(x) and D(G(z)) tend to 1/2 and V(D, G) to -log 4 (Goodfellow et al. 2014,
   theorem 1): the last ``doctor.window`` log steps of ring8 and grid25 runs; and the honest
   check: a *fresh* D trained to convergence on the frozen final G, its held-out accuracy
   (1/2 would mean D cannot tell G's samples from data at all).
2. The saturating (minimax) G loss gives vanishing gradients early, the non-saturating one does
   not: same settings and seeds, G's gradient norm over the first 500 steps, and the final modes.
3. A discriminator that is too good starves G: G frozen, D trained towards its optimum, G's
   gradient norm against D steps for minimax, non-saturating and WGAN-GP.
4. Mode collapse: in a run that collapses by itself (no setting changed mid-run), the share of
   samples per mode over time, with the doctor's events on the same axis.
5. Remedies help: the Wasserstein loss (weight clipping; gradient penalty), batch norm, several
   discriminators, schedules and k D steps, one factor at a time, on grid25 at the preset's
   full budget.

Writes ``benchmarks/results/claims.md`` and figures ``claims_*.png`` next to it.

    python benchmarks/claims.py                      # the quick run (about 25 CPU-minutes)
    python benchmarks/claims.py --full               # the full protocol: 10 seeds, preset budgets,
                                                     # every claim-5 factor over 3 seeds
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import _harness as H

RESULTS = H.RESULTS
COMMON = ["train.ckpt_every=0", "train.threads=1"]  # with the harness's quiet overrides
LOG4 = math.log(4.0)

# claim 5: one factor at a time against the grid25 preset
# claim 5: each remedy added alone to the plain game (grid25_vanilla: non-saturating loss, k = 1,
# Adam 2e-4 / (0.5, 0.999), constant rate), against the plain game itself; the tuned preset (its
# remedies together) is a reference row. (preset, overrides) per factor.
BASE5 = "grid25_vanilla"
FACTORS = {
    "plain game (grid25_vanilla)": (BASE5, []),
    "WGAN, clip 0.01": (BASE5, ["loss.name=wasserstein", "loss.clip=0.01"]),
    "WGAN-GP": (BASE5, ["loss.name=wgan_gp"]),
    "batch norm G": (BASE5, ["model.g_norm=batch"]),
    "batch norm G and D": (BASE5, ["model.g_norm=batch", "model.d_norm=batch"]),
    "3 discriminators": (BASE5, ["model.d_ensemble=3"]),
    "linear lr decay": (BASE5, ["optim.schedule=linear"]),
    "k = 2 D steps": (BASE5, ["train.d_steps=2"]),
    "k = 5 D steps": (BASE5, ["train.d_steps=5"]),
    "tuned preset (grid25: its remedies together)": ("grid25", []),
}
# the same remedies on stacked digits (1,000 modes): the plain DCGAN game against each remedy alone
BASE5S = "stacked_digits_vanilla"
FACTORS_STACKED = {
    "plain game (stacked_digits_vanilla)": (BASE5S, []),
    "WGAN, clip 0.01": (BASE5S, ["loss.name=wasserstein", "loss.clip=0.01"]),
    "WGAN-GP": (BASE5S, ["loss.name=wgan_gp"]),
    "3 discriminators": (BASE5S, ["model.d_ensemble=3"]),
    "tuned preset (stacked_digits: spectral norm on D, EMA)": ("stacked_digits", []),
}
QUICK_FACTORS = ["plain game (grid25_vanilla)", "WGAN, clip 0.01", "WGAN-GP", "batch norm G"]


# ----------------------------------------------------------------------------- helpers


class Snapshots:
    """A callback keeping copies of the sampler at chosen steps, and per-mode counts on fixed
    noise every ``every`` steps (claim 4)."""

    def __init__(self, at=(), every: int = 0, n: int = 2000):
        from ganforge.train.callbacks import Callback

        self.at, self.every, self.n = set(at), every, n
        self.G, self.counts, self.data = {}, [], None
        snap = self

        class _Cb(Callback):
            def on_step_end(self, run, step):
                snap.data = run.data
                if step in snap.at or step == run.cfg.train.steps:
                    snap.G[step] = copy.deepcopy(run.sampler).eval()
                if snap.every and step % snap.every == 0:
                    snap.counts.append((step, mode_counts(run.sampler, run.prior, run.data, snap.n)))

        self.callback = _Cb()


def mode_counts(G, prior, data, n: int) -> list:
    """Per-mode counts of high-quality samples on fixed noise, plus the off-mode count last."""
    from ganforge.metrics.toy2d import mode_metrics

    was = G.training
    G.eval()
    with torch.no_grad():
        z = prior.sample(n, torch.Generator().manual_seed(7), torch.device("cpu"))
        x = data.decode(G(z, None))
    G.train(was)
    m = mode_metrics(x, data.centers, data.std)
    return m["counts"] + [n - sum(m["counts"])]


def run(preset: str, overrides: list, seed: int, snaps: Snapshots | None = None):
    """One ganforge run: (config, records, final evaluation, wall seconds)."""
    from ganforge.train.games import default_callbacks

    cfg = H.config(preset, [*COMMON, *overrides], seed=seed)
    with H.trained(cfg, callbacks=default_callbacks(cfg) + ([snaps.callback] if snaps else [])) as t:
        records = t.records()
    return cfg, records, t.metrics, t.wall_s


def steps_of(records):
    return [r for r in records if "loss_d" in r and "event" not in r]


def mean_sd(xs) -> str:
    """'mean ± sd' of the finite values; '-' when there is none."""
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return H.pm(xs, "{:.3f}", spread=H.sd) if xs else "-"


def fresh_d_accuracy(cfg, G, data, seed: int, steps: int) -> float:
    """A fresh D (the run's architecture) trained with Adam on the frozen G against fresh real
    draws until ``steps``; accuracy on 5,000 + 5,000 held-out samples (1/2: cannot tell)."""
    from ganforge.build import build_models
    from ganforge.priors import Prior

    torch.manual_seed(10_000 + seed)
    _, D = build_models(cfg, data.shape)
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(20_000 + seed)

    def fakes(n):
        with torch.no_grad():
            return G(prior.sample(n, gen, torch.device("cpu")), None)

    for i in range(steps):
        real = data.encode(data.reference(256, 30_000 + 100_000 * seed + i))
        loss = F.softplus(-D(real, None)).mean() + F.softplus(D(fakes(256), None)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    D.eval()
    with torch.no_grad():
        real = data.encode(data.reference(5000, 99_999))
        acc = 0.5 * ((D(real, None) > 0).float().mean() + (D(fakes(5000), None) <= 0).float().mean())
    return float(acc)


# ----------------------------------------------------------------------------- claims


def claim1(a) -> tuple[list, str]:
    """Final-window d_real, d_fake, V; a fresh D's held-out accuracy on the final G (and on G
    at step 500, to show the check can tell a poor G)."""
    lines = ["| data | seeds | steps | d_real | d_fake | V | V + log 4 | fresh D accuracy, final G | "
             "fresh D accuracy, G at step 500 | modes | hq |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    allv, accs = [], []
    for preset in ("ring8", "grid25"):
        rows = []
        for seed in range(a.seeds1):
            snaps = Snapshots(at=(500,))
            cfg, recs, m, _ = run(preset, [f"train.steps={a.steps1}", "eval.every=0"], seed, snaps)
            last = steps_of(recs)[-cfg.doctor.window:]
            acc = fresh_d_accuracy(cfg, snaps.G[a.steps1], snaps.data, seed, a.fresh_steps)
            acc500 = fresh_d_accuracy(cfg, snaps.G[500], snaps.data, seed, a.fresh_steps)
            rows.append((statistics.fmean(r["d_real"] for r in last), statistics.fmean(r["d_fake"] for r in last),
                         statistics.fmean(r["value"] for r in last), acc, acc500, m["modes"], m["hq"]))
            print(f"claim 1 {preset} seed {seed}: {rows[-1]}", flush=True)
        cols = list(zip(*rows))
        allv += list(zip(cols[0], cols[1], cols[2]))
        accs += list(cols[3])
        lines.append(f"| {preset} | {a.seeds1} | {a.steps1} | {mean_sd(cols[0])} | {mean_sd(cols[1])} | "
                     f"{mean_sd(cols[2])} | {mean_sd([v + LOG4 for v in cols[2]])} | {mean_sd(cols[3])} | "
                     f"{mean_sd(cols[4])} | {mean_sd(cols[5])} | {mean_sd(cols[6])} |")
    near = all(abs(r - .5) < .05 and abs(f - .5) < .05 and abs(v + LOG4) < .1 for r, f, v in allv)
    acc = statistics.fmean(accs)
    if near and acc < 0.55:
        verdict = "holds"
    elif near:
        verdict = "holds partly"
    else:
        verdict = "does not hold here"
    return lines, (f"**{verdict}**: the training D's final-window outputs are {'within' if near else 'not all within'} "
                   f"0.05 of 1/2 with V within 0.1 of -log 4 (every seed); a fresh D trained to convergence on the "
                   f"frozen final G tells its samples from data {100 * acc:.1f} % of the time on held-out samples "
                   f"(50 % would mean a perfect G)")


def claim2(a) -> tuple[list, str, dict]:
    out = {}
    for loss in ("minimax", "non_saturating"):
        out[loss] = []
        for seed in range(a.seeds2):
            _, recs, m, _ = run("grid25_vanilla", [f"loss.name={loss}", f"train.steps={a.steps2}", "train.log_every=10",
                                                   "eval.every=0", "eval.n_samples=2500"], seed)
            st = steps_of(recs)
            out[loss].append(({r["step"]: r["grad_g"] for r in st if r["step"] <= 500},
                              {r["step"]: r["g_logit_grad"] for r in st if r["step"] <= 500},
                              {r["step"]: r["d_fake"] for r in st if r["step"] <= 500}, m))
            print(f"claim 2 {loss} seed {seed}: modes {m['modes']}", flush=True)
    lines = ["| G loss | seeds | mean ‖∇G‖, steps ≤ 100 | mean ‖∇G‖, steps ≤ 500 | mean per-logit gradient, "
             "steps ≤ 500 | mean D(G(z)), steps ≤ 500 | final modes | final hq |", "|---|---|---|---|---|---|---|---|"]
    early = {}
    for loss, rs in out.items():
        g100 = [statistics.fmean(v for s, v in g.items() if s <= 100) for g, _, _, _ in rs]
        g500 = [statistics.fmean(g.values()) for g, _, _, _ in rs]
        lg = [statistics.fmean(x.values()) for _, x, _, _ in rs]
        df = [statistics.fmean(x.values()) for _, _, x, _ in rs]
        early[loss] = (statistics.fmean(g100), statistics.fmean(lg), statistics.fmean(m["modes"] for *_, m in rs))
        lines.append(f"| {loss} | {len(rs)} | {mean_sd(g100)} | {mean_sd(g500)} | {mean_sd(lg)} | {mean_sd(df)} | "
                     f"{mean_sd([m['modes'] for *_, m in rs])} | {mean_sd([m['hq'] for *_, m in rs])} |")
    mm, ns = early["minimax"], early["non_saturating"]
    ratio = mm[1] / max(ns[1], 1e-12)
    verdict = "holds" if ratio < 0.5 and mm[2] <= ns[2] else ("holds partly" if ratio < 0.5 or mm[2] < ns[2]
                                                              else "does not hold here")
    return lines, (f"**{verdict}**: over the first 500 steps the minimax loss passes {ratio:.2f}x the per-logit "
                   f"gradient of the non-saturating one ({mm[1]:.3f} vs {ns[1]:.3f}); G's parameter gradient over "
                   f"the first 100 steps {mm[0]:.3f} vs {ns[0]:.3f}; final modes {mm[2]:.1f} vs {ns[2]:.1f}"), out


def claim3(a) -> tuple[list, str, dict]:
    """G frozen at its (seeded) initialisation; D trained alone; G's gradient norm per loss."""
    from ganforge.build import build_data, build_models
    from ganforge.config import load_config
    from ganforge.losses import build_loss
    from ganforge.penalties import gradient_penalty
    from ganforge.priors import Prior

    cfg = load_config("grid25_vanilla", COMMON)
    data = build_data(cfg)
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    torch.manual_seed(0)
    G, D0 = build_models(cfg, data.shape)
    for p in G.parameters():
        p.requires_grad_(True)
    gen = torch.Generator().manual_seed(1)
    z_probe = prior.sample(1024, torch.Generator().manual_seed(2))
    curves = {}
    for d_kind in ("bce", "critic"):
        D = copy.deepcopy(D0)
        opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
        losses = ("minimax", "non_saturating") if d_kind == "bce" else ("wgan_gp",)
        for name in losses:
            curves[name] = []
        for i in range(a.d_steps3 + 1):
            if i % 50 == 0:
                for name in losses:
                    G.zero_grad()
                    build_loss(name).g_loss(D(G(z_probe, None), None)).backward()
                    gn = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in G.parameters()))
                    with torch.no_grad():
                        d_fake = float(torch.sigmoid(D(G(z_probe, None), None)).mean())
                    curves[name].append((i, gn, d_fake))
            real = data.sample(256)[0]
            with torch.no_grad():
                fake = G(prior.sample(256, gen), None)
            rl, fl = D(real, None), D(fake, None)
            if d_kind == "bce":
                loss = build_loss("non_saturating").d_loss(rl, fl)
            else:
                loss = build_loss("wgan_gp").d_loss(rl, fl) + 10 * gradient_penalty(D, real, fake, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
    lines = ["| G loss | D trained with | ‖∇G‖ at D step 0 | at 500 | at " + f"{a.d_steps3} | ratio last/first | "
             f"mean D(G(z)) at {a.d_steps3} |", "|---|---|---|---|---|---|---|"]
    ratios = {}
    for name, c in curves.items():
        at = {s: g for s, g, _ in c}
        ratios[name] = c[-1][1] / max(c[0][1], 1e-12)
        lines.append(f"| {name} | {'cross-entropy' if name != 'wgan_gp' else 'critic + gradient penalty 10'} | "
                     f"{c[0][1]:.4g} | {at.get(500, math.nan):.4g} | {c[-1][1]:.4g} | {ratios[name]:.3g} | "
                     f"{c[-1][2]:.3g} |")
    mm, ns, wg = ratios["minimax"], ratios["non_saturating"], ratios["wgan_gp"]
    ok = mm < 0.1 and ns > 10 * mm and wg > 10 * mm
    verdict = "holds" if ok else ("holds partly" if mm < ns and mm < wg else "does not hold here")
    return lines, (f"**{verdict}**: as D approaches its optimum against a frozen G, G's gradient under the minimax "
                   f"loss falls to {mm:.3g}x its first value; non-saturating {ns:.3g}x; WGAN-GP {wg:.3g}x"), curves


def claim4(a) -> tuple[list, str, dict]:
    """The oscillation scenario of benchmarks/doctor.py (k = 1, beta1 = 0.9, constant lr 1e-3):
    nothing is changed mid-run, and coverage collapses by itself."""
    snaps = Snapshots(every=100)
    over = [f"train.steps={a.steps4}", "train.d_steps=1", "optim.g_betas=[0.9,0.999]", "optim.d_betas=[0.9,0.999]",
            "optim.schedule=constant", "eval.every=1000"]
    _, recs, _, _ = run("grid25", over, a.seed4, snaps)
    events = [r for r in recs if r.get("event") == "mode_collapse"]
    lines = ["| step | modes covered (of 25) | largest mode's share | off-mode share | doctor |",
             "|---|---|---|---|---|"]
    peak, onset = 0, None
    for step, c in snaps.counts:
        n = sum(c)
        modes = sum(1 for x in c[:-1] if x > 0)
        peak = max(peak, modes)
        if onset is None and peak >= 13 and modes <= 0.5 * peak:
            onset = step
        doc = ", ".join(f"{e['state']} at {e['step']}" for e in events if step - 100 < e["step"] <= step)
        if step % 500 == 0 or doc:
            lines.append(f"| {step} | {modes} | {max(c[:-1]) / n:.2f} | {c[-1] / n:.2f} | {doc or ''} |")
    raised = [e["step"] for e in events if e["state"] == "raised"]
    if onset is None:
        text = f"**does not hold here**: this run kept at least half of its peak coverage ({peak} modes)"
    else:
        lag = [s - onset for s in raised if s >= onset - 100]
        text = (f"**holds**: coverage fell from a peak of {peak} modes to half or less at step {onset} with no "
                f"setting changed; the doctor raised mode_collapse at "
                f"{', '.join(map(str, raised)) or 'no step'}" + (f" ({lag[0]:+d} steps from the drop)" if lag else ""))
    return lines, text, {"counts": snaps.counts, "events": events}


def claim5(a) -> tuple[list, str]:
    names = list(FACTORS) if a.full else QUICK_FACTORS
    lines = ["| factor | overrides | seeds | modes (of 25) | hq | rev_kl | wall s / run |", "|---|---|---|---|---|---|---|"]
    res = {}
    for name in names:
        rs = []
        for seed in range(a.seeds5):
            preset, over = FACTORS[name]
            _, _, m, wall = run(preset, [*over, f"train.steps={a.steps5}", "eval.every=0",
                                           "eval.n_samples=2500"], seed)
            rs.append((m["modes"], m["hq"], m["rev_kl"], wall))
            print(f"claim 5 {name} seed {seed}: {rs[-1]}", flush=True)
        res[name] = rs
        cols = list(zip(*rs))
        lines.append(f"| {name} | {' '.join(f'`{o}`' for o in FACTORS[name][1]) or '-'} | {len(rs)} | {mean_sd(cols[0])} | "
                     f"{mean_sd(cols[1])} | {mean_sd(cols[2])} | {statistics.fmean(cols[3]):.0f} |")
    def mean_of(name: str, i: int) -> float:
        return statistics.fmean(r[i] for r in res[name])

    base_hq, base_kl = mean_of(names[0], 1), mean_of(names[0], 2)
    remedies = [n for n in names[1:] if FACTORS[n][0] == BASE5]  # the tuned preset is a reference, not a remedy
    better = [n for n in remedies if mean_of(n, 1) > base_hq and mean_of(n, 2) < base_kl]
    worse = [n for n in remedies if mean_of(n, 1) < base_hq and mean_of(n, 2) > base_kl]
    mixed = [n for n in remedies if n not in better and n not in worse]
    verdict = "holds" if len(better) == len(remedies) else ("holds partly" if better else "does not hold here")
    return lines, (f"**{verdict}** (each remedy alone against the plain game, hq {base_hq:.3f}, rev_kl {base_kl:.3f}): "
                   f"higher hq and lower rev_kl with {', '.join(better) or 'none'}; both worse with "
                   f"{', '.join(worse) or 'none'}; mixed with {', '.join(mixed) or 'none'}")


def claim5_stacked(a) -> tuple[list, str]:
    """Each remedy alone on stacked digits at the presets' 3,000 steps: modes of 1,000 and KL
    (the Stacked-MNIST protocol of benchmarks/images.py, 26,000 samples)."""
    from images import stacked_run  # benchmarks/images.py: one training run, then its modes and KL

    lines = ["| factor | overrides | seeds | modes (of 1,000) | KL | wall s / run |", "|---|---|---|---|---|---|"]
    res = {}
    for name, (preset, over) in FACTORS_STACKED.items():
        rs = []
        for seed in range(a.seeds5s):
            r = stacked_run((preset, seed, 1, a.n5s, [*over, *a.steps5s_over]))
            rs.append((r["modes"], r["kl"], r["wall_s"]))
            print(f"claim 5 stacked {name} seed {seed}: {rs[-1]}", flush=True)
        res[name] = rs
        cols = list(zip(*rs))
        lines.append(f"| {name} | {' '.join(f'`{o}`' for o in over) or '-'} | {len(rs)} | {mean_sd(cols[0])} | "
                     f"{mean_sd(cols[1])} | {statistics.fmean(cols[2]):.0f} |")
    names = list(FACTORS_STACKED)
    base_m, base_kl = (statistics.fmean(r[i] for r in res[names[0]]) for i in (0, 1))
    remedies = [n for n in names[1:] if FACTORS_STACKED[n][0] == BASE5S]
    better = [n for n in remedies if statistics.fmean(r[1] for r in res[n]) < base_kl
              and statistics.fmean(r[0] for r in res[n]) > base_m]
    verdict = "holds" if len(better) == len(remedies) else ("holds partly" if better else "does not hold here")
    return lines, (f"**{verdict}** on stacked digits (each remedy alone against the plain game, {base_m:.1f} modes, "
                   f"KL {base_kl:.3f}): more modes and lower KL with {', '.join(better) or 'none'}")


# ----------------------------------------------------------------------------- figures


def figures(c2: dict, c3: dict, c4: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for loss, colour in (("minimax", "#d62728"), ("non_saturating", "#1f77b4")):
        steps = sorted(c2[loss][0][0])
        mean = [statistics.fmean(g[s] for g, *_ in c2[loss]) for s in steps]
        ax.plot(steps, mean, color=colour, label=loss)
    ax.set(xlabel="step", ylabel="‖∇G‖ (mean over seeds)", yscale="log", title="claim 2: G's gradient, first 500 steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "claims_2_gradients.png", dpi=110)
    out.append("claims_2_gradients.png")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, colour in (("minimax", "#d62728"), ("non_saturating", "#1f77b4"), ("wgan_gp", "#2ca02c")):
        ax.plot([s for s, *_ in c3[name]], [g for _, g, _ in c3[name]], color=colour, label=name)
    ax.set(xlabel="D steps (G frozen)", ylabel="‖∇G‖", yscale="log", title="claim 3: a better D, G's gradient")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "claims_3_starving.png", dpi=110)
    out.append("claims_3_starving.png")

    steps = [s for s, _ in c4["counts"]]
    shares = torch.tensor([c for _, c in c4["counts"]], dtype=torch.float64)
    shares = (shares / shares.sum(1, keepdim=True)).T.tolist()  # (26, T): 25 modes, then off-mode
    fig, ax = plt.subplots(figsize=(7, 3.6))
    colours = [plt.cm.tab20(i % 20) for i in range(25)] + ["#bbbbbb"]
    ax.stackplot(steps, shares, colors=colours, linewidth=0)
    for e in c4["events"]:
        ax.axvline(e["step"], color="#ff9f1c" if e["state"] == "raised" else "#7f7f7f",
                   linestyle="-" if e["state"] == "raised" else ":", linewidth=1.5)
    ax.set(xlabel="step", ylabel="share of samples", xlim=(steps[0], steps[-1]), ylim=(0, 1),
           title="claim 4: share per mode (grey: off-mode); orange: mode_collapse raised, dotted: cleared")
    ax.title.set_fontsize(8)
    fig.tight_layout()
    fig.savefig(RESULTS / "claims_4_modes.png", dpi=110)
    out.append("claims_4_modes.png")
    plt.close("all")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the full protocol (10 seeds, preset budgets, every factor)")
    p.add_argument("--smoke", action="store_true", help="tiny budgets: checks that the script runs")
    p.add_argument("--steps5", type=int, default=None, help="claim 5's budget (default: the preset's 12,000)")
    p.add_argument("--seeds1", type=int, default=None, help="claim 1's seeds (default 3; --full: 10)")
    p.add_argument("--seeds5", type=int, default=None, help="claim 5's seeds (default 1; --full: 3)")
    p.add_argument("--seeds5s", type=int, default=None, help="claim 5 on stacked digits: seeds (default 1; --full: 2)")
    p.add_argument("--claim5", nargs="+", choices=["grid25", "stacked"], default=["grid25", "stacked"],
                   help="claim 5's datasets")
    p.add_argument("--only", nargs="+", type=int, choices=[1, 2, 3, 4, 5], default=[1, 2, 3, 4, 5])
    p.add_argument("--out", default=str(RESULTS / "claims.md"))
    a = p.parse_args()
    torch.set_num_threads(1)
    full = a.full
    steps5, seeds1, seeds5 = a.steps5, a.seeds1, a.seeds5  # what the command line asked, before the defaults
    a.seeds1, a.steps1, a.fresh_steps = (10, 12000, 3000) if full else (3, 3000, 1500)
    a.seeds2, a.steps2 = (10, 4000) if full else (3, 1500)
    a.d_steps3, a.seed4, a.steps4 = 3000, 0, 4000
    a.seeds5, a.steps5 = (3, 12000) if full else (1, 12000)
    a.steps5, a.seeds1, a.seeds5 = steps5 or a.steps5, seeds1 or a.seeds1, seeds5 or a.seeds5
    a.seeds5s, a.n5s, a.steps5s_over = a.seeds5s or (2 if full else 1), 26_000, []
    if a.smoke:
        a.seeds1, a.steps1, a.fresh_steps, a.seeds2, a.steps2, a.d_steps3, a.steps4, a.seeds5, a.steps5 = \
            1, 600, 20, 1, 100, 100, 300, 1, 100
        a.seeds5s, a.n5s, a.steps5s_over = 1, 500, ["train.steps=20"]
    t0 = time.perf_counter()
    text = ["# The seeds' claims, by experiment", "",
            f"`python benchmarks/claims.py {' '.join(sys.argv[1:])}`, 1 torch thread, on a 2-core machine shared with "
            "other jobs. The full protocol is "
            "`python benchmarks/claims.py --full` (10 seeds at the presets' 12,000 steps for claim 1, 10 seeds for "
            "claim 2, every claim-5 factor over 3 seeds).", ""]
    c2 = c3 = c4 = None

    def save() -> None:  # after every claim: an interrupted run keeps what it measured
        H.write_results(text, a.out, threads=1, echo=False)

    if 1 in a.only:
        lines, v = claim1(a)
        text += ["## 1. D(x), D(G(z)) -> 1/2 and V -> -log 4", "",
                 f"Presets `ring8` and `grid25` shortened to {a.steps1} steps (the learning rate decays linearly over "
                 f"them), {a.seeds1} seeds. d_real, d_fake and V are means over the last `doctor.window` (20) log "
                 f"steps. The fresh D is the run's D architecture, newly initialised, trained {a.fresh_steps} Adam "
                 "steps (lr 1e-3, batch 256 + 256) on fresh real draws against the frozen final sampler; accuracy on "
                 "5,000 held-out reals + 5,000 fakes.", "", *lines, "", v, ""]
        save()
    if 2 in a.only:
        lines, v, c2 = claim2(a)
        text += ["## 2. The saturating G loss starves G early", "",
                 f"Preset `grid25_vanilla` (lr 2e-4), {a.steps2} steps, log every 10 steps, {a.seeds2} seeds, the "
                 "same seeds for both losses. ‖∇G‖ is the norm of G's parameter gradient; the per-logit gradient is "
                 "the mean |d loss_G / d logit| per fake (`g_logit_grad`).", "", *lines, "", v, ""]
        save()
    if 3 in a.only:
        lines, v, c3 = claim3(a)
        text += ["## 3. A discriminator that is too good starves G", "",
                 f"`grid25_vanilla`'s MLPs; G frozen at its seeded initialisation; D trained alone with Adam (lr 1e-3) "
                 f"for {a.d_steps3} steps: one cross-entropy D (both G losses are measured against it) and one "
                 "WGAN-GP critic. ‖∇G‖ on 1,024 fixed noise vectors every 50 D steps.", "", *lines, "", v, ""]
        save()
    if 4 in a.only:
        lines, v, c4 = claim4(a)
        text += ["## 4. Mode collapse, and the doctor's event on the same axis", "",
                 f"The doctor benchmark's `oscillation` scenario, seed {a.seed4}: grid25 with k = 1, beta1 = 0.9 and "
                 "a constant lr 1e-3, 4,000 steps; nothing is changed mid-run. Shares of 2,000 samples on fixed noise "
                 "every 100 steps (a sample counts for a mode within 3 std of its centre).", "", *lines, "", v, ""]
        save()
    if 5 in a.only and "grid25" in a.claim5:
        lines, v = claim5(a)
        text += ["## 5. Remedies help", "",
                 f"Each remedy added alone to the plain game (`{BASE5}`: non-saturating loss, k = 1, Adam 2e-4, "
                 f"constant rate, the preset's networks), {a.steps5} steps "
                 f"({'the full budget of the presets' if a.steps5 == 12000 else 'the presets run 12,000'}), {a.seeds5} "
                 "seed(s), the same seeds for every row; modes, hq (share of samples within 3 std of a mode) and "
                 "rev_kl on 2,500 samples. The last row is the tuned `grid25` preset, all its remedies together "
                 "(k = 2, Adam 1e-3 with beta2 0.9, the rate decayed linearly), for reference. The short-budget ablation of "
                 "every remedy is in `ablation.md` (grid25, stacked digits, 200 digits).", "", *lines, "", v, ""]
        save()
    if 5 in a.only and "stacked" in a.claim5:
        lines, v = claim5_stacked(a)
        text += ["## 5. Remedies help, on stacked digits", "",
                 f"Each remedy added alone to the plain DCGAN game on stacked digits (`{BASE5S}`: non-saturating "
                 "loss, Adam 2e-4, batch 64, no EMA), at the presets' 3,000 steps, "
                 f"{a.seeds5s} seed(s), the same seeds for every row; modes of 1,000 and KL of the mode histogram "
                 f"on {a.n5s:,} samples, as in `stacked_digits.md`. The last row is the tuned `stacked_digits` preset "
                 "(spectral norm on D, EMA of G) for reference.", "", *lines, "", v, ""]
        save()
    if c2 and c3 and c4:
        text += ["## Figures", ""] + [f"![{f}]({f})" for f in figures(c2, c3, c4)] + [""]
    text.append(f"Total wall time {time.perf_counter() - t0:.0f} s.")
    H.write_results(text, a.out, threads=1)


if __name__ == "__main__":
    main()
