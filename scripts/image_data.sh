#!/usr/bin/env bash
# Build the image training and held-out sets for tokkit's image tokenizer (the recipe, never the data).
#
#   scripts/image_data.sh DATA_DIR      ->  DATA_DIR/train/, DATA_DIR/heldout/
#
# Installs what it reads (Debian wallpaper packages need root or sudo; scikit-image and scikit-learn
# wheels carry sample photos), then runs scripts/image_data.py.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 DATA_DIR" >&2; exit 2; fi
SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  mate-backgrounds plasma-workspace-wallpapers
python -m pip install -q Pillow scikit-image scikit-learn
cd "$(dirname "$0")/.."
python scripts/image_data.py "$1"
