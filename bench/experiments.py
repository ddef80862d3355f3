"""Trains every activation x loss x optimizer combination for a short budget and writes the
results as a Markdown table into docs/measurements.md, between the experiments markers.

    python3 bench/experiments.py --data-dir ../shared/data/mnist [--epochs 2] [--backend ndarray]

Needs the release binary (cargo build --release). The numbers are whatever the runs give.
"""

import argparse
import datetime
import itertools
import json
import os
import re
import subprocess
import tempfile

from seeds import binary

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_FILE = os.path.join(HERE, "..", "docs", "measurements.md")
BEGIN, END = "<!-- experiments:begin -->", "<!-- experiments:end -->"

# Each optimizer at a learning rate it is commonly used with on this problem.
OPTIMIZERS = {
    "adam": ["--optimizer", "adam", "--lr", "1e-3"],
    "sgd": ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9"],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--backend", default="flex")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    exe = binary()
    data_dir = os.path.abspath(args.data_dir)

    rows = []
    for activation, loss, optimizer in itertools.product(
            ["relu", "sigmoid", "tanh"], ["cross-entropy", "mse"], OPTIMIZERS):
        with tempfile.TemporaryDirectory() as tmp:
            run = os.path.join(tmp, "run")
            command = [exe, "--backend", args.backend, "--data-dir", data_dir, "--epochs",
                       str(args.epochs), "--seed", str(args.seed), "--activation", activation,
                       "--loss", loss, *OPTIMIZERS[optimizer], "--run", run]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "summary.json")) as f:
                summary = json.load(f)
            with open(os.path.join(run, "metrics.jsonl")) as f:
                last = [json.loads(line) for line in f][-1]
        rows.append((activation, loss, " ".join(OPTIMIZERS[optimizer][1:]),
                     summary["test_accuracy"], last["train_loss"], summary["total_seconds"]))
        print(rows[-1], flush=True)

    command = (f"python3 bench/experiments.py --data-dir {args.data_dir} --epochs {args.epochs} "
               f"--backend {args.backend}")
    table = [
        f"{args.epochs} epochs each, seed {args.seed}, {args.backend} backend, "
        f"{datetime.date.today().isoformat()}; regenerate with `{command}`. The train loss is "
        "each run's own loss, so mse and cross-entropy values do not compare.",
        "",
        "| activation | loss | optimizer | test accuracy | final train loss | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    table += [f"| {a} | {l} | {o} | {acc:.2f}% | {tl:.4f} | {s:.1f} |" for a, l, o, acc, tl, s in rows]
    with open(TABLE_FILE) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"docs/measurements.md has no {BEGIN} ... {END} markers")
    block = BEGIN + "\n" + "\n".join(table) + "\n" + END
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    with open(TABLE_FILE, "w") as f:
        f.write(text)
    print("docs/measurements.md updated")


if __name__ == "__main__":
    main()
