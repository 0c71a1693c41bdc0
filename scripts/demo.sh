#!/usr/bin/env bash
# Install ganforget into .venv and run the main job on built-in defaults: a short
# 8-Gaussians run (GAN-R1 + Adam, 3 seeds at once) that leaves figures in runs/demo/figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf runs/demo
.venv/bin/ganforget train --out runs/demo "$@"
echo "figures: $(pwd)/runs/demo/figures"
