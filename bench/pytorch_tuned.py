"""The tutorial's network as a hand-tuned PyTorch loop: the whole dataset preloaded as one
float tensor, batches taken by shuffled index, no DataLoader, evaluation in one pass.

Prints one JSON line per epoch (seconds include the test evaluation) like pytorch_tutorial.py.

    python bench/pytorch_tuned.py --data-dir ../shared/data/mnist --epochs 5 --seed 42 --threads 2
"""

import argparse
import json
import time

import torch
from torch import nn

from idx import load_split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--flush-denormal", action="store_true",
                        help="torch.set_flush_denormal(True): denormals read and written as zero")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)

    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "t10k")
    train_x = torch.from_numpy(train_x).reshape(-1, 784).float().div_(255)
    test_x = torch.from_numpy(test_x).reshape(-1, 784).float().div_(255)
    train_y = torch.from_numpy(train_y).long()
    test_y = torch.from_numpy(test_y).long()

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(train_y)).split(64):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
        train_seconds = time.perf_counter() - start
        model.eval()
        with torch.inference_mode():
            logits = model(test_x)
            test_loss = loss_fn(logits, test_y).item()
            accuracy = 100.0 * (logits.argmax(1) == test_y).float().mean().item()
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "seconds": seconds, "train_seconds": train_seconds,
                          "test_seconds": seconds - train_seconds, "test_loss": test_loss,
                          "test_accuracy": accuracy}), flush=True)


if __name__ == "__main__":
    main()
