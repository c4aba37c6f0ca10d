"""How the step runs G and D on the hardware: precision, memory format, compilation and DDP.

A game's step (``games/``) calls G and D through a :class:`Runtime`, one callable per role, and
backs losses up through it; it never needs to know which options are on:

- ``train.precision=bf16``: forward passes under ``torch.autocast`` in bfloat16; ``fp16``:
  autocast in float16 and one ``torch.amp.GradScaler`` per player (D and G step at different
  times and k times for one, so each has its own loss scale). Outputs come back as float32,
  so losses, penalties and statistics are computed in fp32. Penalties call the plain D
  outside autocast: ``autograd.grad(create_graph=True)`` runs in fp32 and needs no scaling of
  its own; the penalty's share of D's loss is scaled with the rest, and unscaled with it.
- ``train.channels_last``: G, D (and G_ema) in NHWC memory format, 4-d inputs converted.
- ``train.compile``: ``torch.compile`` of G and D (of their DDP wrappers under torchrun).
- torchrun: G and D wrapped in DistributedDataParallel for their own updates only. D judging
  G's fakes is frozen (``games.base.frozen``) and called unwrapped, as is G making D's fakes under
  no_grad: a DDP forward that no backward follows would leave its reducer waiting.

The image-to-image games (``games/i2i.py``) use the same runtime. A player held as a
``ModuleDict`` (CycleGAN's G = {"ab", "ba"}, D = {"a", "b"}) gets each role as a dict of
callables, one per network, each wrapped on its own (DDP cannot wrap a ModuleDict, which has
no forward): ``rt.g_train["ab"](a)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..data.base import DataSource, Finite
from ..errors import GanforgeError
from ..registry import Registry
from .distributed import Dist, ShardedPrior

PRECISIONS: Registry = Registry("train.precision")  # name -> autocast dtype (None: plain fp32)
PRECISIONS.add("fp32", None)
PRECISIONS.add("bf16", torch.bfloat16)
PRECISIONS.add("fp16", torch.float16)


class Call:
    """``module(x, y)`` under autocast when ``dtype`` is set, with float32 outputs; 4-d inputs
    in channels_last memory format when asked."""

    def __init__(self, module: Callable, device_type: str = "cpu", dtype: Optional[torch.dtype] = None,
                 channels_last: bool = False):
        self.module, self.device_type, self.dtype, self.channels_last = module, device_type, dtype, channels_last

    def __call__(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        # y only when there is one: image-to-image networks take one input (UNet's 2nd is a flag)
        args = (x,) if y is None else (x, y)
        if self.dtype is None:
            return self.module(*args)
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.module(*args)
        return out.float()


def per_net(fn: Callable, player):
    """``fn(player)``, or for a player of several networks (a ``ModuleDict``, or a dict of their
    wrappers) ``{name: fn(net)}``: each network is wrapped, compiled and called on its own."""
    if isinstance(player, (nn.ModuleDict, dict)):
        return {k: fn(m) for k, m in player.items()}
    return fn(player)


def grad_norm(module: nn.Module) -> Tensor:
    """The global L2 norm of ``module``'s gradients (0 when it has none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@dataclass
class Runtime:
    """The four ways the step calls G and D, and the loss scaling of each player."""

    g_fake: Callable  # G making D's fakes, under no_grad
    d_train: Callable  # D in its own update (DDP-wrapped under torchrun)
    g_train: Callable  # G in its own update (DDP-wrapped under torchrun)
    d_judge: Callable  # D judging G's fakes in G's update: frozen, never DDP-wrapped
    scalers: dict = field(default_factory=dict)  # fp16: player ("d", "g") -> torch.amp.GradScaler
    dist: Dist = field(default_factory=Dist)  # torchrun: this rank's place (shard / gather a batch)

    @classmethod
    def plain(cls, G: nn.Module, D: nn.Module) -> "Runtime":
        return cls(G, D, G, D)

    def backward(self, loss: Tensor, player: str) -> None:
        """``loss.backward()``, through the player's loss scale under fp16."""
        scaler = self.scalers.get(player)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def grad_norm(self, module: nn.Module, opt: torch.optim.Optimizer, player: str) -> Tensor:
        """The global L2 norm of ``module``'s (unscaled) gradients. Under fp16, a step that the
        scaler skips for an overflow reports 0: an overflow is handled, not a divergence."""
        scaler = self.scalers.get(player)
        if scaler is None:
            return grad_norm(module)
        scaler.unscale_(opt)
        norm = grad_norm(module)
        return torch.where(torch.isfinite(norm), norm, torch.zeros_like(norm))

    def step(self, opt: torch.optim.Optimizer, player: str) -> None:
        """``opt.step()``; under fp16 skipped on overflow, then the loss scale is updated."""
        scaler = self.scalers.get(player)
        if scaler is None:
            opt.step()
            return
        scaler.step(opt)
        scaler.update()

    def state_dict(self) -> dict:
        return {k: s.state_dict() for k, s in self.scalers.items()}

    def load_state_dict(self, state: Optional[dict]) -> None:
        for k, s in self.scalers.items():
            if state and k in state:
                s.load_state_dict(state[k])


