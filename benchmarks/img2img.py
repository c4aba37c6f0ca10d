"""Image-to-image benchmark (issue 14): super-resolution x2 / x4, paired translation (pix2pix)
and unpaired translation (CycleGAN), each against its non-adversarial baseline, on the bundled
demos' held-out material (data/demos.py: two photos never trained on; the digits' test split).

- Super-resolution: bicubic vs the L1-only network vs the GAN (the same network after the same
  L1 pre-training, then trained on as a GAN; the L1 network trains on for as many steps on L1
  alone). PSNR and SSIM (torchmetrics) on held-out crops, and the distance between the radially
  averaged log power spectra of outputs and ground truth (a sharpness measure without
  downloaded weights: blur removes high frequencies).
- Paired (edges -> photos): pix2pix vs the same U-Net with L1 only (i2i.adv_weight=0): L1 and
  PSNR to the held-out targets, FID / KID in the feature space of a classifier ganforge trains
  on the training photo crops (which photo a crop came from).
- Colorization (grey -> colour photo crops, ``--only colour``): pix2pix vs the same U-Net with
  L1 only, on crops of two photos never trained on: FID / KID in the features of a classifier
  trained on the training colour crops, colourfulness (Hasler & Suesstrunk 2003) against the
  targets', the share of pixels within CIE76 deltaE < 10 of the target in CIELAB, and the
  intersection of the outputs' and targets' a*b* histograms; the grey input as a reference.
- Unpaired (white digits <-> thick orange digits): content kept (accuracy of a classifier trained
  on style-B digits, on translations of held-out style-A digits), FID / KID to held-out style-B
  digits in that classifier's features, cycle reconstruction L1.
- Seconds per 1,000 training images of each model (one thread).

    python benchmarks/img2img.py            # the quick protocol (about 25 min of one core)
    python benchmarks/img2img.py --full     # 4x the steps of each phase
    python benchmarks/img2img.py --only colour   # colorization alone (img2img_colour.md)
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

import _harness as H
from ganforge.apps.translate import blend
from ganforge.build import build_data
from ganforge.train.games import build_game
from ganforge.files import image_grid
from ganforge.metrics.distances import fid_kid
from ganforge.metrics.features import data_classifier
from ganforge.models.srnet import downscale

OUT = H.RESULTS / "img2img.md"
GRIDS = OUT.parent / "img2img"
DEFAULT_SR = ("i2i.sr_adv_weight=0.005", "i2i.content_weight=0.1")


def make(preset: str, over: list[str]):
    cfg = H.config(preset, over, threads=1, quiet=["train.progress=false"])  # a game alone: no run directory
    torch.manual_seed(cfg.train.seed)
    data = build_data(cfg)
    return cfg, data, build_game(cfg, data, torch.device("cpu"))


def fork(cfg, data, game, **i2i):
    """A second game and data stream in exactly the state of ``game``'s, with other i2i weights."""
    cfg2 = dataclasses.replace(cfg, i2i=dataclasses.replace(cfg.i2i, **i2i))
    data2 = build_data(cfg2)
    data2.load_state_dict(data.state_dict())
    g2 = build_game(cfg2, data2, torch.device("cpu"))
    g2.load_state_dict(game.state_dict())
    g2.gen.set_state(game.gen.get_state())
    return data2, g2


def run_steps(game, data, steps: int, batch: int) -> float:
    """Train ``steps`` steps; returns seconds per 1,000 training images."""
    t = time.perf_counter()
    for _ in range(steps):
        game.step(lambda n: data.sample(n), batch)
    return (time.perf_counter() - t) / (steps * batch) * 1000


