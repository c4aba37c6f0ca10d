"""Layers shared by the architectures: minibatch standard deviation and normalisation choices."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import GanforgeError


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, as in StyleGAN2, Karras et al. 2020).

    D sees a statistic of the whole group next to each sample's features, so a generator that
    produces too little variety is easy to tell apart. x (N, C, H, W) -> (N, C + 1, H, W), or
    x (N, F) -> (N, F + 1): the batch is split into N / g groups of g = min(group, N) samples
    (sample i belongs to group i mod N/g, as in StyleGAN2), the (biased) standard deviation of
    each feature is taken over its group, averaged over features and positions to one number
    per group, and that number is appended as a constant channel (feature) to each member.
    Placed after PacGAN's packing, N is D's packed batch. N must be a multiple of g.
    """

    def __init__(self, group: int, eps: float = 1e-8):
        super().__init__()
        self.group, self.eps = group, eps

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g = min(self.group, n)
        if n % g:
            raise GanforgeError(
                f"model.mbstd={self.group}: D got a batch of {n} samples (after packing), not a multiple of "
                f"the group size {g}; use a batch size (divided by model.pac) that is a multiple of it"
            )
        y = x.reshape(g, n // g, *x.shape[1:])  # (g, N/g, ...): y[j, i] is sample j * N/g + i
        y = (y.var(dim=0, correction=0) + self.eps).sqrt()  # (N/g, ...): std over each group
        y = y.flatten(1).mean(1)  # (N/g,): one number per group
        y = y.repeat(g)  # (N,): sample i gets its group's number, y[i mod N/g]
        return torch.cat([x, y.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])], dim=1)


def maybe_spectral(on: bool) -> Callable[[nn.Module], nn.Module]:
    """Spectral normalisation (Miyato et al. 2018) of a layer's weight when ``on``, else identity."""
    return spectral_norm if on else (lambda m: m)


@torch.no_grad()
def refresh_spectral_norm(module: nn.Module) -> None:
    """Set the singular vectors of every spectrally normalised weight in ``module`` to the
    exact top pair of its current weight (one SVD per layer, once, at build time).

    torch's ``spectral_norm`` runs 15 power iterations on the weight it is given at
    registration; a custom initialisation applied afterwards (e.g. DCGAN's N(0, 0.02)) leaves
    those vectors describing the old weight, and the first forward passes would divide by a
    wrong sigma (up to ~2x off in our tests; power iterations from there converge slowly when
    the top singular values are close). Training then tracks sigma with torch's one power
    iteration per forward pass, as usual. Call this after re-initialising.
    """
    for m in module.modules():
        plist = getattr(getattr(m, "parametrizations", None), "weight", None)
        if plist is None:
            continue
        for p in plist:
            # spectral_norm's parametrization keeps singular vectors _u, _v for a >1-D weight only
            if getattr(p, "_u", None) is not None and callable(getattr(p, "_reshape_weight_to_matrix", None)):
                W = p._reshape_weight_to_matrix(plist.original)  # (out, in * k * k)
                U, _, Vh = torch.linalg.svd(W, full_matrices=False)
                p._u.copy_(U[:, 0])  # u^T W v = sigma_max exactly
                p._v.copy_(Vh[0])
