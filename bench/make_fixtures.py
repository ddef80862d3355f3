"""The PyTorch files the import/export tests read, made once with real PyTorch and committed
(tests/fixtures/pytorch/, under 6 MB together, 4.8 MB of them the CNN), so that CI needs no PyTorch:

- simple_nn.pt         the tutorial's SimpleNN (fc1: 784->128, ReLU, fc2: 128->10), trained
                       briefly, saved with torch.save(model.state_dict()) (the zip format)
- sequential.pt        nn.Sequential(Linear(784, 16), ReLU, Linear(16, 16), ReLU, Linear(16, 10))
                       trained briefly: keys 0.weight, 2.weight, 4.weight, ...
- sequential_legacy.pt  the same state_dict with _use_new_zipfile_serialization=False
- sequential.safetensors  the same weights through safetensors.torch.save_file
- probabilities.json   PyTorch's softmax probabilities for the first 100 MNIST test images
                       from each model, with the torch version
- cnn.pt               a small CNN's state_dict (conv1, fc1), untrained: import must refuse it
- whole_module.pt      torch.save(model) of a whole module (Linear 784->2), not its state_dict:
                       burn-store reads the module's tensors; import refuses its 2 outputs
- checkpoint.pt        a training checkpoint, {"epoch": 3, "model": state_dict}: names under
                       `model.`, which import must refuse (and say so)
- no_tensors.pt        a pickle with no tensors in it at all
PyTorch files as people have them (issue 18), all holding sequential.pt's weights:
- data_parallel.pt     the state_dict of nn.DataParallel(model): names under `module.`
- compiled.pt          the state_dict of torch.compile(model): names under `_orig_mod.`
- training_checkpoint.pt  the usual checkpoint dict {"epoch", "model_state_dict",
                       "optimizer_state_dict" (Adam's moments: tensors too), "loss"}
- whole_module_legacy.pt  torch.save(model, _use_new_zipfile_serialization=False) of a whole
                       module: a pickle of the module's class, which import refuses, saying how
                       to re-save it
The CNN (issue 21), made last so the files above keep their bytes:
- mnist_cnn.pt         PyTorch examples/mnist's Net (conv1, conv2, fc1, fc2; 4.8 MB), trained
                       briefly on normalised images, saved as that example's --save-model does
                       (torch.save(model.state_dict(), "mnist_cnn.pt")); its probabilities for
                       the same 100 test images (normalised as it trains) are under "net"
Two tiny state_dicts import must refuse (tests/promises.rs), nn.Sequential 784-4-10, untrained
(seed 0), made last and without data, so the files above keep their bytes:
- infinity.pt          2.weight[3, 1] is +inf: named with the tensor and its index
- integer_weights.pt   2.weight as int8 (as a hand-rolled quantisation leaves it): named with
                       the tensor and its dtype

    python bench/make_fixtures.py --data-dir ../shared/data/mnist   # needs torch, safetensors
    python bench/make_fixtures.py --tiny-only                       # only the last two, no data
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from torch import nn

from idx import load_split
from pytorch_net import Net

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "pytorch")


class SimpleNN(nn.Module):
    """The tutorial's network, with its attribute names (they become the state_dict's keys)."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def sequential():
    return nn.Sequential(nn.Flatten(start_dim=1), nn.Linear(784, 16), nn.ReLU(),
                         nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 10))


def sequential_without_flatten(state):
    """An nn.Sequential whose own names are 0.weight, 2.weight, ..., holding `state`."""
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 10))
    model.load_state_dict(state)
    return model


