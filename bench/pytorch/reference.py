"""PyTorch reference for nascent's training benchmark.

Builds the same networks as nascent (the NAS-Bench-201 network with the all-nor_conv_3x3 cell,
and the DARTS evaluation network of a genotype), trains them with SGD (Nesterov momentum 0.9,
weight decay 5e-4) on batches held in memory, and measures training images per second and the
median batch-1 inference latency. Prints one JSON object.

    python reference.py --net nb201 --cells 5 --channels 16 --batch 64 --steps 10 --threads 2

With --amp bf16 (or fp16, with a GradScaler) the forward pass runs under torch.autocast.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# NAS-Bench-201


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, dilation=1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Nb201Cell(nn.Module):
    """Cell whose every edge is nor_conv_3x3: node j = sum_{i<j} conv(node i), output node 3."""

    def __init__(self, c):
        super().__init__()
        self.edges = nn.ModuleList(ReLUConvBN(c, c, 3, 1, 1) for _ in range(6))

    def forward(self, x):
        nodes = [x]
        e = 0
        for j in range(1, 4):
            s = None
            for i in range(j):
                y = self.edges[e](nodes[i])
                e += 1
                s = y if s is None else s + y
            nodes.append(s)
        return nodes[-1]


class ResBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False),
        )

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Nb201Net(nn.Module):
    def __init__(self, in_ch, c, n, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        cells = []
        c_prev = c
        for stage, width in enumerate([c, 2 * c, 4 * c]):
            if stage > 0:
                cells.append(ResBlock(c_prev, width))
                c_prev = width
            for _ in range(n):
                cells.append(Nb201Cell(width))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(c_prev, classes)

    def forward(self, x):
        h = self.lastact(self.cells(self.stem(x)))
        return self.classifier(F.adaptive_avg_pool2d(h, 1).flatten(1))


# ---------------------------------------------------------------------------------------------
# DARTS


class SepConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, stride, pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, 1, pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, dilation):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def darts_op(name, c, stride):
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    raise ValueError(name)


# DARTS-V2 (Liu et al. 2019), the published genotype.
DARTS_V2 = {
    "normal": [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
               ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    "reduce": [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
               ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    "concat": [2, 3, 4, 5],
}


class DartsCell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0)
        ops = DARTS_V2["reduce" if reduction else "normal"]
        self.idx = [i for _, i in ops]
        self.ops = nn.ModuleList(
            darts_op(name, c, 2 if reduction and i < 2 else 1) for name, i in ops
        )
        self.concat = DARTS_V2["concat"]

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for k in range(len(self.ops) // 2):
            a = self.ops[2 * k](states[self.idx[2 * k]])
            b = self.ops[2 * k + 1](states[self.idx[2 * k + 1]])
            states.append(a + b)
        return torch.cat([states[i] for i in self.concat], dim=1)


class DartsNet(nn.Module):
    def __init__(self, in_ch, c, layers, classes):
        super().__init__()
        c_curr = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, c
        cells = []
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cells.append(DartsCell(c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(DARTS_V2["concat"]) * c_curr
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, classes)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


# ---------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", choices=["nb201", "darts"], required=True)
    p.add_argument("--cells", type=int, required=True)
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--latency-runs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none",
                   help="autocast the forward pass to bfloat16 or float16 (float16 with a GradScaler)")
    p.add_argument("--memory-format", choices=["contiguous", "channels_last"], default="contiguous",
                   help="channels_last: weights and batches in NHWC order (torch.channels_last)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    if a.net == "nb201":
        net = Nb201Net(a.in_channels, a.channels, a.cells, a.classes)
    else:
        net = DartsNet(a.in_channels, a.channels, a.cells, a.classes)
    net = net.to(dev)
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    net = net.to(memory_format=fmt)
    params = sum(t.numel() for t in net.parameters() if t.requires_grad)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    shape = (a.batch, a.in_channels, a.resolution, a.resolution)
    batches = [
        (torch.randn(shape, device=dev).contiguous(memory_format=fmt),
         torch.randint(0, a.classes, (a.batch,), device=dev))
        for _ in range(4)
    ]

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    net.train()

    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    scaler = torch.amp.GradScaler(dev.type) if a.amp == "fp16" else None

    def step(k):
        x, y = batches[k % len(batches)]
        if amp_dtype is None:
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            return loss
        with torch.autocast(dev.type, dtype=amp_dtype):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        if scaler is None:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
        return loss

    for k in range(a.warmup):
        step(k)
    sync()
    t0 = time.perf_counter()
    for k in range(a.steps):
        loss = step(k)
    loss.item()
    sync()
    train_s = time.perf_counter() - t0

    net.eval()
    x1 = torch.randn((1,) + shape[1:], device=dev).contiguous(memory_format=fmt)
    times = []
    with torch.no_grad():
        for _ in range(5):
            net(x1)
        sync()
        for _ in range(a.latency_runs):
            t = time.perf_counter()
            net(x1)
            sync()
            times.append(time.perf_counter() - t)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "params": params,
        "train_images_per_second": a.steps * a.batch / train_s,
        "latency_ms_batch1": 1000 * statistics.median(times),
    }))


if __name__ == "__main__":
    main()