def radial_log_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] -> log10 of the mean radially averaged power spectrum (H // 2,)."""
    g = x.mean(1)
    g = g - g.mean((-2, -1), keepdim=True)
    p = torch.fft.fftshift(torch.fft.fft2(g), dim=(-2, -1)).abs().pow(2).mean(0)  # (H, W)
    h, w = p.shape
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    r = (yy.float() ** 2 + xx.float() ** 2).sqrt().round().long().flatten()
    nb = min(h, w) // 2
    keep = r < nb
    total = torch.zeros(nb).scatter_add_(0, r[keep], p.flatten()[keep])
    count = torch.zeros(nb).scatter_add_(0, r[keep], torch.ones(int(keep.sum())))
    return (total / count + 1e-12).log10()


def sr_scores(out: torch.Tensor, gt: torch.Tensor) -> dict:
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    out = out.clamp(0, 1)
    return {"psnr": float(peak_signal_noise_ratio(out, gt, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(out, gt, data_range=1.0)),
            "spectrum": float((radial_log_spectrum(out) - radial_log_spectrum(gt)).abs().mean())}


ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the table's network-interpolation weights
FINE = tuple(i / 20 for i in range(21))  # the search for the alpha that meets the target


def blended(G, l1_state: dict, alpha: float):
    """A copy of ``G`` with theta = (1 - alpha) theta_L1 + alpha theta_G (ganforge upscale --alpha)."""
    out = copy.deepcopy(G)
    out.load_state_dict(blend(l1_state, G.state_dict(), alpha))
    return out.eval()


@torch.no_grad()
def superres(scale: int, pre: int, more: int, n_test: int, weights: tuple = ()) -> tuple[list, dict]:
    """Rows (scale, method, scores, s / 1000 images) of bicubic, the L1 network and the GAN, and the
    network-interpolation sweeps {endpoint: [(alpha, scores)]}: from the L1 network the run keeps
    (the end of pre-training, what ``upscale --alpha`` blends) and from the L1 network trained as long."""
    cfg, data, gan = make("srgan_demo", [f"model.scale={scale}", f"i2i.pretrain_steps={pre}", *weights])
    b = cfg.train.batch_size
    with torch.enable_grad():
        t_l1 = run_steps(gan, data, pre, b)
        data_l1, l1 = fork(cfg, data, gan, sr_adv_weight=0.0)
        run_steps(l1, data_l1, more, b)
        t_gan = run_steps(gan, data, more, b)
    hr = gan.held_out(data, n_test, seed=1234)  # (n, C, 32, 32) in [0, 1]: crops of the held-out photos
    lr = downscale(hr * 2 - 1, scale)
    G_gan, G_l1 = gan.players.sampler.eval(), l1.players.sampler.eval()
    kept = gan.l1_state["G_ema" if gan.players.ema is not None else "G"]  # the checkpoint's G_l1
    outs = {"bicubic": F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False),
            "L1 network": G_l1(lr), "GAN": G_gan(lr)}
    rows = []
    for name, o in outs.items():
        rows.append((f"x{scale}", name, sr_scores(o * 0.5 + 0.5, hr),
                     {"bicubic": None, "L1 network": t_l1, "GAN": t_gan}[name]))
    sweeps, alpha_rows = {}, []
    for end, state in (("kept", kept), ("long", G_l1.state_dict())):
        sweeps[end] = []
        for a in sorted(set(FINE) | set(ALPHAS)):
            o = blended(G_gan, state, a)(lr)
            sweeps[end].append((a, sr_scores(o * 0.5 + 0.5, hr)))
            if end == "kept" and a in ALPHAS:
                alpha_rows.append(o[:8].clamp(-1, 1) * 0.5 + 0.5)
    grid = torch.cat([F.interpolate(lr[:8] * 0.5 + 0.5, scale_factor=scale, mode="nearest")]
                     + [outs[k][:8].clamp(-1, 1) * 0.5 + 0.5 for k in outs] + [hr[:8]])
    tag = "" if weights == DEFAULT_SR else "_" + "_".join(w.split(".")[-1].replace("=", "") for w in weights)
    image_grid(grid, GRIDS / f"sr_x{scale}{tag}.png", nrow=8, scale=3)
    image_grid(torch.cat([*alpha_rows, hr[:8]]), GRIDS / f"sr_x{scale}{tag}_alpha.png", nrow=8, scale=3)
    return rows, sweeps


def best_alpha(sweep: list, l1: dict) -> Optional[tuple]:
    """The largest alpha within 1 dB of ``l1``'s PSNR whose spectrum distance is at most half
    ``l1``'s, as (alpha, scores); None when no alpha of the sweep meets both."""
    ok = [(a, m) for a, m in sweep if m["psnr"] >= l1["psnr"] - 1 and m["spectrum"] <= l1["spectrum"] / 2]
    return ok[-1] if ok else None


def alpha_lines(rows: list, sweeps: dict) -> list[str]:
    """The markdown of the network-interpolation tables and the target's verdict per scale."""
    lines = []
    for end, title in (("kept", "from the L1 network the run keeps (end of L1 pre-training; `ganforge upscale "
                                "--alpha`)"),
                       ("long", "from the L1 network trained as long as the GAN (the L1 network row above)")):
        lines += [f"Network interpolation {title}: theta = (1 - alpha) theta_L1 + alpha theta_GAN.", "",
                  "| scale | alpha | PSNR dB | SSIM | spectrum distance |", "|---|---|---|---|---|"]
        for scale, sw in sweeps.items():
            lines += [f"| {scale} | {a:.2f} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['spectrum']:.4f} |"
                      for a, m in sw[end] if a in ALPHAS]
        lines.append("")
    lines += ["Target: an alpha within 1 dB of the L1 network (the table above's, trained as long) whose spectrum "
              f"distance is at most half the L1 network's; searched over alpha = 0, 0.05, ..., 1.", ""]
    l1 = {scale: m for scale, name, m, _ in rows if name == "L1 network"}
    for scale, sw in sweeps.items():
        for end in ("kept", "long"):
            hit = best_alpha(sw[end], l1[scale])
            what = "kept L1 network" if end == "kept" else "L1 network trained as long"
            lines.append(f"- {scale}, blending the {what}: " + (
                f"**met** at alpha <= {hit[0]:.2f} (largest: PSNR {hit[1]['psnr']:.2f} dB, spectrum "
                f"{hit[1]['spectrum']:.4f}; L1 network {l1[scale]['psnr']:.2f} dB, {l1[scale]['spectrum']:.4f})"
                if hit else "**not met** at any alpha"))
    return lines + [""]


def _features_fid(clf, real: torch.Tensor, fake: torch.Tensor) -> dict:
    return fid_kid(clf.features(real), clf.features(fake), seed=0)


@torch.no_grad()
def paired(steps: int) -> list[tuple]:
    rows, grids = [], []
    for name, over in (("pix2pix", []), ("U-Net, L1 only", ["i2i.adv_weight=0"])):
        cfg, data, game = make("pix2pix_demo", over)
        with torch.enable_grad():
            t = run_steps(game, data, steps, cfg.train.batch_size)
        x = game.held_out(data, 10_000, 0)  # every held-out pair, (n, 6, 32, 32) in [0, 1]
        a, b = x[:, :3] * 2 - 1, x[:, 3:]
        out = (game.G.eval()(a).clamp(-1, 1) + 1) / 2
        # a classifier of which training photo a crop comes from: its 128 features judge realism
        photos = data.images[:, 3:]
        labels = torch.arange(len(photos)) // (len(photos) // 5)
        with torch.enable_grad():
            clf = data_classifier(photos, labels, 5)
        mse = (out - b).pow(2).flatten(1).mean(1)
        m = {"l1": float((out - b).abs().mean()), "psnr": float((-10 * mse.log10()).mean()),
             **_features_fid(clf, b, out), "clf_acc": clf.test_accuracy}
        rows.append((name, m, t))
        grids.append(out[:8])
    image_grid(torch.cat([(a[:8] + 1) / 2, *grids, b[:8]]), GRIDS / "pix2pix.png", nrow=8, scale=3)
    return rows


def colourfulness(x: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk (2003) colourfulness of RGB images (N, 3, H, W) in [0, 1], on the
    0-255 scale: sigma_rgyb + 0.3 mu_rgyb with rg = R - G, yb = (R + G) / 2 - B. (N,)"""
    r, g, b = (x * 255).unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    sigma = (rg.var(1, unbiased=False) + yb.var(1, unbiased=False)).sqrt()
    mu = (rg.mean(1) ** 2 + yb.mean(1) ** 2).sqrt()
    return sigma + 0.3 * mu


def to_lab(x: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> CIELAB (N, H, W, 3) (sRGB, D65), via scikit-image."""
    from skimage.color import rgb2lab

    return torch.from_numpy(rgb2lab(x.clamp(0, 1).permute(0, 2, 3, 1).double().numpy())).float()


def ab_histogram(lab: torch.Tensor, bins: int = 22) -> torch.Tensor:
    """The normalised 2-D histogram of a*, b* over [-110, 110] (bins of 10)."""
    ab = lab[..., 1:].reshape(-1, 2).clamp(-110, 109.999)
    idx = ((ab + 110) / 220 * bins).long()
    h = torch.zeros(bins * bins).scatter_add_(0, idx[:, 0] * bins + idx[:, 1], torch.ones(len(idx)))
    return h / h.sum()


def colour_scores(out: torch.Tensor, gt: torch.Tensor, clf) -> dict:
    lo, lg = to_lab(out), to_lab(gt)
    de = (lo - lg).norm(dim=-1)  # CIE76 deltaE per pixel
    return {"fid_kid": _features_fid(clf, gt, out), "colourful": float(colourfulness(out).mean()),
            "de10": float((de < 10).float().mean()), "de": float(de.mean()),
            "ab_hist": float(torch.minimum(ab_histogram(lo), ab_histogram(lg)).sum()),
            "l1": float((out - gt).abs().mean())}


@torch.no_grad()
def colour(steps: int, l1_weight: float = 100.0, baseline: bool = True, seed: int = 0) -> tuple[list[tuple], dict]:
    """pix2pix (i2i.l1_weight=``l1_weight``) and the L1-only U-Net (unless not ``baseline``) on
    demo:colour; rows, and the classifier's accuracy."""
    from ganforge.data.demos import held_out_photos, luma

    rows, outs, nets = [], {}, {}
    clf = None
    models = [("pix2pix", [f"i2i.l1_weight={l1_weight}"])] + ([("U-Net, L1 only", ["i2i.adv_weight=0"])] if baseline else [])
    for name, over in models:
        cfg, data, game = make("pix2pix_colour", over + ([f"train.seed={seed}"] if seed else []))
        with torch.enable_grad():
            t = run_steps(game, data, steps, cfg.train.batch_size)
        x = game.held_out(data, 10_000, 0)  # every held-out pair, (n, 6, 32, 32) in [0, 1]
        a, b = x[:, :3] * 2 - 1, x[:, 3:]
        G = game.G.eval()
        out = (G(a).clamp(-1, 1) + 1) / 2
        if clf is None:  # which of the 5 training photos a colour crop comes from: its 128 features judge realism
            photos = data.images[:, 3:]
            labels = torch.arange(len(photos)) // (len(photos) // 5)
            with torch.enable_grad():
                clf = data_classifier(photos, labels, 5)
            rows.append(("grey input (reference)", colour_scores((a + 1) / 2, b, clf), None))
            rows.append(("held-out targets", {"colourful": float(colourfulness(b).mean())}, None))
        rows.append((name, colour_scores(out, b, clf), t))
        outs[name], nets[name] = out, G
    pick = torch.cat([torch.arange(0, 64, 8), torch.arange(64, 128, 8)])  # 8 crops of each held-out photo
    tag = ("" if l1_weight == 100.0 else f"_l1w{l1_weight:g}") + (f"_seed{seed}" if seed else "")
    names = [k for k in ("U-Net, L1 only", "pix2pix") if k in outs]
    image_grid(torch.cat([(a[pick] + 1) / 2, *[outs[k][pick] for k in names], b[pick]]),
               GRIDS / f"colour{tag}.png", nrow=len(pick), scale=3)
    # the two held-out photos whole (the U-Net is fully convolutional): grey | L1 | pix2pix | truth
    from PIL import Image

    tiles = []
    for im in held_out_photos():
        gt = im.float()[None] / 255
        grey = luma(im).float()[None] / 255
        row = [grey] + [(nets[k](grey * 2 - 1).clamp(-1, 1) + 1) / 2 for k in names] + [gt]
        tiles.append(torch.cat([torch.cat([r, torch.ones_like(r[..., :2])], -1) for r in row], -1)[..., :-2])
    w = max(t.shape[-1] for t in tiles)
    canvas = torch.ones(3, sum(t.shape[-2] for t in tiles) + 2 * (len(tiles) - 1), w)
    y = 0
    for t in tiles:
        canvas[:, y: y + t.shape[-2], : t.shape[-1]] = t[0]
        y += t.shape[-2] + 2
    img = Image.fromarray((canvas.permute(1, 2, 0) * 255).round().byte().numpy()).resize(
        (canvas.shape[-1] * 3, canvas.shape[-2] * 3), Image.NEAREST)
    img.save(GRIDS / f"colour_photos{tag}.png")
    return rows, {"clf_acc": clf.test_accuracy}


@torch.no_grad()
def unpaired(steps: int) -> list[tuple]:
    from ganforge.data.demos import digit_styles
    from ganforge.data.images import digits_split

    cfg, data, game = make("cyclegan_demo", [])
    with torch.enable_grad():
        t = run_steps(game, data, steps, cfg.train.batch_size)
    (xtr, ytr), (xte, yte) = digits_split()
    r = cfg.data.resolution
    _, b_train = digit_styles(xtr, r)  # every training digit in style B, with its label: the judge
    with torch.enable_grad():
        clf = data_classifier(b_train, torch.from_numpy(ytr), 10)
    a_te, b_te = digit_styles(xte, r)
    a, b = a_te.float() / 255 * 2 - 1, b_te.float() / 255
    G = game.G.eval()
    fake_b = (G["ab"](a).clamp(-1, 1) + 1) / 2
    rec_a = (G["ba"](fake_b * 2 - 1).clamp(-1, 1) + 1) / 2
    y = torch.from_numpy(yte)
    acc = float((clf.logits(fake_b).argmax(1) == y).float().mean())
    ceiling = float((clf.logits(b).argmax(1) == y).float().mean())
    bicolour = float((clf.logits(a_te.float() / 255).argmax(1) == y).float().mean())  # untranslated inputs
    m = {"acc": acc, "acc_real_b": ceiling, "acc_untranslated": bicolour, **_features_fid(clf, b, fake_b),
         "cycle_l1": float((rec_a - (a + 1) / 2).abs().mean())}
    untranslated = _features_fid(clf, b, a_te.float() / 255)
    image_grid(torch.cat([(a[:10] + 1) / 2, fake_b[:10], rec_a[:10], b[:10]]), GRIDS / "cyclegan.png", nrow=10, scale=4)
    return [("CycleGAN A -> B", m, t), ("untranslated A (reference)", {**untranslated}, None)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="4x the steps of every phase")
    p.add_argument("--only", choices=("sr", "paired", "colour", "unpaired"), help="one part only (into img2img_PART.md)")
    p.add_argument("--sr-adv", type=float, default=0.005, help="i2i.sr_adv_weight of the SR GAN")
    p.add_argument("--sr-content", type=float, default=0.1, help="i2i.content_weight of the SR GAN")
    p.add_argument("--colour-l1", type=float, default=100.0, help="i2i.l1_weight of the colorization GAN (lambda)")
    p.add_argument("--colour-gan-only", action="store_true", help="colorization: train pix2pix only, not the L1 baseline")
    p.add_argument("--colour-seed", type=int, default=0, help="train.seed of the colorization models")
    p.add_argument("--colour-steps", type=int, help="training steps of each colorization model (default 1500, x4 with --full)")
    p.add_argument("--out", help="the results file (default: benchmarks/results/img2img[_PART].md)")
    p.add_argument("--sr-over", nargs="*", default=[], help="more overrides of both SR runs, e.g. train.ema_beta=0.999")
    a = p.parse_args()
    out = Path(a.out) if a.out else OUT.with_name(f"img2img_{a.only}.md") if a.only else OUT
    if not a.out and a.only == "colour" and (a.colour_l1 != 100.0 or a.colour_seed):
        out = OUT.with_name("img2img_colour" + (f"_l1w{a.colour_l1:g}" if a.colour_l1 != 100.0 else "")
                            + (f"_seed{a.colour_seed}" if a.colour_seed else "") + ".md")
    sr_w = (f"i2i.sr_adv_weight={a.sr_adv}", f"i2i.content_weight={a.sr_content}", *a.sr_over)
    torch.set_num_threads(1)
    k = 4 if a.full else 1
    GRIDS.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lines = ["# Image-to-image benchmark", "",
             f"`python benchmarks/img2img.py{''.join(' ' + x for x in sys.argv[1:])}`, one thread, a shared machine (timings "
             "are indicative). Held-out material only.", ""]
    if a.only in (None, "sr"):
        pre, more = 1200 * k, 800 * k
        (rows2, sw2), (rows4, sw4) = (superres(s, pre, more, 256, sr_w) for s in (2, 4))
        rows = rows2 + rows4
        lines += ["## Super-resolution (demo:photos, 32 px crops of the two held-out photos, 256 crops)", "",
                  f"L1 pre-training {pre} steps, then {more} more steps: on L1 alone (L1 network) or as a GAN "
                  f"(relativistic D, + {a.sr_content} random-conv content + {a.sr_adv} adversarial). Spectrum: mean |log10 P_out(r) "
                  "- log10 P_gt(r)| over radii (lower is closer to the ground truth's sharpness).", "",
                  "| scale | method | PSNR dB | SSIM | spectrum distance | s / 1000 images |", "|---|---|---|---|---|---|"]
        for scale, name, m, t in rows:
            lines.append(f"| {scale} | {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['spectrum']:.4f} | "
                         f"{'' if t is None else f'{t:.2f}'} |")
        lines += ["", *alpha_lines(rows, {"x2": sw2, "x4": sw4}),
                  "Grids: `img2img/sr_x2.png`, `img2img/sr_x4.png` (rows: low-res input, bicubic, L1, GAN, "
                  "ground truth); `img2img/sr_x2_alpha.png`, `img2img/sr_x4_alpha.png` (rows: alpha = 0, 0.25, "
                  "0.5, 0.75, 1, ground truth).", ""]
        print("\n".join(lines), flush=True)
    if a.only in (None, "paired"):
        steps = 1500 * k
        rows = paired(steps)
        lines += ["## Paired translation (demo:edges, Canny edges -> photo crops, 128 held-out pairs)", "",
                  f"{steps} steps each. FID / KID in the 128 features of a classifier trained on the training photo "
                  f"crops to tell which of the 5 photos a crop comes from (held-out accuracy "
                  f"{rows[0][1]['clf_acc']:.3f}); not comparable with Inception FID.", "",
                  "| model | L1 | PSNR dB | FID | KID | s / 1000 images |", "|---|---|---|---|---|---|"]
        for name, m, t in rows:
            lines.append(f"| {name} | {m['l1']:.4f} | {m['psnr']:.2f} | {m['fid']:.2f} | {m['kid']:.4f} | {t:.2f} |")
        lines += ["", "Grid: `img2img/pix2pix.png` (rows: edges, pix2pix, L1 only, target).", ""]
        print("\n".join(lines[-8:]), flush=True)
    if a.only in (None, "colour"):
        steps = a.colour_steps or 1500 * k
        rows, info = colour(steps, a.colour_l1, not a.colour_gan_only, a.colour_seed)
        lines += ["## Colorization (demo:colour, grey -> colour crops of 2 held-out photos, 128 pairs)", "",
                  f"{steps} steps each, batch 16, pix2pix with i2i.l1_weight={a.colour_l1:g}, train.seed={a.colour_seed}. Trained on 1,600 crops of astronaut, coffee, rocket, china.jpg and "
                  "stereo_motorcycle; scored on 64 crops each of chelsea and flower.jpg, never trained on. "
                  "FID / KID in the 128 features of a classifier trained on the training colour crops to tell which "
                  f"of the 5 photos a crop comes from (held-out accuracy {info['clf_acc']:.3f}); not comparable with "
                  "Inception FID. Colourfulness: Hasler & Suesstrunk (2003), mean over crops (the targets' is the "
                  "one to match). deltaE: CIE76 in CIELAB (D65). a*b* overlap: intersection of the outputs' and "
                  "targets' a*b* histograms (bins of 10; 1 = the same colour distribution).", "",
                  "| model | FID | KID | colourfulness | pixels with deltaE < 10 | mean deltaE | a*b* overlap | L1 | "
                  "s / 1000 images |", "|---|---|---|---|---|---|---|---|---|"]
        for name, m, t in rows:
            if "fid_kid" not in m:
                lines.append(f"| {name} | | | {m['colourful']:.1f} | | | | | |")
                continue
            lines.append(f"| {name} | {m['fid_kid']['fid']:.2f} | {m['fid_kid']['kid']:.2f} | {m['colourful']:.1f} | "
                         f"{100 * m['de10']:.1f} % | {m['de']:.2f} | {m['ab_hist']:.3f} | {m['l1']:.4f} | "
                         f"{'' if t is None else f'{t:.2f}'} |")
        tag = ("" if a.colour_l1 == 100.0 else f"_l1w{a.colour_l1:g}") + (f"_seed{a.colour_seed}" if a.colour_seed else "")
        shown = "pix2pix" if a.colour_gan_only else "L1 only, pix2pix"
        lines += ["", f"Grids: `img2img/colour{tag}.png` (rows: grey input, {shown}, target; 8 crops of each "
                  f"held-out photo), `img2img/colour_photos{tag}.png` (the two held-out photos whole: grey, {shown}, "
                  "truth).", ""]
        print("\n".join(lines[-12:]), flush=True)
    if a.only in (None, "unpaired"):
        steps = 1500 * k
        rows = unpaired(steps)
        m, t = rows[0][1], rows[0][2]
        u = rows[1][1]
        lines += ["## Unpaired translation (demo:digits, white digits A <-> thick orange-on-blue digits B)", "",
                  f"{steps} steps. Judge: a classifier trained on all training digits drawn in style B; scored on "
                  f"the 360 held-out digits (never trained on by either model).", "",
                  "| | content kept (judge accuracy) | FID to held-out B | KID | cycle L1 (A -> B -> A) | s / 1000 images |",
                  "|---|---|---|---|---|---|",
                  f"| CycleGAN A -> B | {100 * m['acc']:.1f} % | {m['fid']:.2f} | {m['kid']:.4f} | {m['cycle_l1']:.4f} | {t:.2f} |",
                  f"| untranslated A | {100 * m['acc_untranslated']:.1f} % | {u['fid']:.2f} | {u['kid']:.4f} | | |",
                  f"| real held-out B (ceiling) | {100 * m['acc_real_b']:.1f} % | 0 | | | |", "",
                  "Grid: `img2img/cyclegan.png` (rows: input A, G_ab(A), G_ba(G_ab(A)), the same digits drawn in B).", ""]
        print("\n".join(lines[-9:]), flush=True)
    lines.append(f"Total wall time {time.perf_counter() - t0:.0f} s.")
    H.write_results(lines, out, threads=1, echo=False, keep="## Readings and earlier runs" if a.only == "sr" else None)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
