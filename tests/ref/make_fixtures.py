#!/usr/bin/python3
"""Reference fixtures for the ref_* tests: PyTorch/torchvision computes, C compares.

    /usr/bin/python3 tests/ref/make_fixtures.py [--out tests/ref/fixtures]

Needs Debian 12's python3-torch (1.13) and python3-torchvision (0.14); the
tests that read the fixtures do not. The output is deterministic: run it twice
and the files are byte-identical. docs/reference-tests.md documents the file
format, the cases and the tolerances.

Conventions shared with the C side (tests/ref/fixture.h):
  * Model weights are not stored. Every state_dict entry gets an `init/<name>`
    record [offset, scale] and both sides fill element i with
        float32(offset + scale * u(name, i))      (arithmetic in float64)
    where u(name, i) in [-1, 1) is an exact 24-bit value from a splitmix64 hash
    of (FNV-1a-64(name), i). Keyed by the torchvision name, so a wrong name or
    layout on the C side gives wrong numbers, not a silent pass.
  * References are computed by PyTorch in float64 from those float32 weights
    and inputs and stored rounded to float32: the tests then measure our
    float32 error alone. The script also runs the same case in float32 and
    prints how far PyTorch's own float32 result is from the float64 one (the
    yardstick for the tolerances in the tests).
"""
import argparse
import copy
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from torchvision.models.resnet import BasicBlock, ResNet

MAGIC = b"MOCOREF\x00"
VERSION = 1
DT_F32, DT_I64, DT_U8 = 1, 2, 3
ROLE_PARAM, ROLE_BUFFER = 1, 2
MASK64 = (1 << 64) - 1


# ---- file format ---------------------------------------------------------

class Fixture:
    """Named tensors in insertion order; see docs/reference-tests.md."""

    def __init__(self):
        self.entries = []
        self.names = set()

    def add(self, name, value, dtype=None):
        if name in self.names:
            raise ValueError(f"duplicate fixture entry {name}")
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        if dtype is None:
            dtype = {np.dtype(np.uint8): DT_U8, np.dtype(np.int64): DT_I64,
                     np.dtype(np.int32): DT_I64, np.dtype(np.bool_): DT_I64}.get(value.dtype, DT_F32)
        np_type = {DT_F32: "<f4", DT_I64: "<i8", DT_U8: "u1"}[dtype]
        arr = np.ascontiguousarray(value.astype(np_type))
        if arr.ndim > 4:
            raise ValueError(f"{name}: {arr.ndim} dims")
        self.names.add(name)
        self.entries.append((name, dtype, arr))

    def write(self, path):
        out = bytearray()
        out += MAGIC + struct.pack("<II", VERSION, len(self.entries))
        for name, dtype, arr in self.entries:
            nb = name.encode()
            out += struct.pack("<IIII", len(nb), dtype, arr.ndim, 0)
            for d in arr.shape:
                out += struct.pack("<q", d)
            out += nb + b"\x00" * (8 - len(nb) % 8)
            data = arr.tobytes()
            out += data + b"\x00" * ((8 - len(data) % 8) % 8)
        with open(path, "wb") as f:
            f.write(out)
        return len(out)


# ---- deterministic weights (mirrored by ref_init_fill in fixture.h) ------

def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def hash_uniform(name, n):
    """u(name, i) for i < n: splitmix64(key + i * golden), top 24 bits -> [-1, 1)."""
    g = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        x = np.uint64(fnv1a64(name)) + np.arange(n, dtype=np.uint64) * g + g
        z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z >> np.uint64(40)).astype(np.int64) - (1 << 23)
    return k.astype(np.float64) / float(1 << 23)


def init_values(name, shape, offset, scale):
    off, sc = np.float32(offset), np.float32(scale)
    n = int(np.prod(shape)) if len(shape) else 1
    v = (np.float64(off) + np.float64(sc) * hash_uniform(name, n)).astype(np.float32)
    return v.reshape(shape), off, sc


# ---- the model -------------------------------------------------------------

