#!/usr/bin/env bash
# The CUDA check: run on a machine with an NVIDIA GPU, from the repository root, after `make env`.
# It prints figures and stops at the first failure; about 5 minutes on one GPU.
#   1. torch sees the GPU (name, memory, torch and CUDA versions);
#   2. the tests that take a device: a network trained on CUDA ends where it ends on the CPU,
#      every tensor stays on the device, a CUDA request is honoured (tests/test_train.py, test_model.py);
#   3. a small real sweep with --device cuda (4 values of p x 2 seeds, both architectures, every metric,
#      through the store), timed, and its table's accuracies printed;
#   4. the throughput benchmark's batched trainer on CUDA at E = 1, 10, 100 (network-epochs per second),
#      and at E = 100 with TF32 products (train.matmul=tf32) where the GPU has them (Ampere or later).
# Usage: bash benchmarks/cuda_check.sh [OUT]   (OUT: where the sweep's store goes; default a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-$(mktemp -d)}

echo "== 1. the device"
"$PY" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("no CUDA device: torch.cuda.is_available() is False (this check needs a GPU)")
props = torch.cuda.get_device_properties(0)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {props.name}, {props.total_memory / 2**30:.0f} GiB")
EOF

echo "== 2. tests that take a device"
"$PY" -m pytest -q -p no:cacheprovider tests/test_train.py tests/test_model.py -k "cuda or device"

echo "== 3. a small sweep on CUDA"
start=$(date +%s)
"$PY" -m modlib sweep --profile quick --p 1e-4 1e-2 0.1 1 --seeds 2 --n-train 5000 --n-test 1000 --epochs 2 \
  --bottleneck-epochs 2 --set metrics.n_pairs=1000 --device cuda --out "$OUT/cuda_sweep" --quiet
echo "sweep wall time: $(( $(date +%s) - start )) s"
"$PY" - "$OUT/cuda_sweep/results.csv" <<'EOF'
import sys
import pandas as pd
t = pd.read_csv(sys.argv[1])
assert set(t["device"]) == {"cuda"}, set(t["device"])
nets = t.drop_duplicates(["network", "architecture"])
print(nets.pivot_table(index="n_conn", columns="architecture", values="accuracy", aggfunc="median").round(3))
EOF

echo "== 4. throughput on CUDA"
"$PY" benchmarks/train_throughput.py --device cuda --sizes 1 10 100
if "$PY" -c "import sys, torch; sys.exit(torch.cuda.get_device_capability(0) < (8, 0))"; then
  "$PY" benchmarks/train_throughput.py --device cuda --sizes 100 --matmul tf32
else
  echo "(no TF32 on this GPU: compute capability below 8.0)"
fi
