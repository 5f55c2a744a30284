#!/usr/bin/env bash
# Build the speech training set for tokkit's audio codec (the recipe, never the data).
#
#   scripts/audio_data.sh DATA_DIR
#
# Installs the Debian packages it reads (needs root or sudo), then writes 24 kHz mono wav
# segments into DATA_DIR: asterisk prompt packs (five real speakers, with speed-perturbed copies),
# klettres-data (letters and syllables spoken by people in 20 languages) and espeak-ng speech in
# many voices, languages, pitches and speeds. LibriVox clips (pocketsphinx-testdata) and the
# alsa-utils clips are NOT used: they are the held-out evaluation set.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 DATA_DIR" >&2; exit 2; fi
SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722 \
  asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722 klettres-data espeak-ng
python -m pip install -q "g722>=1.2"
cd "$(dirname "$0")/.."
python scripts/audio_data.py "$1"
