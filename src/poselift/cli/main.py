"""Command-line interface: ``poselift <verb> [options]``.

User errors (:class:`PoseliftError`) are printed as one line and exit with code 2.
Machine-readable output goes to stdout behind ``--json``; logs and progress bars go
to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from poselift.argtypes import add_threads_option, apply_threads
from poselift.errors import PoseliftError

log = logging.getLogger("poselift")
DEFAULT_DATA = Path("../shared/data")
NOISY_EVAL_SEED = 20240  # fixed: `evaluate --noisy` numbers are comparable between checkpoints
VIRTUAL_EVAL_SEED = 20241  # fixed: `evaluate --virtual-cameras` films with the same cameras every time


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--arc", default="3,3,3", help="filter widths; RF = product: 3,3,3 → 27 frames, 3,3,3,3 → 81, 3,3,3,3,3 → 243 (default 3,3,3)")
    g.add_argument("--channels", type=int, default=1024, help="convolution channels (default 1024)")
    g.add_argument("--dropout", type=float, default=0.25, help="dropout probability (default 0.25)")
    g.add_argument("--causal", action="store_true", help="causal model: each output sees only past frames (for streaming)")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default="h36m", help="dataset (default h36m; synthetic = procedural figure, no files needed)")
    g.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    g.add_argument("--keypoints", choices=["gt", "sh"], default="gt", help="2D input: gt = projected ground truth, sh = Stacked Hourglass detections (MPII-16 in, H36M-17 out)")
    g.add_argument("--subjects-train", default=None, help="comma-separated training subjects (default S1,S5,S6,S7,S8; HumanEva S1,S2,S3)")
    g.add_argument("--subjects-test", default=None, help="comma-separated test subjects (default S9,S11; HumanEva S1,S2,S3 of Validate/)")
    g.add_argument("--actions", default=None, help="comma-separated actions to keep, e.g. Walking,Jog (default all; HumanEva: Walk,Jog,Box)")


def _split(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def _data_dir(args) -> str:
    if args.data_dir:
        return args.data_dir
    return str(DEFAULT_DATA / args.dataset)


# --------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    from poselift import distributed
    from poselift.model import parse_arc
    from poselift.train import TrainConfig, train

    cfg = TrainConfig(
        dataset=args.dataset,
        data_dir=_data_dir(args),
        keypoints=args.keypoints,
        subjects_train=_split(args.subjects_train),
        subjects_test=_split(args.subjects_test),
        actions=_split(args.actions),
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
        subjects_unlabeled=_split(args.subjects_unlabeled),
        warmup=args.warmup,
        bone_length=not args.no_bone_length,
        projection=not args.no_proj,
        linear_projection=args.linear_projection,
        trajectory=args.trajectory,
        trajectory_channels=args.trajectory_channels,
        recipe=args.recipe,
        wild_clean_fraction=args.wild_clean_fraction,
        wild_real_cameras=args.wild_real_cameras,
        wild_camera_set=tuple(args.wild_camera_set),
        augment_device=args.augment_device,
        device=args.device,
        precision=args.precision,
        sync_bn=args.sync_bn,
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


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train a temporal model (supervised or semi-supervised)", description="Train the temporal model with the strided twin; checkpoints every epoch to OUT/last.pt (resumable).")
    _add_data_args(p)
    _add_model_args(p)
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
    g.add_argument("--wild-real-cameras", type=float, default=0.0, metavar="P", help="with --recipe wild: fraction of training windows filmed by one of the recording's real calibrated Human3.6M cameras (with lens distortion) instead of a random virtual camera (default 0)")
    g.add_argument("--wild-camera-set", action="append", default=[], metavar="NAME=VALUE", help="with --recipe wild: override one setting of the random virtual cameras, repeatable, as `evaluate --virtual-set`: a range LOW,HIGH (yaw_deg, elevation_deg, distance_m, fov_deg: degrees / metres) or a number (roll_deg, principal_offset, aim_offset, min_depth_m), e.g. --wild-camera-set elevation_deg=0,30 for cameras near eye level (default: the prior of docs/model-card.md; the checkpoint records the distribution used)")
    g.add_argument("--augment-device", choices=["auto", "cpu"], default="auto", help="with --recipe wild: where the training batches are rendered (cameras, projection, noise). auto (default): on the training device, which on a GPU is many times faster than the CPU; cpu: always on the CPU. The GPU's random stream differs from the CPU's, so a run is reproducible on the same kind of device")
    p.add_argument("--out", required=True, help="run folder for checkpoints (last.pt)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCHS", help="stop after this many epochs of this invocation (resume later with --resume; the result equals an uninterrupted run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


# ------------------------------------------------------------------------ evaluate
def _saved_train_config(meta: dict, checkpoint: str | None):
    """The training config stored in checkpoint metadata, with the fields evaluation
    relies on checked (a corrupt or hand-edited file gives one clear error)."""
    from poselift.train import TrainConfig

    where = f"checkpoint {checkpoint if checkpoint else '(bundled)'}"
    train = meta.get("train", {})
    if not isinstance(train, dict):
        raise PoseliftError(f"{where}: metadata 'train' must be an object, got {type(train).__name__}")
    valid = {
        "dataset": lambda v: v in ("h36m", "humaneva", "synthetic"),
        "data_dir": lambda v: isinstance(v, str),
        "keypoints": lambda v: v in ("gt", "sh"),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63,
        "actions": lambda v: v is None or (isinstance(v, list) and all(isinstance(a, str) for a in v)),
    }
    for key, ok in valid.items():
        if key in train and not ok(train[key]):
            raise PoseliftError(f"{where}: metadata 'train.{key}' has an invalid value {train[key]!r:.40}")
    try:
        return TrainConfig.from_dict(train)
    except (TypeError, ValueError) as exc:
        raise PoseliftError(f"{where}: metadata 'train' is invalid ({exc})") from None


def cmd_evaluate(args) -> int:
    from poselift.data.datasets import normalized_keypoints, skeletons_for
    from poselift.evaluate import evaluate_sequences, format_table
    from poselift.model import load_model
    from poselift.pipeline import ROOT_FIT_JOINTS, train_focal_normalized
    from poselift.train import TrainConfig, flip_spec_for, load_split, with_input_layout

    from poselift.distributed import resolve_device

    lifter = load_model(args.checkpoint)
    device = resolve_device(args.device)
    for net in (lifter.pose_model, lifter.trajectory_model):
        if net is not None:
            net.to(device)
    meta = lifter.metadata
    saved = _saved_train_config(meta, args.checkpoint)
    cfg = TrainConfig(
        dataset=args.dataset or saved.dataset,
        data_dir=args.data_dir or (str(DEFAULT_DATA / (args.dataset or saved.dataset)) if args.dataset else saved.data_dir),
        keypoints=args.keypoints or saved.keypoints,
        subjects_test=_split(args.subjects_test),
        actions=_split(args.actions) or saved.actions,
        seed=saved.seed,
    )
    if cfg.dataset == "humaneva" and saved.dataset == "humaneva" and args.actions is None:
        cfg.actions = saved.actions
    camera_cfg = None
    if args.virtual_cameras:
        from poselift.augment import virtual_camera_config

        camera_cfg = virtual_camera_config(args.virtual_preset, args.virtual_set)
        seqs = _virtual_camera_test_split(cfg, args.virtual_cameras, camera_cfg)
    elif args.virtual_preset != "wild" or args.virtual_set:
        raise PoseliftError("--virtual-preset / --virtual-set describe the cameras of --virtual-cameras N: add --virtual-cameras")
    else:
        seqs = load_split(cfg, train=False)
    if seqs[0].keypoints_2d.shape[1] != lifter.config.num_joints_in:
        raise PoseliftError(
            f"checkpoint expects {lifter.config.num_joints_in} input joints but the {cfg.dataset} "
            f"'{cfg.keypoints}' keypoints have {seqs[0].keypoints_2d.shape[1]}"
        )
    layout = meta.get("input_layout", "h36m17")
    if layout != "h36m17":
        log.info("input layout %s (from the checkpoint): converting the test 2D", layout)
        seqs = with_input_layout(seqs, layout)
    inputs = [normalized_keypoints(s) for s in seqs]
    input_skeleton, output_skeleton = skeletons_for(cfg.dataset, cfg.keypoints)
    if args.noisy:
        import torch

        from poselift.augment import NoiseConfig, corrupt_sequence, limbs_for

        noise = NoiseConfig(limbs=limbs_for(input_skeleton))
        gen = torch.Generator().manual_seed(NOISY_EVAL_SEED)
        rf = lifter.config.receptive_field
        inputs = [corrupt_sequence(x, gen, noise, chunk_frames=rf) for x in inputs]
    results = {}
    modes = [("no_flip", None), ("flip", flip_spec_for(cfg))]
    if args.no_flip:
        modes = modes[:1]
    for name, flip in modes:
        res = evaluate_sequences(
            lifter.pose_model, seqs, inputs, flip, progress=not args.json, trajectory_model=lifter.trajectory_model,
            skeleton=output_skeleton, trajectory_focal_normalized=train_focal_normalized(meta),
            root_fit_joints=_root_fit_joints(layout, input_skeleton, output_skeleton, ROOT_FIT_JOINTS),
        )
        results[name] = res
        if not args.json:
            noisy = " — noisy 2D (detector noise model)" if args.noisy else ""
            if args.virtual_cameras:
                noisy += f" — {args.virtual_cameras} random virtual camera(s) per recording ({args.virtual_preset}{''.join(' ' + o for o in args.virtual_set)})"
            print(format_table(res, f"{cfg.dataset} {','.join(sorted({s.subject for s in seqs}))} — {'with' if flip else 'without'} flip test-time augmentation{noisy}"))
            print()
    if args.json:
        best = results.get("flip", results["no_flip"]).to_dict()
        best["without_flip"] = results["no_flip"].to_dict()
        best["checkpoint"] = str(args.checkpoint) if args.checkpoint else "bundled"
        best["input_layout"] = layout
        best["noisy"] = bool(args.noisy)
        best["virtual_cameras"] = args.virtual_cameras
        if camera_cfg is not None:
            best["virtual_camera_preset"] = args.virtual_preset
            best["virtual_camera"] = camera_cfg.to_dict()
        print(json.dumps(best, indent=2))
    return 0


def _root_fit_joints(layout: str, input_skeleton, output_skeleton, limbs: tuple[int, ...]) -> list[int] | None:
    """Input joints that are the same points as the output joints of that index (for
    fitting the root position to the 2D): all of them for matching skeletons, the legs
    and arms (``limbs``, what ``poselift infer`` fits) for the detector layout (its Hip,
    Spine, Thorax, Nose and Head are derived points), none when the layouts differ."""
    if input_skeleton.joint_names != output_skeleton.joint_names:
        return None
    if layout == "h36m17":
        return list(range(output_skeleton.num_joints))
    return list(limbs)


def _virtual_camera_test_split(cfg, views: int, camera_cfg=None):
    """The test recordings filmed by ``views`` random virtual cameras each (fixed seed;
    ``camera_cfg``: their distribution, default the wild training prior)."""
    import torch

    from poselift.augment import film_with_virtual_cameras
    from poselift.data.datasets import load_h36m_world

    if cfg.dataset != "h36m" or cfg.keypoints != "gt":
        raise PoseliftError("--virtual-cameras films Human3.6M world 3D: it needs --dataset h36m with ground-truth keypoints (--keypoints gt)")
    if views < 0:
        raise PoseliftError(f"--virtual-cameras must be a positive number of views, got {views}")
    _, subjects_test = cfg.default_subjects()
    world = load_h36m_world(cfg.data_dir, subjects_test, actions=cfg.actions)
    return film_with_virtual_cameras(world, views, torch.Generator().manual_seed(VIRTUAL_EVAL_SEED), camera_cfg)


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint (MPJPE, P-MPJPE, N-MPJPE, MPJVE per action)", description="Standard protocol: per-action errors in mm (frame-weighted within an action, then averaged over actions), with and without flip test-time augmentation.")
    p.add_argument("--checkpoint", default=None, help="poselift checkpoint (.pt); default: the model bundled with the package")
    p.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default=None, help="dataset (default: the one the checkpoint was trained on)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    p.add_argument("--keypoints", choices=["gt", "sh"], default=None, help="2D input source (default: as trained)")
    p.add_argument("--subjects-test", default=None, help="comma-separated test subjects (default S9,S11 / HumanEva S1,S2,S3)")
    p.add_argument("--actions", default=None, help="comma-separated actions (default: all / as trained)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test-time augmentation pass")
    p.add_argument("--noisy", action="store_true", help="robustness numbers: corrupt the test 2D with the detector noise model of `--recipe wild` (poselift.augment.NoiseConfig defaults, fixed seed, one noise draw per receptive-field chunk)")
    p.add_argument("--virtual-cameras", type=int, default=0, metavar="N", help="Human3.6M only: instead of the four studio cameras, film each test recording with N static random cameras of the `--recipe wild` distribution (yaw, elevation, distance, field of view; fixed seed, exact 2D unless --noisy): how well a model does away from the studio's cameras")
    p.add_argument("--virtual-preset", default="wild", choices=["wild", "studio", "studio-centered"], help="distribution of the --virtual-cameras: 'wild' (default) is the training prior (yaw 0-360°, elevation -10..45°, 2.5-8 m, field of view 40-90°, roll ±5°, subject up to 25%% off centre); 'studio' has the Human3.6M studio cameras' geometry (field of view 47°, elevation 7-10°, 4.4-5.7 m) at random azimuths; 'studio-centered' also centres the subject with no roll, so it differs from the studio only in azimuth and lens distortion")
    p.add_argument("--virtual-set", action="append", default=[], metavar="NAME=VALUE", help="override one setting of the virtual camera distribution, repeatable: a range as LOW,HIGH (yaw_deg, elevation_deg, distance_m, fov_deg: degrees / metres), a number (roll_deg, principal_offset, aim_offset: fractions of the image width, min_depth_m), e.g. --virtual-set fov_deg=80,90")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the models run: auto = cuda when torch sees a GPU, else cpu (default auto)")
    add_threads_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_evaluate)


# ---------------------------------------------------------------- import-checkpoint
def cmd_import_checkpoint(args) -> int:
    from poselift.convert import import_videopose3d_checkpoint

    cfg = import_videopose3d_checkpoint(
        args.original, args.out, causal=args.causal, joints_in=args.joints_in, joints_out=args.joints_out,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.out}: RF {cfg.receptive_field} (arc {','.join(map(str, cfg.filter_widths))}), "
          f"{cfg.channels} channels, {cfg.num_joints_in}→{cfg.num_joints_out} joints, causal={cfg.causal}", file=sys.stderr)
    return 0


def add_import_checkpoint(sub) -> None:
    p = sub.add_parser("import-checkpoint", help="convert an original VideoPose3D checkpoint (.bin) to poselift", description="Reads the original torch.save dict (model_pos, optional model_traj) with weights_only=True; filter widths and channels are inferred from the weight shapes.")
    p.add_argument("original", help="original VideoPose3D checkpoint, e.g. pretrained_h36m_cpn.bin")
    p.add_argument("out", help="output poselift checkpoint (.pt)")
    c = p.add_mutually_exclusive_group(required=True)
    c.add_argument("--causal", dest="causal", action="store_true", help="the original model was trained with --causal")
    c.add_argument("--no-causal", dest="causal", action="store_false", help="the original model is symmetric (the default there)")
    p.add_argument("--joints-in", default=None, help="input joint layout name (h36m17, mpii16, coco17, humaneva15; default: from the joint count)")
    p.add_argument("--joints-out", default=None, help="output joint layout name (default: from the joint count)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    p.set_defaults(func=cmd_import_checkpoint)


def cmd_export_weights(args) -> int:
    from poselift.model import export_weights

    extra = {}
    if args.metrics:
        try:
            extra["metrics"] = json.loads(Path(args.metrics).read_text())
        except (OSError, ValueError) as exc:
            raise PoseliftError(f"--metrics {args.metrics}: not a readable JSON file ({exc})") from None
    size = export_weights(args.checkpoint, args.out, half=not args.fp32, extra_metadata=extra, overwrite=args.overwrite)
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {'fp32' if args.fp32 else 'fp16'} storage)", file=sys.stderr)
    return 0


def add_export_weights(sub) -> None:
    p = sub.add_parser("export-weights", help="write an inference-only copy of a checkpoint (fp16, no optimiser state)", description="Strips optimiser and RNG state from a training checkpoint and stores the weights as fp16 (loaded back as fp32), keeping the metadata (config, joint layouts, recipe, history).")
    p.add_argument("checkpoint", help="training checkpoint (last.pt)")
    p.add_argument("out", help="output file (.pt)")
    p.add_argument("--fp32", action="store_true", help="keep fp32 storage")
    p.add_argument("--metrics", default=None, help="JSON file from `poselift evaluate --json` to store in the metadata")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (default: refuse)")
    p.set_defaults(func=cmd_export_weights)


# -------------------------------------------------------------------------- data
def cmd_data_info(args) -> int:
    from poselift.convert import dataset_info

    info = dataset_info(args.path)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for line in info["summary"]:
            print(line)
        for problem in info["problems"]:
            print(f"PROBLEM: {problem}")
    return 1 if info["problems"] else 0


def cmd_data_convert(args) -> int:
    from poselift.convert import convert_dataset

    written = convert_dataset(args.source, args.out, allow_pickle=args.allow_pickle, overwrite=args.overwrite)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def add_data(sub) -> None:
    p = sub.add_parser("data", help="inspect or convert datasets", description="Dataset tools.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    i = dsub.add_parser("info", help="summarise and check a dataset file or folder", description="Prints subjects, sequences, frames, cameras and joint layout, and checks consistency (2D/3D lengths, NaN/inf, joint counts). Exit code 1 if problems are found.")
    i.add_argument("path", help="a .npz in our format, or a folder like ../shared/data/h36m")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_data_info)
    c = dsub.add_parser("convert", help="convert original VideoPose3D .npz or a 3d-pose-baseline h5 tree to our pickle-free format", description="SOURCE is an original VideoPose3D file (data_3d_h36m.npz, data_2d_h36m_<name>.npz, data_2d_custom_<name>.npz; pickled, needs --allow-pickle) or a 3d-pose-baseline Human3.6M folder (cameras.h5, S*/MyPoses/3D_positions/*.h5, S*/StackedHourglass/*.h5).")
    c.add_argument("source", help="file or folder to convert")
    c.add_argument("out", help="output .npz (for a single file) or folder (for an h5 tree)")
    c.add_argument("--allow-pickle", action="store_true", help="allow reading pickled Python objects (ONLY for files you trust: a crafted pickle can run code)")
    c.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    c.set_defaults(func=cmd_data_convert)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


# ------------------------------------------------------------------------- bench
def cmd_bench(args) -> int:
    from poselift.bench import run_bench

    result = run_bench(args)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure training / inference speed on this machine", description="Prints one JSON object on stdout (progress on stderr): samples/s or frames/s, achieved GFLOP/s and the fraction of this machine's measured fp32 matmul peak.")
    p.add_argument("what", choices=["train", "infer", "stream", "pipeline"], help="train: strided-model training steps incl. batch creation and the Adam step; infer: lift one long sequence; stream: per-frame latency of the causal model (one new frame at a time); pipeline: `poselift infer` end to end on a real video (decode, detect, lift, write)")
    _add_model_args(p)
    p.add_argument("--batch-size", type=int, default=1024, help="training batch size (default 1024)")
    p.add_argument("--frames", type=int, default=10_000, help="inference sequence length (default 10000)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps (default 10)")
    p.add_argument("--reference", action="store_true", help="time the original implementation's way instead, for a side-by-side ratio on this machine: train = Conv1d with stride + per-sample Python batch loop; infer = Conv1d+BN model over the whole sequence; stream = full model on the last RF frames every frame")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="train/infer: bf16 autocast (fast only where the CPU has native bf16: AVX512-BF16/AMX; the result says native_bf16)")
    p.add_argument("--profile", action="store_true", help="train: also profile 3 steps and report the top operators by self CPU time (table on stderr)")
    p.add_argument("--video", default=None, help="pipeline: video to run (default ../shared/data/video/sports2d_demo.mp4)")
    p.add_argument("--checkpoint", default=None, help="pipeline: checkpoint to lift with (default: the bundled model)")
    add_threads_option(p)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu", help="train: where the steps run (default cpu; the peak is then measured on that device too)")
    p.add_argument("--wild", action="store_true", help="train: batches rendered like `--recipe wild` (random cameras, detector noise, flips; procedural figures, no dataset needed) on --device, instead of stored 2D windows")
    p.add_argument("--json", action="store_true", help="compact JSON on one line")
    p.set_defaults(func=cmd_bench)


# -------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from poselift.demo import run_demo

    return run_demo(args.out, seconds=args.seconds)


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the built-in end-to-end demo (no data needed)", description="Trains a small model on a procedurally animated figure seen by virtual cameras, then lifts unseen sequences and prints the metrics.")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--seconds", type=float, default=60.0, help="training time budget in seconds (default 60)")
    p.set_defaults(func=cmd_demo)


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from poselift.model_export import add_export
    from poselift.pipeline import add_infer, add_infer_batch
    from poselift.render import add_render
    from poselift.stream import add_stream

    parser = argparse.ArgumentParser(prog="poselift", description="3D human pose estimation in video with temporal convolutions.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train(sub)
    add_evaluate(sub)
    add_import_checkpoint(sub)
    add_export_weights(sub)
    add_export(sub)
    add_data(sub)
    add_bench(sub)
    add_demo(sub)
    add_render(sub)
    add_infer(sub)
    add_infer_batch(sub)
    add_stream(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        apply_threads(args)
        return int(args.func(args) or 0)
    except PoseliftError as exc:
        print(f"poselift: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("poselift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
