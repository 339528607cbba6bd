"""``poselift bench``: measured training/inference speed on this machine.

Training throughput counts everything a real step does: window gathering from a
padded sequence store (one gather), flip augmentation, forward, backward and the
Adam (amsgrad) step. Inference runs the full model over one long sequence.
FLOP counts are analytic (2 × multiply-adds of the convolutions); the peak is a
measured fp32 matrix product on this machine with the same thread count.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from poselift.data.datasets import DEFAULT_DATA_ROOT
from poselift.data.noise import NoiseConfig
from poselift.data.synthetic import animate_figure
from poselift.data.wild import WildWindowDataset
from poselift.data.windows import WindowDataset
from poselift.errors import PoseliftError
from poselift.geometry.sequence import FlipSpec, pad_sequence
from poselift.geometry.skeleton import H36M_17
from poselift.models import losses
from poselift.models.fast import fold_batchnorm
from poselift.models.lifter import PoseLifter
from poselift.models.predict import predict_sequence
from poselift.models.temporal import (
    ModelConfig,
    TemporalModel,
    TemporalModelStrided,
)
from poselift.pipeline.infer import run_infer
from poselift.pipeline.stream import CausalLifter
from poselift.training.distributed import cpu_has_native_bf16, resolve_device

BENCHMARKS = ("train", "infer", "stream", "pipeline")


def forward_flops_per_output(cfg: ModelConfig, strided: bool) -> float:
    """Multiply-add FLOPs (×2) of one output frame.

    Strided: the exact cost of one RF-window. Full model: the amortised cost per
    output frame on a long sequence (every layer runs once per frame).
    """
    c, widths = cfg.channels, cfg.filter_widths
    cin = cfg.num_joints_in * cfg.in_features
    if strided:
        rows = cfg.receptive_field // widths[0]
        flops = 2 * rows * cin * widths[0] * c
        for w in widths[1:]:
            rows //= w
            flops += 2 * rows * (w * c * c + c * c)
    else:
        flops = 2 * cin * widths[0] * c + sum(2 * (w * c * c + c * c) for w in widths[1:])
    return flops + 2 * c * cfg.num_joints_out * 3


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(
    size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> float:
    """Best-of-``repeats`` GFLOP/s of a square matrix product on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        size = max(size, 8192)  # a GPU needs a large product to reach its peak
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    torch.mm(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def machine(device: torch.device | str = "cpu") -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def _random_sequences(cfg: ModelConfig, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Ten 2,000-frame random sequences: 2D ``[T, J_in, 2]`` and 3D ``[T, J_out, 3]``."""
    seqs2d = [rng.standard_normal((2000, cfg.num_joints_in, 2)).astype(np.float32) * 0.3 for _ in range(10)]
    seqs3d = [rng.standard_normal((2000, cfg.num_joints_out, 3)).astype(np.float32) * 0.3 for _ in range(10)]
    return seqs2d, seqs3d


def _time_training(
    step, cfg: ModelConfig, batch_size: int, steps: int, warmup: int, label: str, device: torch.device | None = None
) -> dict:
    """Median wall time of ``step(i)`` (one whole training step, finished on ``device``)
    after ``warmup`` steps."""
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step(i)
        if device is not None:
            _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
        print(f"\r{label} step {i + 1}/{warmup + steps}", end="", file=sys.stderr)
    print(file=sys.stderr)
    per_step = float(np.median(times))
    samples_per_s = batch_size / per_step
    flops_per_sample = 3 * forward_flops_per_output(cfg, strided=True)
    return {"samples_per_s": samples_per_s, "step_time_s": per_step, "gflops": samples_per_s * flops_per_sample / 1e9, "flops_per_sample": flops_per_sample}


def _wild_bench_data(cfg: ModelConfig, device: torch.device):
    """``--recipe wild`` batches of ten 2,000-frame procedural figures (no dataset files),
    rendered on ``device``, with the recipe's detector noise."""
    if cfg.num_joints_in != 17 or cfg.num_joints_out != 17:
        raise PoseliftError("`wild` training batches need the H36M-17 model (17 joints in and out)")
    world = [animate_figure(2000, seed=i) for i in range(10)]
    data = WildWindowDataset(world, cfg.receptive_field, causal=cfg.causal, noise=NoiseConfig(clean_prob=0.2)).to(device)
    return data, torch.Generator(device=device).manual_seed(0)


def bench_train(
    cfg: ModelConfig, batch_size: int, steps: int, warmup: int = 2, *, precision: str = "fp32", profile: bool = False,
    device: torch.device | str = "cpu", wild: bool = False,
) -> dict:
    """Training throughput of our strided model (``bf16``: forward under autocast) on
    ``device``; ``wild``: batches rendered like ``--recipe wild`` (on the device) instead
    of gathered from stored 2D windows."""
    device = torch.device(device)
    if wild:
        data, gen = _wild_bench_data(cfg, device)
    else:
        seqs2d, seqs3d = _random_sequences(cfg, np.random.default_rng(0))
        flip = FlipSpec.from_skeletons(H36M_17, H36M_17) if cfg.num_joints_in == cfg.num_joints_out == 17 else None
        data = WindowDataset(seqs2d, seqs3d, cfg.receptive_field, causal=cfg.causal, flip=flip)
        gen = torch.Generator().manual_seed(0)
    model = TemporalModelStrided(cfg).train().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)

    def batches():
        while True:
            yield from data.batches(batch_size, gen)

    it = batches()

    def step(i: int) -> None:
        batch = next(it).to(device)
        with _autocast(precision, device):
            pred = model(batch.inputs)
        loss = losses.mpjpe_loss(pred.float(), batch.targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    result = _time_training(step, cfg, batch_size, steps, warmup, "train", device)
    if profile:
        result["profile"] = _profile(step, steps=3)
    return result


class ReferenceStridedModel(TemporalModel):
    """The original implementation's training model, for side-by-side timing.

    Same weights as :class:`TemporalModel`, but each dilated convolution runs as a
    ``Conv1d`` with stride = kernel on a channels-first ``[B, C, T]`` tensor and the
    residual is a strided slice: the structure of the original's optimised 1-frame
    model. Outputs equal :class:`TemporalModelStrided`'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        x = x.reshape(b, t, -1).transpose(1, 2)
        drop, cfg = self.config.dropout, self.config
        x = torch.nn.functional.conv1d(x, self.expand_conv.weight, stride=cfg.filter_widths[0])
        x = torch.nn.functional.dropout(torch.relu(self.expand_bn(x)), drop, self.training)
        for i, w in enumerate(cfg.filter_widths[1:]):
            shift = w - 1 if cfg.causal else w // 2
            res = x[:, :, shift::w]
            conv = self.layers_conv[2 * i]
            x = torch.nn.functional.conv1d(x, conv.weight, stride=w)
            x = torch.nn.functional.dropout(torch.relu(self.layers_bn[2 * i](x)), drop, self.training)
            x = res + torch.nn.functional.dropout(torch.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))), drop, self.training)
        x = self.shrink(x)
        return x.transpose(1, 2).reshape(b, -1, cfg.num_joints_out, 3)


def reference_batch(
    seqs2d: list[np.ndarray], seqs3d: list[np.ndarray], pairs: np.ndarray, rf: int,
    kps_perm: np.ndarray, joints_perm: np.ndarray,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch creation as the original generator does it: one Python iteration per
    sample (slice with edge padding, copy, optional flip), then one tensor."""
    pad = (rf - 1) // 2
    b2 = np.empty((len(pairs), rf) + seqs2d[0].shape[1:], dtype=np.float32)
    b3 = np.empty((len(pairs), 1) + seqs3d[0].shape[1:], dtype=np.float32)
    for i, (seq_i, start, flip) in enumerate(pairs):
        seq2d, seq3d = seqs2d[seq_i], seqs3d[seq_i]
        low, high = start - pad, start + pad + 1
        low_c, high_c = max(low, 0), min(high, seq2d.shape[0])
        pad_left, pad_right = low_c - low, high - high_c
        if pad_left or pad_right:
            b2[i] = np.pad(seq2d[low_c:high_c], ((pad_left, pad_right), (0, 0), (0, 0)), "edge")
        else:
            b2[i] = seq2d[low_c:high_c]
        b3[i] = seq3d[start : start + 1]
        if flip:
            b2[i, :, :, 0] *= -1
            b2[i] = b2[i][:, kps_perm]
            b3[i, :, :, 0] *= -1
            b3[i] = b3[i][:, joints_perm]
    return torch.from_numpy(b2), torch.from_numpy(b3 - b3[:, :, :1])


def _profile(step, steps: int) -> list[dict]:
    """Where a training step's time goes: the top operators by self CPU time (also printed to stderr)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            step(i)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    print(table, file=sys.stderr)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {"op": e.key, "self_cpu_ms_per_step": e.self_cpu_time_total / 1000 / steps, "share": e.self_cpu_time_total / total}
        for e in events[:12]
    ]


def bench_train_reference(cfg: ModelConfig, batch_size: int, steps: int, warmup: int = 2) -> dict:
    """Training throughput of the original implementation's structure (see
    :class:`ReferenceStridedModel` and :func:`reference_batch`), same FLOPs."""
    rng = np.random.default_rng(0)
    seqs2d, seqs3d = _random_sequences(cfg, rng)
    perm_in = np.asarray(H36M_17.flip_permutation()) if cfg.num_joints_in == 17 else np.arange(cfg.num_joints_in)
    perm_out = np.asarray(H36M_17.flip_permutation()) if cfg.num_joints_out == 17 else np.arange(cfg.num_joints_out)
    pairs = np.array([(i, t, f) for i in range(10) for t in range(2000) for f in (0, 1)])
    rng.shuffle(pairs)
    model = ReferenceStridedModel(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)

    def step(i: int) -> None:
        chunk = pairs[(i * batch_size) % len(pairs):][:batch_size]
        inputs, targets = reference_batch(seqs2d, seqs3d, chunk, cfg.receptive_field, perm_in, perm_out)
        loss = losses.mpjpe_loss(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _time_training(step, cfg, batch_size, steps, warmup, "reference train")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux ``ru_maxrss`` is KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _autocast(precision: str, device: torch.device | None = None):
    """``torch.autocast`` for ``bf16`` (on ``device``, default the CPU), a no-op context for ``fp32``."""
    import contextlib

    if precision == "bf16":
        return torch.autocast(device.type if device is not None else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bench_infer(cfg: ModelConfig, frames: int, repeats: int = 3, *, reference: bool = False, precision: str = "fp32") -> dict:
    """Frames/s of lifting one ``frames``-long sequence (no flip TTA).

    Ours: :class:`~poselift.models.fast.FoldedTemporalModel` through
    :func:`~poselift.models.predict.predict_sequence` (BN folded, channels-last GEMMs,
    cache-sized chunks). ``reference``: the original's way — the plain
    ``TemporalModel`` (Conv1d + BN) over the whole edge-padded sequence at once.
    ``bf16``: the plain model under bf16 autocast (oneDNN), compared with fp32.
    """
    torch.manual_seed(0)
    model = TemporalModel(cfg).eval()
    x = torch.randn(frames, cfg.num_joints_in, 2) * 0.3
    rss_before = _peak_rss_mb()
    if reference or precision == "bf16":
        padded = pad_sequence(x, cfg.receptive_field, cfg.causal)[None]

        def run() -> torch.Tensor:
            with _autocast(precision):
                return model(padded)[0].float()
    else:
        fast = fold_batchnorm(model)

        def run() -> torch.Tensor:
            return torch.as_tensor(predict_sequence(fast, x))

    best = float("inf")
    with torch.inference_mode():
        out = run()
        for i in range(repeats):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
            print(f"\rinfer run {i + 1}/{repeats}", end="", file=sys.stderr)
        print(file=sys.stderr)
        result: dict = {}
        if precision == "bf16":
            exact = model(padded)[0]
            result["max_abs_diff_vs_fp32_mm"] = float((out - exact).abs().max()) * 1000
    fps = frames / best
    engine = "reference: TemporalModel (Conv1d+BN) on the whole sequence" if reference else (
        "TemporalModel under bf16 autocast" if precision == "bf16" else "FoldedTemporalModel via predict_sequence")
    result.update({
        "frames_per_s": fps, "time_s": best, "gflops": fps * forward_flops_per_output(cfg, strided=False) / 1e9,
        "engine": engine, "peak_rss_growth_mb": _peak_rss_mb() - rss_before,
    })
    return result


def bench_stream(cfg: ModelConfig, frames: int = 500, *, reference: bool = False) -> dict:
    """Per-frame latency of causal streaming: push one frame, get its 3D pose.

    Ours: :class:`~poselift.pipeline.stream.CausalLifter` (incremental, per-layer histories).
    ``reference``: recompute the last ``RF`` frames with the full model every frame.
    """
    from dataclasses import replace

    torch.manual_seed(0)
    model = TemporalModel(replace(cfg, causal=True)).eval()
    x = (torch.randn(frames, cfg.num_joints_in, 2) * 0.3).numpy()
    if reference:
        window = torch.as_tensor(x[: cfg.receptive_field])[None]

        def push(frame: np.ndarray) -> None:
            with torch.inference_mode():
                model(window)
    else:
        lifter = CausalLifter(PoseLifter(model))

        def push(frame: np.ndarray) -> None:
            lifter.push(frame)

    for t in range(min(20, frames)):
        push(x[t])
    times = []
    for t in range(frames):
        t0 = time.perf_counter()
        push(x[t])
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1000
    flops = forward_flops_per_output(cfg, strided=False)  # one new output frame: every layer once
    return {
        "frames_per_s": 1000 / float(ms.mean()),
        "latency_ms": {"mean": float(ms.mean()), "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())},
        "gflops": flops / (float(ms.mean()) / 1000) / 1e9,
        "engine": "reference: full model on the last RF frames" if reference else "CausalLifter (incremental)",
    }


def bench_pipeline(video: str | None, checkpoint: str | None, flip: bool = True) -> dict:
    """End-to-end ``poselift infer`` on a real video: decode + detect + lift + write.

    ``video`` defaults to the demo clip in ``../shared/data/video`` when present.
    """
    import tempfile
    from pathlib import Path

    if video is None:
        default = DEFAULT_DATA_ROOT / "video" / "sports2d_demo.mp4"
        if not default.is_file():
            raise PoseliftError(f"the pipeline benchmark needs a `video` (the default {default} is absent)")
        video = str(default)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_infer(video, Path(tmp) / "out", checkpoint, flip=flip, progress=False)
    info = result.to_dict()
    timings = info.get("timings_s", {})
    lift_s = timings.get("lift")
    return {
        "frames_per_s": info["frames_per_s"],
        "frames": info["num_frames"],
        "timings_s": timings,
        "lift_frames_per_s": info["num_frames"] / lift_s if lift_s else None,
        "video": video,
        "gflops": 0.0,
    }


@dataclass
class BenchConfig:
    """One ``poselift bench`` run. ``what``: ``train``, ``infer``, ``stream`` or
    ``pipeline``; ``model``: the architecture timed; ``frames``: inference sequence
    length; ``reference``: time the original implementation's structure instead;
    ``precision``: ``fp32`` or ``bf16`` autocast; ``device``: where ``train`` runs;
    ``wild``: ``train`` on batches rendered like the wild recipe; ``video`` /
    ``checkpoint``: what ``pipeline`` runs; ``command``: recorded in the result."""

    what: str
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 1024
    frames: int = 10_000
    steps: int = 10
    reference: bool = False
    precision: str = "fp32"
    profile: bool = False
    device: str = "cpu"
    wild: bool = False
    video: str | None = None
    checkpoint: str | None = None
    command: str = field(default_factory=lambda: "poselift " + " ".join(sys.argv[1:]))


def run_bench(config: BenchConfig) -> dict:
    """Run the benchmark ``config.what`` and return one JSON-serialisable result
    (the torch thread count is whatever the caller set)."""
    what, reference, precision, wild = config.what, config.reference, config.precision, config.wild
    if what not in BENCHMARKS:
        raise PoseliftError(f"unknown benchmark {what!r}; expected one of {', '.join(BENCHMARKS)}")
    device = resolve_device(config.device)
    if (device.type != "cpu" or wild) and what != "train":
        raise PoseliftError("`device` and `wild` apply to `what='train'`")
    if reference and (device.type != "cpu" or wild):
        raise PoseliftError("`reference` times the original's CPU training: it takes no `device='cuda'` or `wild`")
    if precision == "bf16" and (reference or what in ("stream", "pipeline")):
        raise PoseliftError("`precision='bf16'` applies to `what='train'` and `what='infer'` (ours), not with `reference`, stream or pipeline")
    cfg = config.model
    if what == "train" and reference:
        result = bench_train_reference(cfg, config.batch_size, config.steps)
    elif what == "train":
        result = bench_train(
            cfg, config.batch_size, config.steps, precision=precision, profile=config.profile, device=device, wild=wild,
        )
    elif what == "stream":
        result = bench_stream(cfg, reference=reference)
    elif what == "pipeline":
        result = bench_pipeline(config.video, config.checkpoint)
    else:
        result = bench_infer(cfg, config.frames, reference=reference, precision=precision)
    peak = matmul_peak_gflops(device=device)
    result.update(
        {
            "what": what + (" (reference: original implementation's structure)" if reference else ""),
            "precision": precision,
            "native_bf16": cpu_has_native_bf16(),
            "config": {**cfg.to_dict(), "batch_size": config.batch_size, "frames": config.frames, "receptive_field": cfg.receptive_field},
            "device": str(device),
            "batches": "wild (rendered on the device)" if wild else "stored windows",
            "matmul_peak_gflops": peak,
            "peak_fraction": result["gflops"] / peak,
            "peak_rss_mb": _peak_rss_mb(),
            "machine": machine(device),
            "command": config.command,
        }
    )
    if what == "pipeline":
        result.pop("config")
    return result
