#!/usr/bin/python3
"""The PyTorch twin of moco_bench's step: one MoCo v1 training step of a
torchvision ResNet-18 (CIFAR stem: 3x3 stride-1 conv1, no max-pool; or the
ImageNet stem), linear head to 128, key encoder in train mode without
gradient, L2 normalisation, InfoNCE against a K = 1024 queue (T = 0.07), SGD
(lr 0.03, momentum 0.9, weight decay 5e-4), momentum update m = 0.999 and
enqueue, on a resident batch of 32x32 images. Prints one JSON object like
moco_bench (times in seconds, median, images/s, peak RSS).

    /usr/bin/python3 bench/torch_step.py --stem cifar --batch 32 --threads 1 --reps 5

Needs Debian's python3-torch and python3-torchvision; exits 3 with a message
on stderr when they are not installed.
"""
import argparse
import json
import resource
import sys
import time

T_START = time.perf_counter()

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError as e:  # the driver reports "PyTorch skipped"
    print(f"torch_step.py: PyTorch not available ({e}). HINT: apt-get install -y "
          "python3-torch python3-torchvision", file=sys.stderr)
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stem", choices=["cifar", "imagenet"], default="cifar")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queue", type=int, default=1024)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    q_enc = torchvision.models.resnet18(num_classes=a.dim)
    if a.stem == "cifar":
        q_enc.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        q_enc.maxpool = nn.Identity()
    k_enc = torchvision.models.resnet18(num_classes=a.dim)
    if a.stem == "cifar":
        k_enc.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        k_enc.maxpool = nn.Identity()
    k_enc.load_state_dict(q_enc.state_dict())
    for p in k_enc.parameters():
        p.requires_grad = False
    q_enc.train()
    k_enc.train()
    opt = torch.optim.SGD(q_enc.parameters(), lr=0.03, momentum=0.9, weight_decay=5e-4)
    queue = F.normalize(torch.randn(a.dim, a.queue), dim=0)
    ptr = 0
    xq = torch.randn(a.batch, 3, 32, 32)
    xk = torch.randn(a.batch, 3, 32, 32)
    labels = torch.zeros(a.batch, dtype=torch.long)

    def step():
        nonlocal ptr
        q = F.normalize(q_enc(xq), dim=1)
        with torch.no_grad():
            k = F.normalize(k_enc(xk), dim=1)
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ queue
        logits = torch.cat([l_pos, l_neg], dim=1) / 0.07
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pk, pq in zip(k_enc.parameters(), q_enc.parameters()):
                pk.mul_(0.999).add_(pq, alpha=0.001)
            queue[:, ptr:ptr + a.batch] = k.t()
        ptr = (ptr + a.batch) % a.queue
        return float(loss)

    t_first = time.perf_counter()
    times = []
    loss = 0.0
    for i in range(a.warmup + a.reps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[a.warmup:])
    n = len(t)
    med = t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])
    out = {
        "impl": "pytorch", "mode": "step", "stem": a.stem, "batch": a.batch,
        "threads": a.threads, "torch": torch.__version__,
        "startup_s": round(t_first - T_START, 4), "first_step_s": round(times[0], 5),
        "step_s": [round(x, 5) for x in times[a.warmup:]], "median_s": round(med, 5),
        "images_per_s": round(a.batch / med, 3), "loss": round(loss, 5),
        "rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