def resnet18(width, stem, head, dim):
    """torchvision's ResNet/BasicBlock/_make_layer code path at stage widths
    w, 2w, 4w, 8w (ResNet.__init__ hard-codes 64, so the stem, the four
    stages and fc are rebuilt with its own _make_layer; module order, hence
    state_dict order, is unchanged)."""
    m = ResNet(BasicBlock, [2, 2, 2, 2])
    w = width
    m.inplanes = w
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, w, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    else:
        m.conv1 = nn.Conv2d(3, w, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = m._norm_layer(w)
    m.layer1 = m._make_layer(BasicBlock, w, 2)
    m.layer2 = m._make_layer(BasicBlock, 2 * w, 2, stride=2)
    m.layer3 = m._make_layer(BasicBlock, 4 * w, 2, stride=2)
    m.layer4 = m._make_layer(BasicBlock, 8 * w, 2, stride=2)
    if head == "linear":
        m.fc = nn.Linear(8 * w, dim)
    else:
        m.fc = nn.Sequential(nn.Linear(8 * w, 8 * w), nn.ReLU(), nn.Linear(8 * w, dim))
    return m


def init_rule(model, name, t):
    """(offset, scale) of state_dict entry `name`: the spread of torchvision's
    init (kaiming fan_out for convs, PyTorch's Linear default), but non-trivial
    BN affine parameters and running statistics so that every path matters."""
    mod_name, _, leaf = name.rpartition(".")
    mod = model.get_submodule(mod_name)
    if isinstance(mod, nn.Conv2d):
        fan_out = t.shape[0] * t.shape[2] * t.shape[3]
        return 0.0, float(np.sqrt(3.0) * np.sqrt(2.0 / fan_out))
    if isinstance(mod, nn.BatchNorm2d):
        return {"weight": (1.0, 0.2), "bias": (0.0, 0.1), "running_mean": (0.0, 0.1),
                "running_var": (1.0, 0.3), "num_batches_tracked": (0.0, 0.0)}[leaf]
    if isinstance(mod, nn.Linear):
        return 0.0, float(1.0 / np.sqrt(mod.in_features))
    raise ValueError(name)


def model_init(model, fx, prefix="", store=True):
    """Fill every state_dict entry by its rule; record init/ and sd/ entries."""
    params = {n for n, _ in model.named_parameters()}
    sd = model.state_dict()
    new = {}
    for name, t in sd.items():
        off, sc = init_rule(model, name, t)
        v, off32, sc32 = init_values(name, tuple(t.shape), off, sc)
        new[name] = torch.from_numpy(v.copy()).to(t.dtype)
        if store:
            role = ROLE_PARAM if name in params else ROLE_BUFFER
            dt = DT_I64 if t.dtype == torch.int64 else DT_F32
            fx.add(f"{prefix}sd/{name}", np.array([role, dt] + list(t.shape), np.int64))
            fx.add(f"{prefix}init/{name}", np.array([off32, sc32], np.float32))
            flat = v.reshape(-1).astype(np.float64)
            fx.add(f"{prefix}initcheck/{name}",
                   np.array([flat[0], flat[-1], flat.sum()], np.float64).astype(np.float32))
    model.load_state_dict(new)


def fc_input_hook(model):
    box = {}
    model.fc.register_forward_hook(lambda mod, inp, out: box.__setitem__("feat", inp[0]))
    return box


class Yardstick:
    """Worst |torch float32 - torch float64| per group, printed at the end."""

    def __init__(self):
        self.rows = []

    def add(self, group, f32, f64):
        a = np.asarray(f32, np.float64).reshape(-1)
        b = np.asarray(f64, np.float64).reshape(-1)
        if a.size == 0:
            return
        err = np.abs(a - b)
        scale = np.abs(b).max()
        rel = err / np.maximum(np.abs(b), 1e-3 * scale if scale > 0 else 1e-30)
        self.rows.append((group, float(err.max()), float(rel.max()), float(scale)))

    def report(self):
        worst = {}
        for g, a, r, s in self.rows:
            pa, pr = worst.get(g, (0.0, 0.0))
            worst[g] = (max(pa, a), max(pr, r))
        print("torch float32 vs torch float64 (the error PyTorch itself makes):")
        for g, (a, r) in worst.items():
            print(f"  {g:<34} max abs {a:.2e}  max rel {r:.2e}")


YS = Yardstick()


# ---- 1 + 2: backbone forward / BN buffers / backward ----------------------

def case_resnet(path, width, stem, head, dim, batch, size, seed):
    fx = Fixture()
    fx.add("config", np.array([0 if stem == "cifar" else 1, width, 0 if head == "linear" else 1,
                               dim, batch, 3, size, size], np.int64))
    fx.add("bn", np.array([0.1, 1e-5], np.float32))
    m32 = resnet18(width, stem, head, dim)
    model_init(m32, fx)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    dout = rng.standard_normal((batch, dim)).astype(np.float32)
    fx.add("x", x)
    fx.add("dout", dout)

    results = {}
    for dtype in (torch.float64, torch.float32):
        m = copy.deepcopy(m32).to(dtype)
        box = fc_input_hook(m)
        xt = torch.from_numpy(x).to(dtype)
        r = {}
        m.eval()
        with torch.no_grad():
            r["eval0.out"] = m(xt)
            r["eval0.feat"] = box["feat"]
        m.train()
        out = m(xt)
        r["train.out"] = out.detach()
        r["train.feat"] = box["feat"].detach()
        for n, b in m.named_buffers():
            r[f"buf/{n}"] = b.detach().clone()
        (out * torch.from_numpy(dout).to(dtype)).sum().backward()
        for n, p in m.named_parameters():
            r[f"grad/{n}"] = p.grad.detach().clone()
        m.eval()
        with torch.no_grad():
            r["eval1.out"] = m(xt)
            r["eval1.feat"] = box["feat"]
        results[dtype] = r
    tag = f"resnet18 {stem} w{width}"
    for k, v in results[torch.float64].items():
        fx.add(k, v.numpy().astype(np.float32) if v.dtype != torch.int64 else v.numpy())
        group = ("forward" if ".out" in k or ".feat" in k else
                 "BN buffers" if k.startswith("buf/") else "gradients")
        YS.add(f"{tag} {group}", results[torch.float32][k].numpy(), v.numpy())
    return fx.write(path)


# ---- 3: InfoNCE ------------------------------------------------------------

def infonce_ref(q, k, queue_rows, T):
    """The official MoCo logits (queue kept as rows here: l_neg = q @ queue^T)."""
    l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
    l_neg = torch.einsum("nc,kc->nk", [q, queue_rows])
    logits = torch.cat([l_pos, l_neg], dim=1) / T
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    return logits, F.cross_entropy(logits, labels)


def case_infonce(path, n, dim, K, T, seed):
    fx = Fixture()
    rng = np.random.default_rng(seed)
    q_raw = rng.standard_normal((n, dim)).astype(np.float32) * 3.0
    k = rng.standard_normal((n, dim))
    # positives correlated with their queries, so the loss is not ~ln(K+1)
    k = (0.6 * q_raw / 3.0 + 0.8 * k)
    k = (k / np.linalg.norm(k, axis=1, keepdims=True)).astype(np.float32)
    queue = rng.standard_normal((K, dim))
    queue = (queue / np.linalg.norm(queue, axis=1, keepdims=True)).astype(np.float32)
    fx.add("T", np.array([T], np.float32))
    fx.add("q_raw", q_raw)
    fx.add("k", k)
    fx.add("queue", queue)
    res = {}
    for dtype in (torch.float64, torch.float32):
        qr = torch.from_numpy(q_raw).to(dtype).requires_grad_(True)
        q = F.normalize(qr, dim=1)
        q.retain_grad()
        logits, loss = infonce_ref(q, torch.from_numpy(k).to(dtype),
                                   torch.from_numpy(queue).to(dtype), T)
        loss.backward()
        res[dtype] = {"q": q.detach(), "logits": logits.detach(), "loss": loss.detach().reshape(1),
                      "dq": q.grad.detach(), "dq_raw": qr.grad.detach()}
    for key, v in res[torch.float64].items():
        fx.add(key, v.numpy().astype(np.float32))
        YS.add("infonce", res[torch.float32][key].numpy(), v.numpy())
    return fx.write(path)


# ---- 4: MoCo steps ---------------------------------------------------------

def case_moco(path, width, dim, batch, size, K, ptr0, hyper, steps, seed):
    lr, mu, wd, m_ema, T = hyper
    fx = Fixture()
    fx.add("config", np.array([0, width, 0, dim, batch, 3, size, size, K, steps], np.int64))
    fx.add("hyper", np.array([lr, mu, wd, m_ema, T], np.float64).astype(np.float32))
    base = resnet18(width, "cifar", "linear", dim)
    model_init(base, fx)
    rng = np.random.default_rng(seed)
    queue0 = rng.standard_normal((K, dim))
    queue0 = (queue0 / np.linalg.norm(queue0, axis=1, keepdims=True)).astype(np.float32)
    fx.add("queue0", queue0)
    fx.add("ptr0", np.array([ptr0], np.int64))
    xs = []
    for s in range(steps):
        xq = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        # the two views of an image share content, as augmentations do
        xk = (0.7 * xq + 0.5 * rng.standard_normal(xq.shape)).astype(np.float32)
        fx.add(f"step{s + 1}.xq", xq)
        fx.add(f"step{s + 1}.xk", xk)
        xs.append((xq, xk))

    res = {}
    for dtype in (torch.float64, torch.float32):
        enc_q = copy.deepcopy(base).to(dtype)
        enc_k = copy.deepcopy(enc_q)           # key encoder = exact copy at step 0
        for p in enc_k.parameters():
            p.requires_grad = False
        enc_q.train()
        enc_k.train()                          # train-mode BN for the keys too
        opt = torch.optim.SGD(enc_q.parameters(), lr=lr, momentum=mu, weight_decay=wd)
        queue = torch.from_numpy(queue0).to(dtype).clone()
        ptr = ptr0
        r = {}
        for s, (xq, xk) in enumerate(xs):
            p = f"step{s + 1}."
            opt.zero_grad()
            q = F.normalize(enc_q(torch.from_numpy(xq).to(dtype)), dim=1)
            with torch.no_grad():
                k = F.normalize(enc_k(torch.from_numpy(xk).to(dtype)), dim=1)
            logits, loss = infonce_ref(q, k, queue.clone().detach(), T)
            loss.backward()
            opt.step()
            # Our order: momentum update right after SGD (the official code
            # does it at the start of the next step, before the keys: the
            # same sequence of operations). Parameters only; the key
            # encoder's BN buffers come from its own forward.
            with torch.no_grad():
                for pk, pq in zip(enc_k.parameters(), enc_q.parameters()):
                    pk.data = pk.data * m_ema + pq.data * (1.0 - m_ema)
            queue[ptr:ptr + batch] = k             # rows here; columns in the official code
            ptr = (ptr + batch) % K
            r[p + "loss"] = loss.detach().reshape(1)
            r[p + "q"] = q.detach()
            r[p + "k"] = k.detach()
            for n, t in enc_q.named_parameters():
                r[p + "q.param/" + n] = t.detach().clone()
            for n, t in enc_q.named_buffers():
                r[p + "q.buf/" + n] = t.detach().clone()
            for n, t in enc_k.named_parameters():
                r[p + "k.param/" + n] = t.detach().clone()
            for n, t in enc_k.named_buffers():
                r[p + "k.buf/" + n] = t.detach().clone()
            r[p + "queue"] = queue.clone()
            r[p + "queue_ptr"] = torch.tensor([ptr], dtype=torch.int64)
        res[dtype] = r
    for key, v in res[torch.float64].items():
        if v.dtype == torch.int64:
            fx.add(key, v.numpy())
            continue
        fx.add(key, v.numpy().astype(np.float32))
        group = key.split(".", 1)[1].split("/")[0]
        YS.add(f"moco step {group}", res[torch.float32][key].numpy(), v.numpy())
    return fx.write(path)


# ---- 5: augmentation geometry and colour -----------------------------------

def case_augment(path, seed):
    fx = Fixture()
    rng = np.random.default_rng(seed)
    h, w, out = 40, 48, 24
    # smooth structure + noise + a few saturated pixels, as photos have
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 90 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in range(3)])
    img = img + rng.normal(0, 20, img.shape)
    img[:, 3, 5] = 255
    img[:, 10, 20] = 0
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    # (top, left, height, width): identity, down-scale, up-scale, thin boxes, corners
    boxes = np.array([[0, 0, 40, 48], [0, 0, 40, 40], [5, 7, 17, 23], [12, 30, 9, 18],
                      [0, 40, 40, 8], [31, 0, 9, 48], [20, 11, 20, 37], [39, 47, 1, 1]],
                     np.int64)
    flips = np.array([0, 1, 0, 1, 0, 1, 0, 1], np.int64)
    fx.add("image", img)
    fx.add("boxes", boxes)
    fx.add("flips", flips)
    fx.add("out_size", np.array([out], np.int64))
    t8 = torch.from_numpy(img)
    crops, raws = [], []
    for (top, left, bh, bw), fl in zip(boxes.tolist(), flips.tolist()):
        c8 = TF.resized_crop(t8, top, left, bh, bw, [out, out],
                             TF.InterpolationMode.BILINEAR, antialias=False)
        cf = TF.resized_crop(t8.float(), top, left, bh, bw, [out, out],
                             TF.InterpolationMode.BILINEAR, antialias=False)
        if fl:
            c8, cf = TF.hflip(c8), TF.hflip(cf)
        crops.append(c8.numpy())
        raws.append(cf.numpy())
    fx.add("crops_u8", np.stack(crops))       # torchvision on the uint8 tensor
    fx.add("crops_f32", np.stack(raws))       # torchvision on img.float(): unrounded

    # colour ops on a float image in [0, 1] (what ToTensor gives), fixed factors
    s = 12
    x = rng.integers(0, 256, (3, s, s)).astype(np.float32)
    x[:, 0, :4] = 200.0                         # gray pixels (hue undefined, eqc path)
    x[0, 1, :4], x[1, 1, :4], x[2, 1, :4] = 255.0, 0.0, 0.0      # pure red
    x[0, 2, :4], x[1, 2, :4], x[2, 2, :4] = 10.0, 240.0, 240.0   # max shared by g and b
    x[:, 3, :2] = 0.0
    x = x / np.float32(255.0)
    fx.add("color_in", x)
    factors = np.array([[0.6, 1.4, 0.0, -0.5], [1.4, 0.6, 1.7, 0.5],
                        [1.0, 1.0, 1.0, 0.0], [0.83, 1.21, 0.37, 0.137]], np.float32)
    fx.add("color_factors", factors)
    xt = torch.from_numpy(x)
    outs = {"brightness": [], "contrast": [], "saturation": [], "hue": [], "chain": []}
    for b, c, sa, hu in factors.tolist():
        outs["brightness"].append(TF.adjust_brightness(xt, b))
        outs["contrast"].append(TF.adjust_contrast(xt, c))
        outs["saturation"].append(TF.adjust_saturation(xt, sa))
        outs["hue"].append(TF.adjust_hue(xt, hu))
        y = TF.adjust_hue(TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(xt, b), c), sa), hu)
        outs["chain"].append(TF.rgb_to_grayscale(y, num_output_channels=3))
    for k, v in outs.items():
        fx.add(f"color_{k}", torch.stack(v).numpy())
    fx.add("color_grayscale", TF.rgb_to_grayscale(xt, num_output_channels=3).numpy())
    return fx.write(path)


