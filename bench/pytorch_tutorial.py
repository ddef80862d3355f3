"""The tutorial's network written the tutorial's way: a Dataset of per-item tensors (what
torchvision's MNIST + ToTensor do), a shuffling DataLoader, and a plain training loop.

Reads the same IDX files as the Rust trainer (torchvision is not needed). Prints one JSON line
per epoch and a final one with the test accuracy.

    python bench/pytorch_tutorial.py --data-dir ../shared/data/mnist --epochs 5 --seed 42
"""

import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from idx import load_split


class Mnist(Dataset):
    """Per-item access, as torchvision's MNIST with transforms.ToTensor()."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        # ToTensor: uint8 HxW -> float32 1xHxW in [0, 1]
        image = torch.from_numpy(self.images[i]).float().div(255).unsqueeze(0)
        return image, int(self.labels[i])


class Net(nn.Module):
    def __init__(self, hidden=128):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train = Mnist(*load_split(args.data_dir, "train"))
    test = Mnist(*load_split(args.data_dir, "t10k"))
    train_loader = DataLoader(train, batch_size=64, shuffle=True)
    test_loader = DataLoader(test, batch_size=64, shuffle=False)

    model = Net()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        train_seconds = time.perf_counter() - start
        model.eval()
        correct, loss_sum = 0, 0.0
        with torch.no_grad():
            for images, labels in test_loader:
                logits = model(images)
                loss_sum += loss_fn(logits, labels).item() * len(labels)
                correct += (logits.argmax(1) == labels).sum().item()
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "seconds": seconds, "train_seconds": train_seconds,
                          "test_seconds": seconds - train_seconds, "test_loss": loss_sum / len(test),
                          "test_accuracy": 100.0 * correct / len(test)}), flush=True)


if __name__ == "__main__":
    main()
