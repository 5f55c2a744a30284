"""Write the image training and held-out sets from photos installed on this machine (the recipe, never
the data): scikit-image and scikit-learn sample photos, Debian mate-backgrounds and
plasma-workspace-wallpapers. Each picture is stored once (largest variant), shorter side <= 512 px.

    python scripts/image_data.py DATA_DIR     ->  DATA_DIR/train/*.png, DATA_DIR/heldout/*.png
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tokkit.codecs.image.io import read_rgb  # noqa: E402

MAX_SHORT_SIDE = 512
#: photos kept out of training, used by benchmarks/image_quality.py
HELD_OUT = {"skimage-astronaut", "skimage-coffee", "skimage-chelsea", "sklearn-china", "mate-Dune",
            "mate-LadyBird", "mate-Storm", "plasma-Path", "plasma-ColorfulCups", "plasma-Autumn"}
#: scikit-image pictures that are photographs (not charts, binary masks or synthetic patterns)
SKIMAGE_PHOTOS = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel",
                  "hubble_deep_field", "moon", "motorcycle_left", "retina", "rocket", "page", "text", "color")


def sources() -> dict[str, Path]:
    """Name -> file of every picture the recipe uses (one file per picture: the largest variant)."""
    import skimage
    import sklearn

    found: dict[str, Path] = {}
    skimage_dir = Path(skimage.__file__).parent / "data"
    for name in SKIMAGE_PHOTOS:
        for suffix in (".png", ".jpg"):
            if (skimage_dir / f"{name}{suffix}").is_file():
                found[f"skimage-{name}"] = skimage_dir / f"{name}{suffix}"
    for path in sorted((Path(sklearn.__file__).parent / "datasets" / "images").glob("*.jpg")):
        found[f"sklearn-{path.stem}"] = path
    for path in sorted(Path("/usr/share/backgrounds/mate").rglob("*")):
        if path.suffix.lower() in (".png", ".jpg"):
            name = "mate-" + path.stem.split("_")[0]
            if name not in found or path.stat().st_size > found[name].stat().st_size:
                found[name] = path
    for folder in sorted(Path("/usr/share/wallpapers").glob("*/contents")):
        for variant in ("images", "images_dark"):
            files = sorted((folder / variant).glob("*.*"), key=lambda p: p.stat().st_size)
            if files:
                found[f"plasma-{folder.parent.name}" + ("-dark" if variant == "images_dark" else "")] = files[-1]
    return found


def main(out: Path) -> None:
    found = sources()
    if len(found) < 20:
        raise SystemExit("too few pictures found: install mate-backgrounds and plasma-workspace-wallpapers "
                         "(scripts/image_data.sh) and pip install scikit-image scikit-learn")
    for name, path in sorted(found.items()):
        image = read_rgb(path)
        scale = MAX_SHORT_SIDE / min(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        split = "heldout" if name in HELD_OUT else "train"
        (out / split).mkdir(parents=True, exist_ok=True)
        image.save(out / split / f"{name}.png")
    counts = {split: len(os.listdir(out / split)) for split in ("train", "heldout")}
    print(f"{out}: {counts['train']} training and {counts['heldout']} held-out pictures")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/image_data.py DATA_DIR")
    main(Path(sys.argv[1]))
