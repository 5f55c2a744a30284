#!/usr/bin/env bash
# Regenerate the project's own sample audio (espeak-ng speaking our sentence; no third-party media).
#   samples/make_samples.sh        (needs: apt-get install espeak-ng)
set -euo pipefail
cd "$(dirname "$0")"
espeak-ng -v en-us+m3 -s 150 -p 45 -w speech.wav \
  "Hello from tokkit. This sentence becomes fifty tokens per second, and comes back as speech."
