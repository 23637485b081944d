#!/usr/bin/env bash
# Issue 5 on the GPU: DARTS, GDAS and SPOS on the NB201 space, CIFAR-10 JPEGs, 3 seeds each, all
# nine at once on one H200 (each run is launch-bound, so they share the GPU well).
set -uo pipefail
TL="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
export LD_LIBRARY_PATH="$TL"
G=.gpu; chmod +x $G/nascent
mkdir -p /tmp/os
T=/work/main/../shared/data/nb201/nb201.csv
run() { # method epochs seed
  timeout 430 $G/nascent oneshot --method $1 --space nb201 --data $G/cifar10-jpg.tar.gz --epochs $2 \
    --channels 16 --cells 5 --images-per-class 1000 --device cuda --threads 1 --seed $3 --json \
    > /tmp/os/$1_s$3.json 2> /tmp/os/$1_s$3.log
  echo "$1 seed $3 rc=$?" >> /tmp/os/rc.txt
}
for s in 0 1 2; do
  run gdas 30 $s & run spos 30 $s & run darts 12 $s &
done
sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
wait
cat /tmp/os/rc.txt
tar czf $OUT/oneshot_gpu.tgz -C /tmp os
for f in /tmp/os/*.log; do echo "== $f"; grep -a "^epoch" $f | tail -2; grep -a "arch " $f | tail -1; done