# ---- 6: kNN monitor ----------------------------------------------------------

def knn_predict(feature, feature_bank, feature_labels, classes, knn_k, knn_t):
    """The MoCo CIFAR demo's knn_predict, verbatim in substance (feature_bank is (D, N))."""
    sim_matrix = torch.mm(feature, feature_bank)
    sim_weight, sim_indices = sim_matrix.topk(k=knn_k, dim=-1)
    sim_labels = torch.gather(feature_labels.expand(feature.size(0), -1), dim=-1, index=sim_indices)
    sim_weight = (sim_weight / knn_t).exp()
    one_hot_label = torch.zeros(feature.size(0) * knn_k, classes, device=sim_labels.device)
    one_hot_label = one_hot_label.scatter(dim=-1, index=sim_labels.view(-1, 1), value=1.0)
    pred_scores = torch.sum(one_hot_label.view(feature.size(0), -1, classes) * sim_weight.unsqueeze(dim=-1), dim=1)
    pred_labels = pred_scores.argsort(dim=-1, descending=True)
    return pred_labels, pred_scores, sim_matrix


def case_knn(path, n_bank, n_query, d, classes, seed):
    fx = Fixture()
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d))
    # unbalanced classes: a wide vote (k = 200) favours the frequent ones,
    # a narrow one (k = 20) follows the local neighbourhood
    freq = np.linspace(3.0, 1.0, classes)
    bank_y = rng.choice(classes, n_bank, p=freq / freq.sum())
    bank = centers[bank_y] + 1.2 * rng.standard_normal((n_bank, d))
    bank = (bank / np.linalg.norm(bank, axis=1, keepdims=True)).astype(np.float32)
    bank_t = torch.from_numpy(bank)
    labels_t = torch.from_numpy(bank_y)
    ks = [200, 20]
    queries, qy = [], []
    # keep only queries whose answer is robust to float32 summation order:
    # a clear gap at the k-th neighbour and between the two best classes
    while len(queries) < n_query:
        y = int(rng.integers(0, classes))
        v = centers[y] + 1.2 * rng.standard_normal(d)
        v = (v / np.linalg.norm(v)).astype(np.float32)
        ok = True
        for k in ks:
            _, scores, sims = knn_predict(torch.from_numpy(v[None]), bank_t.t(), labels_t,
                                          classes, k, 0.1)
            srt = torch.sort(sims[0], descending=True).values
            top2 = torch.sort(scores[0], descending=True).values[:2]
            if srt[k - 1] - srt[k] < 1e-4 or (top2[0] - top2[1]) / top2[0] < 1e-3:
                ok = False
        if ok:
            queries.append(v)
            qy.append(y)
    q = np.stack(queries)
    fx.add("bank", bank)
    fx.add("bank_labels", bank_y.astype(np.int64))
    fx.add("queries", q)
    fx.add("query_labels", np.array(qy, np.int64))
    fx.add("classes", np.array([classes], np.int64))
    fx.add("k", np.array(ks, np.int64))
    fx.add("t", np.array([0.1], np.float32))
    preds = {}
    for k in ks:
        pl, _, _ = knn_predict(torch.from_numpy(q), bank_t.t(), labels_t, classes, k, 0.1)
        preds[k] = pl[:, 0].numpy()
        fx.add(f"pred_k{k}", preds[k].astype(np.int64))
    # the fixture must tell the protocol's variants apart
    uni, _, _ = knn_predict(torch.from_numpy(q), bank_t.t(), labels_t, classes, 200, 1e6)
    print(f"knn: {n_query} queries; k=200 vs k=20 differ on {int((preds[200] != preds[20]).sum())}, "
          f"weighted vs unweighted (k=200) on {int((preds[200] != uni[:, 0].numpy()).sum())}; "
          f"accuracy k=200 {float((preds[200] == np.array(qy)).mean()):.2f}")
    return fx.write(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {np.__version__}")
    os.makedirs(a.out, exist_ok=True)
    sizes = {}

    def run(name, fn, *args):
        sizes[name] = fn(os.path.join(a.out, name), *args)

    run("resnet18_cifar_w8.bin", case_resnet, 8, "cifar", "linear", 16, 4, 16, 101)
    run("resnet18_imagenet_w4_mlp.bin", case_resnet, 4, "imagenet", "mlp", 16, 4, 24, 102)
    run("infonce.bin", case_infonce, 8, 16, 64, 0.07, 103)
    run("moco_step_w4.bin", case_moco, 4, 16, 4, 16, 32, 28, (0.05, 0.9, 1e-3, 0.999, 0.07), 2, 104)
    run("augment.bin", case_augment, 105)
    run("knn.bin", case_knn, 400, 60, 16, 10, 106)
    YS.report()
    total = 0
    for n, s in sizes.items():
        print(f"  {n:<32} {s / 1024:8.1f} KiB")
        total += s
    print(f"  total {total / 1024:.1f} KiB")
    if total > 2 * 1024 * 1024:
        sys.exit("fixtures exceed 2 MiB")


if __name__ == "__main__":
    main()