def _match_layout(opt: torch.optim.Optimizer) -> None:
    """Give optimizer moments the memory format of their parameter (after a resume into a
    channels_last run): fused kernels expect matching layouts."""
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if isinstance(v, Tensor) and v.shape == p.shape and v.dim() == 4 and v.stride() != p.stride():
                    opt.state[p][k] = v.contiguous(memory_format=torch.channels_last) if \
                        p.is_contiguous(memory_format=torch.channels_last) else v.contiguous()


def attach(game, cfg, device: torch.device, d: Dist) -> Runtime:
    """Apply the speed and scale options of ``cfg.train`` to ``game`` (after any resume) and set
    its runtime. Returns it."""
    T = cfg.train
    pl = game.players
    G, D = pl.G, pl.D
    if T.channels_last:
        for m in (G, D) + ((pl.ema.model,) if pl.ema is not None else ()):
            m.to(memory_format=torch.channels_last)  # parameters keep their identity
        _match_layout(pl.opt_g)
        _match_layout(pl.opt_d)
    if d.enabled and T.sync_bn:
        G = nn.SyncBatchNorm.convert_sync_batchnorm(G)  # shares the parameters and buffers
        D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
        pl.G, pl.D = G, D
    g_own, d_own = G, D
    if d.enabled:
        ids = [device.index] if device.type == "cuda" else None
        ddp = lambda m: DDP(m, device_ids=ids)  # noqa: E731
        g_own, d_own = per_net(ddp, G), per_net(ddp, D)
        shard_randomness = getattr(G, "shard_randomness", None)  # a G that draws noise inside (StyleGAN2)
        if shard_randomness is not None:
            shard_randomness(d.rank, d.world)
        if game.prior is not None:  # image-to-image games have no prior: their batch is sharded
            game.prior = ShardedPrior(game.prior, d)
    g_use, d_use = G, D
    if T.compile:
        g_use, d_use = per_net(torch.compile, G), per_net(torch.compile, D)
        g_own = per_net(torch.compile, g_own) if d.enabled else g_use
        d_own = per_net(torch.compile, d_own) if d.enabled else d_use
    dtype = PRECISIONS.get(T.precision)
    call = lambda m: per_net(lambda net: Call(net, device.type, dtype, T.channels_last), m)  # noqa: E731
    scalers = {}
    if T.precision == "fp16":
        scalers = {"d": torch.amp.GradScaler(device.type), "g": torch.amp.GradScaler(device.type)}
    game.runtime = Runtime(call(g_use), call(d_own), call(g_own), call(d_use), scalers, d)
    game.shard = d.shard
    return game.runtime


def data_on_device(setting: str, data: DataSource, device: torch.device, limit_bytes: int = 1 << 30) -> bool:
    """Whether to hold the training set on ``device``: ``true``, ``false``, or ``auto``: a finite
    dataset of at most ``limit_bytes`` on a non-CPU device. Endless sources (known densities)
    are drawn on the CPU whatever the setting."""
    setting = setting.lower()
    if not isinstance(data, Finite) or setting == "false":
        return False
    return setting == "true" or (device.type != "cpu" and data.nbytes() <= limit_bytes)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise GanforgeError("train.precision=bf16: this GPU has no bfloat16 support; use train.precision=fp16")
