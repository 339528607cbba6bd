"""Does bf16 inference change the bundled model's accuracy? Runs `poselift evaluate`
(S9/S11, GT 2D, flip; extra arguments are passed on, e.g. --noisy) once in fp32 and once
under torch.autocast(bfloat16), both with the plain (unfolded) model and one thread, and
prints MPJPE / P-MPJPE and the time of each.
Usage: [PRECISIONS=bf16] python scripts/diag/bf16_eval.py [EVALUATE ARGS ...]   (docs/results.md, session 12)"""
import contextlib
import io
import json
import os
import sys
import time

import torch

import poselift.models.fast
from poselift.cli.main import main
from poselift.training.distributed import cpu_has_native_bf16

torch.set_num_threads(1)
# bf16 runs the plain TemporalModel under autocast (the folded fast twin uses in-place fp32 GEMMs),
# so fp32 does too, for a like-for-like time; both give the same fp32 numbers to 0.01 mm.
poselift.models.fast.fast_twin = lambda model: model
print(f"native bf16: {cpu_has_native_bf16()}, torch {torch.__version__}")
for precision in os.environ.get("PRECISIONS", "fp32,bf16").split(","):
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    out = io.StringIO()
    t0 = time.perf_counter()
    with ctx, contextlib.redirect_stdout(out):
        rc = main(["evaluate", "--json", "--threads", "1", *sys.argv[1:]])
    r = json.loads(out.getvalue())
    print(f"{precision}: MPJPE {r['mpjpe_mm']:.2f} mm, P-MPJPE {r['p_mpjpe_mm']:.2f} mm, "
          f"MPJVE {r['mpjve_mm']:.3f} mm, {time.perf_counter() - t0:.0f} s (rc {rc})")
