"""Metrics of generated sequences (B, T, F), following TimeGAN's protocol (Yoon et al. 2019).

The protocol, as jsyoon0823/TimeGAN's ``metrics/discriminative_metrics.py`` and
``metrics/predictive_metrics.py`` run it, written anew here in PyTorch:

- **Discriminative score** (:func:`discriminative_score`): real and synthetic sequences are
  each split 80/20 (train/test). A post-hoc classifier, one GRU layer (hidden size
  ``int(F / 2)``, at least 1) whose last state feeds a linear layer to one logit, is trained
  with Adam (lr 1e-3) on binary cross-entropy for 2000 iterations, each on 128 real and 128
  synthetic training sequences drawn at random. On the two test splits the accuracy of
  ``sigmoid(logit) > 0.5`` (real = 1) gives the score ``|accuracy - 0.5|``: 0 when the
  classifier cannot tell them apart, 0.5 when it always can.
- **Predictive score** (:func:`predictive_score`, train on synthetic, test on real): a GRU
  (hidden ``int(F / 2)``, at least 1) reads features 0 .. F-2 at steps 0 .. T-2 and predicts,
  at every step, the *last* feature one step ahead (steps 1 .. T-1), through a linear layer and
  a sigmoid; L1 loss, Adam (lr 1e-3), 5000 iterations of 128 synthetic sequences. The score is
  its mean absolute error on all real sequences (mean over sequences of the per-sequence MAE;
  equal lengths make this the plain mean). With F = 1 (which TimeGAN's code does not handle)
  the one feature is both input and target. The same predictor trained on the real sequences
  gives the baseline TimeGAN's Table 2 lists as "original data".
- **Autocorrelation distance** (:func:`acf_distance`) and **marginal distances**
  (:func:`marginal_distances`, Wasserstein-1 per feature over all steps): not TimeGAN's; cheap
  checks of temporal and per-value fidelity.
- **TSTR accuracy** (:func:`tstr_accuracy`): a GRU classifier trained on labelled synthetic
  sequences, scored on real ones, next to the same classifier trained on real sequences
  (TRTR); labelled sets only.

The networks start from torch's RNG seeded with ``seed`` and draw their batches from a
generator seeded with it: the same inputs and seed give the same numbers. They run in
``float32`` on the CPU; ``steps`` shortens them for tests (the evaluator uses TimeGAN's counts).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn


DISC_STEPS, PRED_STEPS, CLS_STEPS = 2000, 5000, 2000  # TimeGAN's iterations (TSTR: ours)
# what series_metrics runs by default, read at call time (the contract tests shorten it)
STEPS = {"disc": DISC_STEPS, "pred": PRED_STEPS, "cls": CLS_STEPS}
# how many times series_metrics trains the discriminative and predictive networks afresh (each on
# its own split and seed) and averages their scores, read at call time. TimeGAN's main_timegan.py
# averages 10 (its metric_iteration); one repeat costs ~25 s (disc) and ~30 s (pred) on one CPU
# thread whatever the set's size, so `ganforge evaluate` runs 1 and benchmarks/series.py sets 10.
REPEATS = 1
BATCH = 128
TRAIN_SHARE = 0.8


class _GRUHead(nn.Module):
    """x (B, T, F_in) -> a GRU of ``hidden`` units -> linear to ``out`` per step (B, T, out), or
    from the last state only (B, out) when ``last``."""

    def __init__(self, f_in: int, hidden: int, out: int, last: bool):
        super().__init__()
        self.rnn = nn.GRU(f_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, out)
        self.last = last

    def forward(self, x: Tensor) -> Tensor:
        h, h_n = self.rnn(x)  # (B, T, hidden), (1, B, hidden)
        return self.head(h_n[0] if self.last else h)


def _hidden(f: int) -> int:
    return max(1, f // 2)  # TimeGAN: int(dim / 2)


def _split(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    idx = torch.randperm(n, generator=gen)
    k = int(n * TRAIN_SHARE)
    return idx[:k], idx[k:]


def _fit(net: nn.Module, loss_of, steps: int, seed: int) -> None:
    """``steps`` Adam updates of ``net`` on ``loss_of(gen) -> loss``; batches drawn from ``gen``."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_of(gen).backward()
        opt.step()


def _batch(n: int, gen: torch.Generator) -> Tensor:
    return torch.randint(n, (min(BATCH, n),), generator=gen)


