"""Multi-process training (``torchrun``): device choice, process group, batch norm sync.

``torchrun --nproc_per_node N -m poselift train ...`` starts N copies of the CLI with
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in their environment. :func:`init_from_env`
turns that into a :class:`DistContext` (gloo process group on CPU, NCCL on CUDA); a
plain ``poselift train`` (or ``WORLD_SIZE=1``) gets the single-process context and no
process group, so its behaviour is exactly that of a run without this module.

What the trainer does with the context (see :mod:`poselift.training.trainer`):

* the strided pose (and trajectory) model is wrapped in
  :class:`torch.nn.parallel.DistributedDataParallel`, which averages gradients;
* every rank draws the same permutation from the same seeded data generator and
  takes its contiguous slice of each global batch
  (:class:`poselift.data.windows.Shard`), so N processes with global batch B see
  the same samples per step as one process with batch B;
* with ``--sync-bn`` every batch-norm layer of the strided model normalises with the
  mean/variance of the whole global batch (:class:`RowSyncBatchNorm1d`); without it
  each rank normalises its own slice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from poselift.data.windows import Shard
from poselift.errors import PoseliftError

log = logging.getLogger("poselift.training.distributed")

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
#: Collective timeout: rank 0 validates alone while the others wait at a barrier.
TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) training job.

    ``world_size == 1`` is the plain single-process run: no process group exists and
    every collective helper is a no-op.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        """True when several processes train together (a process group exists)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, validates and writes checkpoints."""
        return self.rank == 0

    def shard(self) -> Shard | None:
        """This rank's share of each global batch; ``None`` in a single process."""
        return Shard(self.rank, self.world_size) if self.enabled else None

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.enabled:
            torch.distributed.barrier()

    def all_gather_object(self, obj: Any) -> list[Any]:
        """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` in a single process)."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def all_reduce_sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sum of ``values`` over the ranks (float64 on ``device``)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return t.tolist()


def env_world_size() -> int:
    """``WORLD_SIZE`` as set by ``torchrun`` (1 when absent)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise PoseliftError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer") from None


def env_local_rank() -> int:
    """``LOCAL_RANK`` as set by ``torchrun`` (0 when absent): the GPU index on this node."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise PoseliftError(f"LOCAL_RANK={os.environ['LOCAL_RANK']!r} is not an integer") from None


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` → GPU ``local_rank``.

    Raises :class:`PoseliftError` for ``cuda`` without CUDA or with too few GPUs.
    """
    if name not in DEVICES:
        raise PoseliftError(f"unknown `device` {name!r}; expected one of {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise PoseliftError(
            f"`device='cuda'`: torch {torch.__version__} ({build}) sees no CUDA GPU; "
            "use `device='cpu'` (or auto), or install a CUDA build of torch on a machine with a GPU"
        )
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise PoseliftError(
            f"`device='cuda'`: local rank {local_rank} needs GPU {local_rank} but only {count} are visible; "
            "start at most one process per GPU (torchrun's nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


def check_batch_size(batch_size: int, world_size: int) -> None:
    """The global batch must split evenly over the processes."""
    if world_size > 1 and batch_size % world_size:
        raise PoseliftError(
            f"`batch_size={batch_size}` is the global batch and must be divisible by the number of processes "
            f"({world_size}); e.g. `batch_size={batch_size - batch_size % world_size or world_size}`"
        )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16 / AMX); else bf16 is emulated (slow).

    Read from the CPU flags in ``/proc/cpuinfo`` (Linux): AVX-512 alone does not imply
    bf16 (e.g. Skylake/Cascade Lake have AVX-512 but no ``avx512_bf16``). Elsewhere, an
    AMX capability reported by torch counts as native.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse unknown precisions and bf16 on a GPU without it; warn about emulated bf16 on CPU."""
    if precision not in PRECISIONS:
        raise PoseliftError(f"unknown `precision` {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "bf16":
        return
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PoseliftError(f"`precision='bf16'`: {torch.cuda.get_device_name(device)} has no bf16 support; use fp32")
    if device.type == "cpu" and not cpu_has_native_bf16():
        log.warning(
            "--precision bf16 on a CPU without native bf16 (capability %s): autocast works but is usually "
            "slower than fp32 here",
            torch.backends.cpu.get_cpu_capability(),
        )


def init_from_env(device: torch.device) -> DistContext:
    """Join the process group described by torchrun's environment variables.

    Backend: NCCL when ``device`` is CUDA (and the process is bound to it), gloo on
    CPU. Without ``WORLD_SIZE`` > 1 nothing is initialised.
    """
    world_size = env_world_size()
    if world_size <= 1:
        return DistContext()
    if not torch.distributed.is_available():
        raise PoseliftError("this torch build has no torch.distributed; cannot train with several processes")
    for var in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if var not in os.environ:
            raise PoseliftError(f"WORLD_SIZE={world_size} but {var} is not set; launch with torchrun (nproc_per_node N)")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(backend, timeout=TIMEOUT)
    ctx = DistContext(
        rank=torch.distributed.get_rank(), world_size=torch.distributed.get_world_size(),
        local_rank=env_local_rank(), backend=backend,
    )
    log.debug("rank %d/%d joined the %s process group on %s", ctx.rank, ctx.world_size, backend, device)
    return ctx


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (if one was joined)."""
    if ctx.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# ---------------------------------------------------------------- synchronised BN
