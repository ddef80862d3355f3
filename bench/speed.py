"""Seconds per epoch of the tutorial's network (784-128-10, Adam 1e-3, batch 64, test
evaluation every epoch), this trainer on each CPU backend against PyTorch written the
tutorial's way and hand-tuned, with the same thread count for all, in one run.

    python3 bench/speed.py --data-dir ../shared/data/mnist [--threads 2] [--repeats 3]
        [--epochs 5] [--python PY] [--large] [--other-build PATH] [--write-table]
        [--cnn [--cnn-images N] [--cnn-epochs E] [--cnn-ndarray]]

`--cnn` adds the CNN (`--model cnn`, PyTorch examples/mnist's Net) on flex (and ndarray with
`--cnn-ndarray`: very slow) against Net in a hand-tuned PyTorch loop (bench/pytorch_net.py),
all on the first N training images (`--cnn-images`, default all) for E epochs (default 2);
CNN rows are compared with the PyTorch Net row only.

Each run's seconds per epoch is the median of its epochs (train + test evaluation); the table
gives the median over repeats and the min-max. "Train" is the training split alone (median of
the epochs); "test pass" the forward pass over the 10,000 test images in batches of 1,000: for
this trainer `eval`'s (eval.json's test_pass_seconds, on the trained model), for PyTorch its
per-epoch evaluation (median of the epochs). "Whole run" is the wall time of the training
process from start to exit (reading the data, every epoch, the final test, writing the run's
files; for PyTorch, importing torch too). Peak memory is the run's maximum resident set.
`eval` throughput is the 10,000 test images over the whole `eval` command, load included.
Needs the release binary (cargo build --release); PyTorch rows need a Python with torch.
`--other-build PATH` adds rows for another build of this trainer (say, a copy of the binary made
before a change), so a change is measured against what it replaces in the same run.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

from seeds import binary

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_FILE = os.path.join(HERE, "..", "docs", "measurements.md")
BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"


def peak_mib(command, env):
    """Runs `command`; returns (stdout, wall seconds, peak resident MiB of that process)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env)
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()}")
    return out.decode(), wall, usage.ru_maxrss / 1024.0


def rust_run(exe, backend, args, env, extra=(), epochs=None):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        _, whole, peak = peak_mib([exe, "--backend", backend, "--data-dir", args.data_dir, "--epochs",
                               str(epochs or args.epochs), "--run", run, *extra], env)
        with open(os.path.join(run, "summary.json")) as f:
            summary = json.load(f)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            epochs = [json.loads(line) for line in f if line.strip()]
        _, wall, _ = peak_mib([exe, "eval", "--backend", backend, "--run", run,
                               "--data-dir", args.data_dir], env)
        with open(os.path.join(run, "eval.json")) as f:
            test_pass = json.load(f)["test_pass_seconds"]
        return (statistics.median(summary["seconds_per_epoch"]), summary["test_accuracy"], peak,
                summary["test_images"] / wall, whole,
                statistics.median(e["train_seconds"] for e in epochs), test_pass)


def torch_run(python, script, args, env, extra=(), epochs=None):
    out, whole, peak = peak_mib([python, os.path.join(HERE, script), "--data-dir", args.data_dir,
                             "--epochs", str(epochs or args.epochs), "--threads", str(args.threads),
                             *extra], env)
    epochs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return (statistics.median(e["seconds"] for e in epochs), epochs[-1]["test_accuracy"], peak,
            None, whole, statistics.median(e["train_seconds"] for e in epochs),
            statistics.median(e["test_seconds"] for e in epochs))


# Net's training arithmetic per image, forward and backward (no input gradient for conv1):
# conv1 0.39, conv2 21.2, fc1 2.36, fc2 0.003 MFLOP forward; the backward twice each.
NET_TRAIN_FLOP = 3 * (0.389e6 + 21.234e6 + 2.359e6 + 0.003e6) - 0.389e6


