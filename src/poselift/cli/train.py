"""``poselift train``."""

from __future__ import annotations

import argparse
import logging
import sys

from poselift.cli.options import (
    add_data_args,
    add_examples,
    add_model_args,
    add_threads_option,
    split_list,
)
from poselift.data.datasets import default_data_dir
from poselift.data.noise import NOISE_MODELS
from poselift.errors import PoseliftError
from poselift.models.temporal import parse_arc
from poselift.training import distributed
from poselift.training.config import TrainConfig
from poselift.training.trainer import train


def cmd_train(args) -> int:
    cfg = TrainConfig(
        dataset=args.dataset,
        data_dir=data_dir_for(args),
        keypoints=args.keypoints,
        subjects_train=split_list(args.subjects_train),
        subjects_test=split_list(args.subjects_test),
        actions=split_list(args.actions),
        filter_widths=parse_arc(args.arc),
        channels=args.channels,
        dropout=args.dropout,
        causal=args.causal,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_decay=args.lr_decay,
        subset=args.subset,
        subset_mode=args.subset_mode,
        downsample=args.downsample,
        stride=args.stride,
        seed=args.seed,
        flip_augment=not args.no_flip_augment,
        validate_every=args.validate_every,
        threads=args.threads,
        subjects_unlabeled=split_list(args.subjects_unlabeled),
        warmup=args.warmup,
        bone_length=not args.no_bone_length,
        projection=not args.no_proj,
        linear_projection=args.linear_projection,
        trajectory=args.trajectory,
        trajectory_channels=args.trajectory_channels,
        recipe=args.recipe,
        wild_clean_fraction=args.wild_clean_fraction,
        wild_noise_model=args.wild_noise,
        wild_limb_mix=args.wild_limb_mix,
        wild_real_cameras=args.wild_real_cameras,
        wild_camera_set=tuple(args.wild_camera_set),
        augment_device=args.augment_device,
        device=args.device,
        precision=args.precision,
        sync_bn=args.sync_bn,
        init_from=args.init_from,
    )
    if (args.no_proj or args.linear_projection or args.no_bone_length) and not cfg.semi_supervised:
        raise PoseliftError("--no-proj, --linear-projection and --no-bone-length only apply with --subjects-unlabeled")
    if args.batch_size < 1 or args.epochs < 1:
        raise PoseliftError("--batch-size and --epochs must be positive")
    if args.stop_after is not None and args.stop_after < 1:
        raise PoseliftError("--stop-after must be a positive number of epochs")
    # checked before joining the process group: a clear error instead of a hanging rendezvous
    device = distributed.resolve_device(args.device, distributed.env_local_rank())
    distributed.check_batch_size(args.batch_size, distributed.env_world_size())
    ctx = distributed.init_from_env(device)
    try:
        if not ctx.is_main:
            logging.getLogger("poselift").setLevel(logging.WARNING)
        last = train(
            cfg, args.out, resume=args.resume, progress=not args.no_progress, stop_after=args.stop_after, dist=ctx
        )
    finally:
        distributed.shutdown(ctx)
    if ctx.is_main:
        print(f"checkpoint: {last}", file=sys.stderr)
    return 0