def discriminative_score(real: Tensor, fake: Tensor, seed: int = 0, steps: int = DISC_STEPS) -> float:
    """|accuracy - 0.5| of a post-hoc GRU classifier, real (N, T, F) vs fake (M, T, F)."""
    real, fake = real.float().cpu(), fake.float().cpu()
    gen = torch.Generator().manual_seed(seed)
    (r_tr, r_te), (f_tr, f_te) = _split(len(real), gen), _split(len(fake), gen)
    r_tr, r_te, f_tr, f_te = real[r_tr], real[r_te], fake[f_tr], fake[f_te]
    torch.manual_seed(seed)
    net = _GRUHead(real.shape[-1], _hidden(real.shape[-1]), 1, last=True)
    bce = nn.BCEWithLogitsLoss()

    def loss_of(g: torch.Generator) -> Tensor:
        xr, xf = r_tr[_batch(len(r_tr), g)], f_tr[_batch(len(f_tr), g)]
        return bce(net(xr), torch.ones(len(xr), 1)) + bce(net(xf), torch.zeros(len(xf), 1))

    _fit(net, loss_of, steps, seed + 1)
    with torch.no_grad():
        right = (net(r_te) > 0).sum() + (net(f_te) <= 0).sum()  # logit > 0 <=> sigmoid > 0.5
    return abs(float(right) / (len(r_te) + len(f_te)) - 0.5)


def _pred_io(x: Tensor) -> tuple[Tensor, Tensor]:
    """(inputs (B, T-1, F-1), targets (B, T-1, 1)): the other features now, the last one next step."""
    f = x.shape[-1]
    inputs = x[:, :-1, : f - 1] if f > 1 else x[:, :-1, :]
    return inputs, x[:, 1:, f - 1 :]


def predictor(train: Tensor, seed: int = 0, steps: int = PRED_STEPS) -> nn.Module:
    """TimeGAN's post-hoc predictor trained on ``train`` (N, T, F): (B, T-1, F-1) -> (B, T-1, 1)."""
    train = train.float().cpu()
    x, y = _pred_io(train)
    torch.manual_seed(seed)
    net = nn.Sequential(_GRUHead(x.shape[-1], _hidden(train.shape[-1]), 1, last=False), nn.Sigmoid())

    def loss_of(g: torch.Generator) -> Tensor:
        i = _batch(len(x), g)
        return (net(x[i]) - y[i]).abs().mean()

    _fit(net, loss_of, steps, seed + 1)
    return net


def prediction_mae(net: nn.Module, test: Tensor) -> float:
    """Mean absolute error of a :func:`predictor` on ``test`` (N, T, F)."""
    x, y = _pred_io(test.float().cpu())
    with torch.no_grad():
        return float((net(x) - y).abs().mean())


def predictive_score(real: Tensor, fake: Tensor, seed: int = 0, steps: int = PRED_STEPS) -> float:
    """Train on synthetic ``fake``, test on ``real``: the predictor's MAE on real (lower is better)."""
    return prediction_mae(predictor(fake, seed, steps), real)


_BASELINES: dict = {}  # (digest of real, seed, steps) -> predictive_real: the real data's own level, once per set


def _real_baseline(real: Tensor, seed: int, steps: int) -> float:
    """The predictor trained and tested on ``real``: the same for every evaluation of a run, so
    computed once per (real set, seed, steps) in this process."""
    import hashlib

    key = (hashlib.sha1(real.float().cpu().contiguous().numpy().tobytes()).hexdigest(), tuple(real.shape), seed, steps)
    if key not in _BASELINES:
        if len(_BASELINES) >= 8:
            _BASELINES.pop(next(iter(_BASELINES)))
        _BASELINES[key] = predictive_score(real, real, seed, steps)
    return _BASELINES[key]


def acf(x: Tensor, max_lag: int) -> Tensor:
    """Autocorrelation at lags 1 .. max_lag per feature, (max_lag, F), pooled over sequences:
    each sequence centred on its own mean, products summed over sequences and steps."""
    x = x.double() - x.double().mean(1, keepdim=True)  # (N, T, F)
    var = (x * x).mean((0, 1)).clamp_min(1e-12)  # (F,)
    return torch.stack([(x[:, k:] * x[:, :-k]).mean((0, 1)) / var for k in range(1, max_lag + 1)])