def matmul_gflops(python, threads):
    """This machine's best measured f32 matrix-product rate: numpy's BLAS (OpenBLAS in the
    PyPI wheels, which picks this CPU's widest kernels) on 2048x2048 matrices with `threads`
    threads, the practical ceiling for the CNN's arithmetic (PyTorch's own MKL product measured
    lower on an AMD EPYC)."""
    code = (
        "import time, numpy as np\n"
        "a = np.random.rand(2048, 2048).astype(np.float32)\n"
        "b = np.random.rand(2048, 2048).astype(np.float32)\n"
        "for _ in range(3): a @ b\n"
        "best = float('inf')\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)\n"
        "print(2 * 2048 ** 3 / best / 1e9)\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            match = re.search(r"model name\s*:\s*(.*)", f.read())
            return match.group(1).strip() if match else platform.processor()
    except OSError:
        return platform.processor()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--write-table", action="store_true", help="rewrite the table in docs/measurements.md")
    parser.add_argument("--large", action="store_true",
                        help="also the 784-1024-512-10 network at batch 256 (2 epochs a run)")
    parser.add_argument("--other-build", metavar="PATH",
                        help="another mnist-trainer binary to run beside this build's")
    parser.add_argument("--cnn", action="store_true", help="also the CNN rows (see the docstring)")
    parser.add_argument("--cnn-images", type=int, default=60000)
    parser.add_argument("--cnn-epochs", type=int, default=2)
    parser.add_argument("--cnn-ndarray", action="store_true")
    args = parser.parse_args()
    args.data_dir = os.path.abspath(args.data_dir)
    exe = binary()

    threads = str(args.threads)
    env = dict(os.environ, RAYON_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    # Burn's own Adam instead of the one-pass one (same results to the bit): what it gains.
    burn_adam = dict(env, MNIST_TRAINER_BURN_ADAM="1")
    large = ("--hidden", "1024,512", "--batch-size", "256")
    contenders = {
        "mnist-trainer, flex": lambda: rust_run(exe, "flex", args, env),
        "mnist-trainer, flex, Burn's Adam": lambda: rust_run(exe, "flex", args, burn_adam),
        # Opt-in (results differ in their last bits), as PyTorch's set_flush_denormal is.
        "mnist-trainer, flex, --flush-denormals": lambda: rust_run(
            exe, "flex", args, env, ("--flush-denormals",)),
        "mnist-trainer, ndarray": lambda: rust_run(exe, "ndarray", args, env),
    }
    if args.other_build:
        other = os.path.abspath(args.other_build)
        label = f"mnist-trainer ({os.path.basename(other)}), flex"
        contenders[label] = lambda: rust_run(other, "flex", args, env)
        contenders[f"{label}, --flush-denormals"] = lambda: rust_run(
            other, "flex", args, env, ("--flush-denormals",))
    if args.large:
        contenders["784-1024-512-10, batch 256, flex"] = lambda: rust_run(
            exe, "flex", args, env, large, epochs=2)
        if args.other_build:
            contenders[f"784-1024-512-10, batch 256, {label}"] = lambda: rust_run(
                other, "flex", args, env, large, epochs=2)
        contenders["784-1024-512-10, batch 256, flex, Burn's Adam"] = lambda: rust_run(
            exe, "flex", args, burn_adam, large, epochs=2)
        contenders["784-1024-512-10, batch 256, flex, --flush-denormals"] = lambda: rust_run(
            exe, "flex", args, env, (*large, "--flush-denormals"), epochs=2)
    has_torch = subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode == 0
    if args.cnn:
        cnn = ("--model", "cnn", "--limit-train", str(args.cnn_images))
        contenders["CNN, mnist-trainer, flex"] = lambda: rust_run(
            exe, "flex", args, env, cnn, epochs=args.cnn_epochs)
        # Burn's own Conv2d and MaxPool2d instead of model/flex_ops (to measure what it gains).
        burn_conv = dict(env, MNIST_TRAINER_BURN_CONV="1")
        contenders["CNN, mnist-trainer, flex, Burn's Conv2d and MaxPool2d"] = lambda: rust_run(
            exe, "flex", args, burn_conv, cnn, epochs=args.cnn_epochs)
        if args.cnn_ndarray:
            contenders["CNN, mnist-trainer, ndarray"] = lambda: rust_run(
                exe, "ndarray", args, env, cnn, epochs=args.cnn_epochs)
        if has_torch:
            contenders["CNN, PyTorch Net, hand-tuned"] = lambda: torch_run(
                args.python, "pytorch_net.py", args, env,
                ("--limit-train", str(args.cnn_images)), epochs=args.cnn_epochs)
    if has_torch:
        contenders["PyTorch, tutorial style"] = lambda: torch_run(args.python, "pytorch_tutorial.py", args, env)
        contenders["PyTorch, hand-tuned"] = lambda: torch_run(args.python, "pytorch_tuned.py", args, env)
        contenders["PyTorch, hand-tuned, set_flush_denormal"] = lambda: torch_run(
            args.python, "pytorch_tuned.py", args, env, ("--flush-denormal",))

    results = {}
    # Interleave the contenders so drift in the machine's speed hits all of them alike.
    for repeat in range(args.repeats):
        for name, run in contenders.items():
            results.setdefault(name, []).append(run())
            print(f"repeat {repeat + 1}: {name}: {results[name][-1]}", file=sys.stderr, flush=True)

    def seconds(name, column=0):
        return statistics.median(r[column] for r in results[name])

    lines = [
        f"{datetime.date.today().isoformat()}, {cpu_name()}, {os.cpu_count()} cores, "
        f"{args.threads} threads for every contender, {args.repeats} repeats of {args.epochs} "
        f"epochs. Regenerate: `python3 bench/speed.py --data-dir ../shared/data/mnist "
        f"--threads {args.threads} --repeats {args.repeats}{' --large' if args.large else ''}"
        f"{' --other-build <binary>' if args.other_build else ''}"
        f"{f' --cnn --cnn-images {args.cnn_images} --cnn-epochs {args.cnn_epochs}' if args.cnn else ''}"
        f"{' --cnn-ndarray' if args.cnn_ndarray else ''} "
        f"--python <python with torch> --write-table`.",
        "",
        "| trainer | s/epoch (median) | min-max | speed-up vs PyTorch hand-tuned | speed-up vs PyTorch tutorial "
        "| train s/epoch | train vs PyTorch hand-tuned | test pass, s | test pass vs PyTorch hand-tuned "
        "| whole run, s | whole run vs PyTorch hand-tuned | test accuracy | peak memory | `eval` images/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in results.items():
        values = [r[0] for r in runs]
        # Above 1: faster than the baseline; the bar for this trainer is 2 against hand-tuned
        # PyTorch and 10 against the tutorial's script.
        # PyTorch runs the tutorial's network only: the larger network has no baseline here.
        comparable = not name.startswith("784-1024-512-10")
        is_cnn = name.startswith("CNN")

        def ratio(base, column=0):
            # CNN rows against PyTorch's Net in a hand-tuned loop, the only CNN baseline.
            if is_cnn:
                base = "CNN, PyTorch Net, hand-tuned" if base == "PyTorch, hand-tuned" else None
            if base not in results or not comparable:
                return "n/a"
            return f"{seconds(base, column) / seconds(name, column):.2f}×"
        throughput = [r[3] for r in runs if r[3] is not None]
        lines.append(
            f"| {name} | {seconds(name):.3f} | {min(values):.3f}-{max(values):.3f} | "
            f"{ratio('PyTorch, hand-tuned')} | {ratio('PyTorch, tutorial style')} | "
            f"{seconds(name, 5):.3f} | {ratio('PyTorch, hand-tuned', 5)} | "
            f"{seconds(name, 6):.3f} | {ratio('PyTorch, hand-tuned', 6)} | "
            f"{seconds(name, 4):.2f} | {ratio('PyTorch, hand-tuned', 4)} | "
            f"{statistics.mean(r[1] for r in runs):.2f}% | {max(r[2] for r in runs):.0f} MiB | "
            f"{f'{statistics.median(throughput):,.0f}' if throughput else '-'} |")
    if not has_torch:
        lines.append("\n(PyTorch rows skipped: pass --python with a Python that has torch.)")
    elif args.cnn:
        gflops = matmul_gflops(args.python, args.threads)
        floor = args.cnn_images * NET_TRAIN_FLOP / (gflops * 1e9)
        shares = ", ".join(
            f"{name.removeprefix('CNN, ')} {100 * floor / seconds(name, 5):.0f}%"
            for name in results if name.startswith("CNN"))
        lines.append(
            f"\nThe CNN's training arithmetic ({NET_TRAIN_FLOP / 1e6:.1f} MFLOP an image) at this "
            f"machine's best measured f32 matrix-product rate ({gflops:.0f} GFLOP/s: numpy, 2048x2048, "
            f"{args.threads} threads) takes {floor:.2f} s per epoch of {args.cnn_images:,} images; "
            f"each trainer's training runs at this share of that rate: {shares}.")
    table = "\n".join(lines)
    print(table)
    if args.write_table:
        with open(TABLE_FILE) as f:
            text = f.read()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{TABLE_FILE} has no {BEGIN} ... {END} markers")
        block = BEGIN + "\n" + table + "\n" + END
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        with open(TABLE_FILE, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