def configure_train(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Train the temporal model with the strided twin; checkpoints every epoch to OUT/last.pt (resumable)."
    )
    add_data_args(p)
    add_model_args(p)
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=60, help="number of epochs (default 60)")
    g.add_argument("--batch-size", type=int, default=1024, help="windows per batch, over all processes together (default 1024; divisible by the number of processes)")
    g.add_argument("--lr", type=float, default=1e-3, help="initial learning rate, Adam amsgrad (default 1e-3)")
    g.add_argument("--lr-decay", type=float, default=0.95, help="learning-rate factor per epoch (default 0.95)")
    g.add_argument("--subset", type=float, default=1.0, help="fraction of each training video to use, as one random contiguous chunk (default 1)")
    g.add_argument("--subset-mode", choices=["seeded", "length-hash"], default="seeded", help="how --subset picks each video's chunk: seeded = random from --seed (default); length-hash = the original VideoPose3D rule (start from a hash of the video length), for like-for-like comparisons")
    g.add_argument("--downsample", type=int, default=1, help="keep every N-th frame of the training videos (lowers frame rate; default 1)")
    g.add_argument("--stride", type=int, default=1, help="use every N-th frame as a training target, windows stay at full rate (default 1)")
    g.add_argument("--no-flip-augment", action="store_true", help="disable left/right flip augmentation")
    g.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    g.add_argument("--validate-every", type=int, default=1, help="validate MPJPE on the test subjects every N epochs (0: never)")
    add_threads_option(g)
    g = p.add_argument_group("semi-supervised (back-projection)")
    g.add_argument("--subjects-unlabeled", default=None, help="comma-separated subjects used as unlabeled video (2D + camera intrinsics only), e.g. S5,S6,S7,S8; enables semi-supervised training and the trajectory model")
    g.add_argument("--warmup", type=int, default=1, help="supervised-only epochs before the unlabeled loss is attached (default 1)")
    g.add_argument("--no-bone-length", action="store_true", help="drop the bone-length term (ablation)")
    g.add_argument("--no-proj", action="store_true", help="drop the reprojection term (ablation)")
    g.add_argument("--linear-projection", action="store_true", help="project with a pinhole camera, ignoring lens distortion (ablation)")
    g.add_argument("--trajectory", action="store_const", const=True, default=None, help="also train the trajectory model (root position in camera space, metres) in supervised runs (default: on with --recipe wild, off otherwise)")
    g.add_argument("--trajectory-channels", type=int, default=None, metavar="N", help="channels of the trajectory model (default: the same as --channels); a smaller one trains faster")
    g.add_argument("--no-trajectory", dest="trajectory", action="store_const", const=False, help="no trajectory model (e.g. with --recipe wild)")
    g = p.add_argument_group("device and processes (multi-process: torchrun --nproc_per_node N -m poselift train ...)")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: cuda when torch sees a GPU, else cpu (default auto); under torchrun each process uses GPU LOCAL_RANK")
    g.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: forward passes under torch.autocast (losses, weights and optimiser stay fp32); slow on CPUs without AVX-512/AMX (default fp32)")
    g.add_argument("--sync-bn", action="store_true", help="with several processes: batch norm uses the statistics of the whole global batch, not each process's slice (makes N processes match one process with the same --batch-size)")
    g = p.add_argument_group("recipe")
    g.add_argument(
        "--recipe", choices=["wild"], default=None,
        help="wild: a model for in-the-wild video. Trains on Human3.6M world 3D (--dataset h36m) projected through a new "
        "random virtual camera per window (yaw 0-360°, elevation -10..45°, 2.5-8 m, horizontal field of view 40-90°, "
        "roll, off-centre subject), with detector-like 2D noise (jitter, bias, outliers, left/right swaps, "
        "interpolated gaps) and the joint layout `poselift infer` builds from COCO/BlazePose detections; turns the "
        "trajectory model on. Validation stays the standard protocol (real cameras, ground-truth 2D in that layout)",
    )
    g.add_argument("--wild-clean-fraction", type=float, default=0.0, metavar="P", help="with --recipe wild: fraction of training windows that keep their exact projected 2D, without detector noise (default 0: every window is corrupted)")
    g.add_argument("--wild-noise", choices=NOISE_MODELS, default="independent", help="with --recipe wild: the 2D noise model. independent (default, the bundled model's): per-frame jitter, a bias per window, rare outliers and swaps; correlated: a detector's slow, heavy-tailed error (it drifts over many frames, wrists/ankles/knees err most, 3.5x more left/right swaps), calibrated on Stacked-Hourglass detections of the training subjects (docs/results.md)")
    g.add_argument("--wild-limb-mix", type=float, default=0.0, metavar="P", help="with --recipe wild: probability per window that its arms move as another window's arms, and (drawn separately) its legs as another's legs, each bone's direction taken relative to the body and the window's own bone lengths kept: new arm/leg combinations that Human3.6M's scripted actions lack (default 0: off)")
    g.add_argument("--wild-real-cameras", type=float, default=0.0, metavar="P", help="with --recipe wild: fraction of training windows filmed by one of the recording's real calibrated Human3.6M cameras (with lens distortion) instead of a random virtual camera (default 0)")
    g.add_argument("--wild-camera-set", action="append", default=[], metavar="NAME=VALUE", help="with --recipe wild: override one setting of the random virtual cameras, repeatable, as `evaluate --virtual-set`: a range LOW,HIGH (yaw_deg, elevation_deg, distance_m, fov_deg: degrees / metres) or a number (roll_deg, principal_offset, aim_offset, min_depth_m), e.g. --wild-camera-set elevation_deg=0,30 for cameras near eye level (default: the prior of docs/model-card.md; the checkpoint records the distribution used)")
    g.add_argument("--augment-device", choices=["auto", "cpu"], default="auto", help="with --recipe wild: where the training batches are rendered (cameras, projection, noise). auto (default): on the training device, which on a GPU is many times faster than the CPU; cpu: always on the CPU. The GPU's random stream differs from the CPU's, so a run is reproducible on the same kind of device")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT", help="start the weights from this checkpoint or exported weights file ('bundled': the model shipped with poselift), e.g. to fine-tune on your data or to turn the symmetric model into a causal one (--causal); same architecture except --causal/--dropout; fresh optimiser; ignored with --resume")
    p.add_argument("--out", required=True, help="run folder for checkpoints (last.pt)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCHS", help="stop after this many epochs of this invocation (resume later with --resume; the result equals an uninterrupted run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_examples(
        p,
        'poselift train --dataset synthetic --channels 128 --epochs 5 --out runs/synthetic   # no data needed',
        'poselift train --data-dir ../shared/data/h36m --arc 3,3,3 --channels 256 --out runs/h36m_rf27',
        'poselift train --data-dir ../shared/data/h36m --arc 3,3,3 --channels 256 --out runs/h36m_rf27 --resume   # continue',
    )
    p.set_defaults(func=cmd_train)


def data_dir_for(args) -> str:
    if args.data_dir:
        return args.data_dir
    return str(default_data_dir(args.dataset))
