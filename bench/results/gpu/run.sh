#!/usr/bin/env bash
# GPU checks: issue 3 (training images/s vs PyTorch on the GPU) and issue 5 (DARTS/GDAS epoch time).
set -uo pipefail
export PYTHONUNBUFFERED=1
TL="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
export LD_LIBRARY_PATH="$TL"
nvidia-smi -L; python3 -c 'import torch;print(torch.__version__, torch.cuda.is_available())'
G=.gpu
chmod +x $G/nascent $G/vs_pytorch
echo "== vs_pytorch cuda (batch 256)"
timeout 150 $G/vs_pytorch --device cuda --net both --batch 256 --steps 40 --rounds 3 --threads 16 \
  --python python3 --reference bench/pytorch/reference.py --json $OUT/gpu_vs_pytorch_b256.json 2>&1 | tail -25
echo "== vs_pytorch cuda (batch 64)"
timeout 90 $G/vs_pytorch --device cuda --net nb201 --batch 64 --steps 40 --rounds 3 --threads 16 \
  --python python3 --reference bench/pytorch/reference.py --json $OUT/gpu_vs_pytorch_b64.json 2>&1 | tail -12
for m in darts gdas; do
  echo "== oneshot $m cuda"
  timeout 100 $G/nascent oneshot --method $m --space nb201 --data $G/cifar10-jpg.tar.gz --epochs 3 \
    --channels 16 --cells 5 --images-per-class 500 --device cuda --seed 0 --json \
    > $OUT/oneshot_${m}_cuda.json 2> $OUT/oneshot_${m}_cuda.log
  echo "rc=$?"; tail -c 1500 $OUT/oneshot_${m}_cuda.log
done
