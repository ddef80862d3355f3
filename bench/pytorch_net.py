"""PyTorch examples/mnist's Net (the network `--model cnn` is), trained as a hand-tuned loop: the
dataset preloaded as one normalised float tensor ((x - 0.1307) / 0.3081, as that example's
transform), batches of 64 by shuffled index, test evaluation in batches of 1,000 every epoch.

`--recipe adam` is Adam, lr 1e-3, constant; `--recipe adam-cosine` (default, the CNN recipe of
the README) the same rate going down to 0 along a half cosine over all steps of the run, as
`--lr-schedule cosine` does (CosineAnnealingLR stepped per batch). `--recipe example` is
examples/mnist's own: Adadelta lr 1.0 with StepLR(step_size=1, gamma=0.7) (14 epochs there).
`--limit-train N` trains on the first N images (as the trainer's flag), for quick speed rows.

Prints one JSON line per epoch like pytorch_tuned.py: seconds (training and the test evaluation),
train_seconds and test_seconds (each alone).

    python bench/pytorch_net.py --data-dir ../shared/data/mnist --epochs 3 --seed 1 --threads 2
"""

import argparse
import json
import time

import torch
from torch import nn

from idx import load_split


class Net(nn.Module):
    """examples/mnist's Net, attribute names included."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = torch.flatten(self.dropout1(torch.max_pool2d(x, 2)), 1)
        return self.fc2(self.dropout2(torch.relu(self.fc1(x))))


def normalised(pixels):
    return ((torch.from_numpy(pixels).float().div_(255) - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--recipe", choices=["adam", "adam-cosine", "example"], default="adam-cosine")
    parser.add_argument("--limit-train", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "t10k")
    limit = args.limit_train or len(train_y)
    train_x, train_y = normalised(train_x[:limit]), torch.from_numpy(train_y[:limit]).long()
    test_x, test_y = normalised(test_x), torch.from_numpy(test_y).long()

    model = Net()
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = (len(train_y) + 63) // 64
    batch_scheduler, epoch_scheduler = None, None
    if args.recipe.startswith("adam"):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        if args.recipe == "adam-cosine":
            batch_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=args.epochs * steps_per_epoch)
    else:
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        epoch_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(train_y)).split(64):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
            if batch_scheduler:
                batch_scheduler.step()
        if epoch_scheduler:
            epoch_scheduler.step()
        train_seconds = time.perf_counter() - start
        model.eval()
        correct, loss = 0, 0.0
        with torch.inference_mode():
            for images, labels in zip(test_x.split(1000), test_y.split(1000)):
                logits = model(images)
                loss += loss_fn(logits, labels).item() * len(labels)
                correct += (logits.argmax(1) == labels).sum().item()
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "seconds": seconds, "train_seconds": train_seconds,
                          "test_seconds": seconds - train_seconds, "test_loss": loss / len(test_y),
                          "test_accuracy": 100.0 * correct / len(test_y)}), flush=True)


if __name__ == "__main__":
    main()
