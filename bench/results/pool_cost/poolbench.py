# What a 3x3 average pooling costs against a 3x3 convolution (ReLU-conv-BN, 16 channels) on this
# CPU, forward and backward, batch 128 at 28x28 (the first stage of the Fashion-MNIST network),
# float32 and bfloat16 autocast, contiguous and channels-last, 2 threads. PyTorch 2.11 (the
# libtorch nascent trains with).
#   ~/.cache/nascent/torch-venv/bin/python bench/results/pool_cost/poolbench.py > results.txt
import torch, time
torch.set_num_threads(2)
def step(mod, x, amp):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        y = mod(x)
    y.float().sum().backward()
def bench(mod, x, amp, warm=3, n=20):
    for _ in range(warm):
        step(mod, x, amp)
    t = time.perf_counter()
    for _ in range(n):
        step(mod, x, amp)
    return (time.perf_counter() - t) / n * 1000
conv = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16)).to(memory_format=torch.channels_last)
pool = torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)
for name, m in [("conv3x3", conv), ("avgpool3x3", pool)]:
    for amp in [False, True]:
        for cl in [False, True]:
            x = torch.randn(128, 16, 28, 28)
            if cl: x = x.to(memory_format=torch.channels_last)
            x.requires_grad_(True)
            print(f"{name:11s} {'bf16' if amp else 'fp32'} {'channels_last' if cl else 'contiguous   '} {bench(m, x, amp):7.2f} ms fwd+bwd")
