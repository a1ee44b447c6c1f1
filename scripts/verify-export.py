#!/usr/bin/python3
"""Loads a moco safetensors export into torchvision's ResNet-18 with
load_state_dict(strict=True): the round-trip check for `moco-host export`.

usage: scripts/verify-export.py FILE.safetensors

Needs Debian's python3-torch and python3-torchvision (not needed by the build
or the tests). The CIFAR stem (3x3 conv1, no max-pool) is detected from
conv1.weight; the head is fc (linear, out = dim) or fc.0/fc.2 (MLP)."""
import json
import struct
import sys


def read_safetensors(path):
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        tensor = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[t["dtype"]])
        out[name] = tensor.reshape(t["shape"])
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        import torch
        import torchvision
    except ImportError:
        print("verify-export: python3-torch / python3-torchvision not installed; skipped")
        return 0
    sd = read_safetensors(sys.argv[1])
    width = sd["conv1.weight"].shape[0]
    if width != 64:
        sys.exit("verify-export: width %d: torchvision's resnet18 has width 64" % width)
    mlp = "fc.0.weight" in sd
    dim = sd["fc.2.weight" if mlp else "fc.weight"].shape[0]
    model = torchvision.models.resnet18(num_classes=dim)
    if sd["conv1.weight"].shape[-1] == 3:  # CIFAR stem
        model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = torch.nn.Identity()
    if mlp:
        model.fc = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                       torch.nn.Linear(512, dim))
    missing = model.load_state_dict(sd, strict=True)
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, 32, 32))
    print("verify-export: loaded %d tensors into torchvision resnet18 (%s stem, %s head, "
          "dim %d): %s; forward ok, output %s" % (len(sd), "cifar" if model.maxpool.__class__
          .__name__ == "Identity" else "imagenet", "mlp" if mlp else "linear", dim, missing,
          tuple(y.shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
