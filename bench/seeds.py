"""Test accuracy after 5 epochs over several seeds: this trainer (each CPU backend) and, when
torch is importable, the tutorial-style PyTorch script on the same files. One run of a network
this small varies by a few tenths of a percent with the seed; a single number (the tutorial's
97.68%) says little without the spread.

    python3 bench/seeds.py --data-dir ../shared/data/mnist --seeds 1-10 [--python PY]
        [--columns ndarray,flex,flush,torch] [--model cnn --epochs E]

`--model cnn` trains the CNN (`--model cnn --lr-schedule cosine`) instead, for `--epochs`
epochs, against PyTorch examples/mnist's Net with the same recipe (Adam 1e-3 down to 0 along a
cosine, batch 64: bench/pytorch_net.py); column `torch-example` adds Net with that example's
own recipe (Adadelta 1.0, StepLR 0.7).

Needs the release binary (cargo build --release); finds it with `cargo metadata`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def binary():
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=HERE))
    return os.path.join(meta["target_directory"], "release", "mnist-trainer")


def seeds(spec):
    first, _, last = spec.partition("-")
    return list(range(int(first), int(last or first) + 1))


def net_accuracy(python, data_dir, seed, epochs, recipe):
    out = subprocess.run([python, os.path.join(HERE, "pytorch_net.py"), "--data-dir", data_dir,
                          "--seed", str(seed), "--epochs", str(epochs), "--recipe", recipe],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["test_accuracy"]


def rust_accuracy(exe, data_dir, backend, seed, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        subprocess.run([exe, "--backend", backend, "--seed", str(seed), "--data-dir", data_dir,
                        "--run", run, *extra], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "summary.json")) as f:
            return json.load(f)["test_accuracy"]


def torch_accuracy(python, data_dir, seed):
    out = subprocess.run([python, os.path.join(HERE, "pytorch_tutorial.py"), "--data-dir",
                          data_dir, "--seed", str(seed)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["test_accuracy"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", default="1-10")
    parser.add_argument("--python", default=sys.executable,
                        help="a Python with torch for the PyTorch column")
    parser.add_argument("--columns", default="ndarray,flex,flush,torch",
                        help="which of ndarray, flex, flush (flex --flush-denormals), torch")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    wanted = set(args.columns.split(","))
    data_dir = os.path.abspath(args.data_dir)
    exe = binary()
    ours = ("--model", args.model, "--epochs", str(args.epochs))
    if args.model == "cnn":
        ours = (*ours, "--lr-schedule", "cosine")
    columns = {
        "mnist-trainer ndarray": ("ndarray", lambda s: rust_accuracy(exe, data_dir, "ndarray", s, ours)),
        "mnist-trainer flex": ("flex", lambda s: rust_accuracy(exe, data_dir, "flex", s, ours)),
        "mnist-trainer flex --flush-denormals": (
            "flush", lambda s: rust_accuracy(exe, data_dir, "flex", s, (*ours, "--flush-denormals"))),
    }
    has_torch = subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode == 0
    if has_torch and args.model == "mlp":
        columns["PyTorch tutorial"] = ("torch", lambda s: torch_accuracy(args.python, data_dir, s))
    if has_torch and args.model == "cnn":
        columns["PyTorch Net, Adam 1e-3, cosine"] = (
            "torch", lambda s: net_accuracy(args.python, data_dir, s, args.epochs, "adam-cosine"))
        columns["PyTorch Net, Adadelta 1.0 + StepLR 0.7"] = (
            "torch-example", lambda s: net_accuracy(args.python, data_dir, s, args.epochs, "example"))
    columns = {name: run for name, (key, run) in columns.items() if key in wanted}
    results = {}
    for name, run in columns.items():
        for seed in seeds(args.seeds):
            results.setdefault(name, []).append(run(seed))
            print(f"{name} seed {seed}: {results[name][-1]:.2f}%", file=sys.stderr, flush=True)

    bar = 99.0 if args.model == "cnn" else 97.5
    print(f"Test accuracy of the {args.model} after {args.epochs} epochs, seeds {args.seeds}:\n")
    print(f"| trainer | mean | min | max | runs ≥ {bar}% |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in results.items():
        above = sum(v >= bar for v in values)
        print(f"| {name} | {statistics.mean(values):.2f}% | {min(values):.2f}% | "
              f"{max(values):.2f}% | {above}/{len(values)} |")
    if not has_torch:
        print("\n(PyTorch column skipped: pass --python with a Python that has torch)")


if __name__ == "__main__":
    main()