class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks: forward all-reduces the tensor, backward
    all-reduces its gradient (d/dx_r of sum_q f_q(sum x) = sum_q df_q)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, group: Any) -> torch.Tensor:
        ctx.group = group
        out = tensor.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _AllReduceSum.apply(grad, ctx.group), None


def all_reduce_sum(tensor: torch.Tensor, group: Any = None) -> torch.Tensor:
    """Sum of ``tensor`` over the ranks of ``group``, differentiable (any shape)."""
    return _AllReduceSum.apply(tensor, group)


class RowSyncBatchNorm1d(nn.BatchNorm1d):
    """Batch norm whose training statistics cover the global batch of all ranks.

    Same parameters and buffers as :class:`torch.nn.BatchNorm1d` (state dicts are
    interchangeable). :class:`poselift.models.temporal.TemporalModelStrided` normalises through
    :meth:`batch_norm_rows` on its ``[rows, channels]`` layout; ``torch.nn.SyncBatchNorm``
    cannot be used there (the strided model calls the functional batch norm with the
    module's tensors, and SyncBatchNorm only runs on GPUs).

    Forward (training): per-channel sums and row counts, then sums of squared
    deviations from the global mean, are all-reduced with the autograd-aware
    :func:`all_reduce_sum` (its own process group), so gradients flow through
    the statistics to every rank's rows exactly as in one process with the whole
    batch. Running statistics are updated like ``F.batch_norm`` (unbiased variance).
    """

    def __init__(self, num_features: int, *, group: Any = None, **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.group = group

    @classmethod
    def from_batchnorm(cls, bn: nn.BatchNorm1d, group: Any) -> "RowSyncBatchNorm1d":
        """A synchronised twin sharing ``bn``'s parameters and buffers (same objects)."""
        new = cls(bn.num_features, group=group, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                  track_running_stats=bn.track_running_stats)
        if bn.affine:
            new.weight, new.bias = bn.weight, bn.bias
        new.running_mean, new.running_var, new.num_batches_tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
        new.train(bn.training)
        return new

    def batch_norm_rows(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        """Normalise ``[rows, C]`` with global-batch statistics (local ones in eval)."""
        momentum = self.momentum if self.momentum is not None else 0.0
        if not training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training=False, momentum=momentum, eps=self.eps)
        xf = x.float()
        local = torch.cat([xf.sum(0), xf.new_tensor([x.shape[0]])])  # [C + 1]: sums, rows
        total = all_reduce_sum(local, self.group)
        count = total[-1].detach()
        mean = total[:-1] / count  # [C]
        centred = xf - mean
        var = all_reduce_sum((centred * centred).sum(0), self.group) / count  # biased, [C]
        out = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                unbiased = var.detach() * (count / (count - 1).clamp_min(1))
                self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
        return out.to(x.dtype)


def convert_row_sync_batchnorm(module: nn.Module, group: Any) -> nn.Module:
    """Replace every ``nn.BatchNorm1d`` inside ``module`` by :class:`RowSyncBatchNorm1d`
    (in place; parameters stay the same objects, so do it before or after building the
    optimiser). Returns ``module``."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            module.add_module(name, RowSyncBatchNorm1d.from_batchnorm(child, group))
        else:
            convert_row_sync_batchnorm(child, group)
    return module