def train_briefly(model, images, labels, steps=200):
    """200 Adam steps of batch 64: enough for weights far from their initial values."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        start = (step * 64) % (len(labels) - 64)
        optimizer.zero_grad()
        loss_fn(model(images[start:start + 64]), labels[start:start + 64]).backward()
        optimizer.step()
    return model.eval()


def normalised(images):
    """[N, 784] pixels in [0, 1] as examples/mnist feeds Net: [N, 1, 28, 28], (x - 0.1307) / 0.3081."""
    return ((images - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)


def tiny_refused_files():
    """infinity.pt and integer_weights.pt: a 784-4-10 nn.Sequential's state_dict, each with one
    bad tensor (2.weight, shape [10, 4])."""
    torch.manual_seed(0)
    state = nn.Sequential(nn.Linear(784, 4), nn.ReLU(), nn.Linear(4, 10)).state_dict()
    infinite = {key: value.clone() for key, value in state.items()}
    infinite["2.weight"][3, 1] = float("inf")
    torch.save(infinite, os.path.join(OUT, "infinity.pt"))
    integer = {key: value.clone() for key, value in state.items()}
    integer["2.weight"] = (integer["2.weight"] * 127).round().to(torch.int8)
    torch.save(integer, os.path.join(OUT, "integer_weights.pt"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--tiny-only", action="store_true",
                        help="make only infinity.pt and integer_weights.pt (no data needed)")
    args = parser.parse_args()
    if args.tiny_only:
        tiny_refused_files()
        return
    if args.data_dir is None:
        parser.error("--data-dir is required (unless --tiny-only)")
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)

    pixels, labels = load_split(args.data_dir, "train")
    images = torch.from_numpy(pixels[:20000]).float().div(255)
    targets = torch.from_numpy(labels[:20000]).long()
    test_pixels, _ = load_split(args.data_dir, "t10k")
    test = torch.from_numpy(test_pixels[:100]).float().div(255)

    simple = train_briefly(SimpleNN(), images, targets)
    torch.save(simple.state_dict(), os.path.join(OUT, "simple_nn.pt"))

    # Keys 0.weight, 2.weight, ... as people write nn.Sequential without the Flatten; the
    # Flatten at index 0 here would shift them, so it is left out of the saved names.
    seq = train_briefly(sequential(), images, targets)
    state = {f"{int(key.split('.')[0]) - 1}.{key.split('.')[1]}": value.contiguous()
             for key, value in seq.state_dict().items()}
    torch.save(state, os.path.join(OUT, "sequential.pt"))
    torch.save(state, os.path.join(OUT, "sequential_legacy.pt"), _use_new_zipfile_serialization=False)
    save_file(state, os.path.join(OUT, "sequential.safetensors"))

    # Files import must refuse, kept tiny: untrained, and only their structure matters.
    cnn = nn.Sequential()
    cnn.conv1 = nn.Conv2d(1, 2, 3, stride=3)
    cnn.fc1 = nn.Linear(2 * 9 * 9, 10)
    torch.save(cnn.state_dict(), os.path.join(OUT, "cnn.pt"))
    torch.save(nn.Sequential(nn.Linear(784, 2)), os.path.join(OUT, "whole_module.pt"))
    torch.save({"epoch": 3, "model": nn.Linear(784, 2).state_dict()}, os.path.join(OUT, "checkpoint.pt"))
    torch.save({"epoch": 3, "loss": 0.25}, os.path.join(OUT, "no_tensors.pt"))

    # The same weights as sequential.pt, saved the ways people save them.
    plain = sequential_without_flatten(state)
    torch.save(nn.DataParallel(plain).state_dict(), os.path.join(OUT, "data_parallel.pt"))
    torch.save(torch.compile(plain).state_dict(), os.path.join(OUT, "compiled.pt"))
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    plain(images[:64].reshape(64, -1)).sum().backward()
    optimizer.step()  # the optimizer's state now holds tensors (exp_avg, exp_avg_sq)
    plain.load_state_dict(state)  # back to sequential.pt's weights
    torch.save({"epoch": 5, "model_state_dict": plain.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "loss": 0.1234},
               os.path.join(OUT, "training_checkpoint.pt"))
    torch.save(nn.Sequential(nn.Linear(784, 2)), os.path.join(OUT, "whole_module_legacy.pt"),
               _use_new_zipfile_serialization=False)

    net = train_briefly(Net(), normalised(images), targets)
    torch.save(net.state_dict(), os.path.join(OUT, "mnist_cnn.pt"))

    with torch.no_grad():
        record = {
            "torch": torch.__version__,
            "images": "the first 100 MNIST test images, pixels / 255",
            "simple_nn": torch.softmax(simple(test), dim=1).tolist(),
            "sequential": torch.softmax(seq(test), dim=1).tolist(),
            "net": torch.softmax(net(normalised(test)), dim=1).tolist(),
        }
    with open(os.path.join(OUT, "probabilities.json"), "w") as f:
        json.dump(record, f)
    tiny_refused_files()
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, name)):>8} {name}")


if __name__ == "__main__":
    main()
