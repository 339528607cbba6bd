"""``poselift evaluate``."""

from __future__ import annotations

import argparse
import json

from poselift.cli.options import add_examples, add_threads_option, split_list
from poselift.data.noise import NOISE_MODELS
from poselift.evaluation.protocol import format_table
from poselift.tools.evaluate import EvaluateOptions, evaluate_checkpoint


def cmd_evaluate(args: argparse.Namespace) -> int:
    options = EvaluateOptions(
        checkpoint=args.checkpoint, dataset=args.dataset, data_dir=args.data_dir, keypoints=args.keypoints,
        subjects_test=split_list(args.subjects_test), actions=split_list(args.actions), flip=not args.no_flip,
        noisy=args.noisy, noise_model=args.noise_model, swap_fix=args.swap_fix, virtual_cameras=args.virtual_cameras, virtual_preset=args.virtual_preset,
        virtual_set=list(args.virtual_set), device=args.device, progress=not args.json,
    )
    report = evaluate_checkpoint(options)
    results = report.results
    if args.json:
        best = results.get("flip", results["no_flip"]).to_dict()
        best["without_flip"] = results["no_flip"].to_dict()
        best["checkpoint"] = str(args.checkpoint) if args.checkpoint else "bundled"
        best["input_layout"] = report.input_layout
        best["noisy"] = bool(args.noisy)
        if args.noisy:
            best["noise_model"] = args.noise_model
        best["swap_fix"] = report.swaps_fixed
        best["virtual_cameras"] = args.virtual_cameras
        if report.camera is not None:
            best["virtual_camera_preset"] = args.virtual_preset
            best["virtual_camera"] = report.camera.to_dict()
        print(json.dumps(best, indent=2))
        return 0
    for name, res in results.items():
        noisy = f" — noisy 2D ({args.noise_model} detector noise model)" if args.noisy else ""
        if report.swaps_fixed is not None:
            noisy += f" — swap fix ({report.swaps_fixed['frames']} frames put back)"
        if args.virtual_cameras:
            noisy += f" — {args.virtual_cameras} random virtual camera(s) per recording ({args.virtual_preset}{''.join(' ' + o for o in args.virtual_set)})"
        flip = "with" if name == "flip" else "without"
        print(format_table(res, f"{report.dataset} {','.join(report.subjects)} — {flip} flip test-time augmentation{noisy}"))
        print()
    return 0


def configure_evaluate(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Standard protocol: per-action errors in mm (frame-weighted within an action, then averaged over actions), with and without flip test-time augmentation."
    )
    p.add_argument("--checkpoint", default=None, help="poselift checkpoint (.pt); default: the model bundled with the package")
    p.add_argument("--dataset", choices=["h36m", "humaneva", "synthetic"], default=None, help="dataset (default: the one the checkpoint was trained on)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default ../shared/data/<dataset>)")
    p.add_argument("--keypoints", choices=["gt", "sh"], default=None, help="2D input source (default: as trained)")
    p.add_argument("--subjects-test", default=None, help="comma-separated test subjects (default S9,S11 / HumanEva S1,S2,S3)")
    p.add_argument("--actions", default=None, help="comma-separated actions (default: all / as trained)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test-time augmentation pass")
    p.add_argument("--noisy", action="store_true", help="robustness numbers: corrupt the test 2D with the detector noise model of `--recipe wild` (poselift.data.noise.NoiseConfig defaults, fixed seed, one noise draw per receptive-field chunk)")
    p.add_argument("--noise-model", choices=NOISE_MODELS, default="independent", help="with --noisy: independent (default) is the bundled model's training noise (per-frame jitter); correlated is a detector's slow, heavy-tailed error calibrated on Stacked-Hourglass detections of the training subjects (`train --wild-noise correlated`): harder, and closer to real detections")
    p.add_argument("--swap-fix", action="store_true", help="put back left/right label swaps in the test 2D before lifting, as `poselift infer` does by default (after the noise with --noisy): the 3D effect of the swap fix on a benchmark")
    p.add_argument("--virtual-cameras", type=int, default=0, metavar="N", help="Human3.6M only: instead of the four studio cameras, film each test recording with N static random cameras of the `--recipe wild` distribution (yaw, elevation, distance, field of view; fixed seed, exact 2D unless --noisy): how well a model does away from the studio's cameras")
    p.add_argument("--virtual-preset", default="wild", choices=["wild", "studio", "studio-centered"], help="distribution of the --virtual-cameras: 'wild' (default) is the training prior (yaw 0-360°, elevation -10..45°, 2.5-8 m, field of view 40-90°, roll ±5°, subject up to 25%% off centre); 'studio' has the Human3.6M studio cameras' geometry (field of view 47°, elevation 7-10°, 4.4-5.7 m) at random azimuths; 'studio-centered' also centres the subject with no roll, so it differs from the studio only in azimuth and lens distortion")
    p.add_argument("--virtual-set", action="append", default=[], metavar="NAME=VALUE", help="override one setting of the virtual camera distribution, repeatable: a range as LOW,HIGH (yaw_deg, elevation_deg, distance_m, fov_deg: degrees / metres), a number (roll_deg, principal_offset, aim_offset: fractions of the image width, min_depth_m), e.g. --virtual-set fov_deg=80,90")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the models run: auto = cuda when torch sees a GPU, else cpu (default auto)")
    add_threads_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_examples(
        p,
        'poselift evaluate   # the bundled model on Human3.6M S9 and S11',
        'poselift evaluate --checkpoint runs/h36m_rf27/last.pt --json',
        'poselift evaluate --noisy --virtual-cameras 4   # detector-like 2D, random cameras',
    )
    p.set_defaults(func=cmd_evaluate)
