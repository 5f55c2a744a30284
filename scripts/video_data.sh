#!/usr/bin/env bash
# Build the video tokenizer's training set (the recipe, never the data):  scripts/video_data.sh DATA_DIR
# Installs what it reads (Debian opencv-doc and the image recipe's wallpapers; PyAV), then runs
# scripts/video_data.py. Held-out clips (vtest.avi, box.mp4, bikes.mp4, carphone) are never written.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 DATA_DIR" >&2; exit 2; fi
SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  opencv-doc mate-backgrounds plasma-workspace-wallpapers
python -m pip install -q av Pillow scikit-image scikit-learn
cd "$(dirname "$0")/.."
python scripts/video_data.py "$1"