def acf_distance(real: Tensor, fake: Tensor, max_lag: Optional[int] = None) -> float:
    """Mean |ACF_real - ACF_fake| over lags 1 .. max_lag (default T - 1, at most 24) and features."""
    lag = max_lag or min(real.shape[1] - 1, 24)
    return float((acf(real, lag) - acf(fake, lag)).abs().mean())


def marginal_distances(real: Tensor, fake: Tensor) -> list[float]:
    """Wasserstein-1 distance per feature between the values of all sequences and steps."""
    from scipy.stats import wasserstein_distance

    r, f = real.reshape(-1, real.shape[-1]).double().numpy(), fake.reshape(-1, fake.shape[-1]).double().numpy()
    return [float(wasserstein_distance(r[:, j], f[:, j])) for j in range(r.shape[1])]


def classifier(x: Tensor, y: Tensor, n_classes: int, seed: int = 0, steps: int = CLS_STEPS) -> nn.Module:
    """A GRU sequence classifier (hidden max(8, F), last state -> linear) trained on x (N, T, F), y (N,)."""
    x = x.float().cpu()
    torch.manual_seed(seed)
    net = _GRUHead(x.shape[-1], max(8, x.shape[-1]), n_classes, last=True)
    ce = nn.CrossEntropyLoss()

    def loss_of(g: torch.Generator) -> Tensor:
        i = _batch(len(x), g)
        return ce(net(x[i]), y[i])

    _fit(net, loss_of, steps, seed + 1)
    return net


def accuracy(net: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float((net(x.float().cpu()).argmax(1) == y).float().mean())


def tstr_accuracy(real: Tensor, y_real: Tensor, fake: Tensor, y_fake: Tensor, n_classes: int, seed: int = 0,
                  steps: int = CLS_STEPS) -> dict:
    """``tstr``: trained on synthetic, tested on the real test split (20%); ``trtr``: trained on
    the real train split (80%), tested on the same real test split."""
    tr, te = _split(len(real), torch.Generator().manual_seed(seed))
    on_fake = classifier(fake, y_fake, n_classes, seed, steps)
    on_real = classifier(real[tr], y_real[tr], n_classes, seed, steps)
    return {"tstr": accuracy(on_fake, real[te], y_real[te]), "trtr": accuracy(on_real, real[te], y_real[te])}


HEADLINE = ("discriminative", "predictive")  # lower is better, both


def series_metrics(real: Tensor, fake: Tensor, seed: int, y_real: Optional[Tensor] = None,
                   y_fake: Optional[Tensor] = None, n_classes: int = 0, steps: Optional[dict] = None,
                   repeats: Optional[int] = None) -> dict:
    """Every metric of ``fake`` (M, T, F) against ``real`` (N, T, F), both in the metric space:
    ``discriminative``, ``predictive`` (train on synthetic), ``predictive_real`` (train on real,
    the baseline), ``acf_distance``, ``marginal_w1`` (mean over features) and
    ``marginal_w1_max``; with labels on both, ``tstr`` and ``trtr``. ``steps`` overrides the
    iteration counts: keys ``disc``, ``pred``, ``cls``. ``discriminative`` and ``predictive`` are
    means over ``repeats`` fresh trainings (seeds ``seed``, ``seed + 1000``, ...: new splits, new
    initialisations, new batches), as TimeGAN averages them; unset: :data:`REPEATS`."""
    s = {**STEPS, **(steps or {})}
    n = REPEATS if repeats is None else repeats
    if n < 1:
        raise ValueError(f"repeats={n}: the scores need at least one training")
    w1 = marginal_distances(real, fake)
    m = {
        "discriminative": float(np.mean([discriminative_score(real, fake, seed + 1000 * r, s["disc"]) for r in range(n)])),
        "predictive": float(np.mean([predictive_score(real, fake, seed + 1000 * r, s["pred"]) for r in range(n)])),
        "predictive_real": _real_baseline(real, seed, s["pred"]),
        "acf_distance": acf_distance(real, fake),
        "marginal_w1": float(np.mean(w1)),
        "marginal_w1_max": float(np.max(w1)),
    }
    if y_real is not None and y_fake is not None and n_classes > 1:
        m.update(tstr_accuracy(real, y_real, fake, y_fake, n_classes, seed, s["cls"]))
    return m
