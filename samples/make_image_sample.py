"""Render the project's own sample picture (samples/shapes.png): a sky gradient, a sun, hills, a house
and a caption, drawn with numpy and Pillow; no third-party media.

    python samples/make_image_sample.py
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 192, 128


def render() -> Image.Image:
    y = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    sky = (1 - y) * np.array([70, 130, 210]) + y * np.array([250, 200, 150])
    canvas = Image.fromarray(np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((130, 14, 166, 50), fill=(255, 220, 90))
    draw.polygon([(0, 96), (40, 70), (90, 92), (140, 66), (192, 88), (192, 128), (0, 128)], fill=(60, 140, 70))
    draw.rectangle((30, 78, 66, 108), fill=(200, 80, 60))
    draw.polygon([(26, 80), (48, 60), (70, 80)], fill=(110, 50, 40))
    draw.rectangle((43, 92, 53, 108), fill=(90, 60, 40))
    draw.text((92, 104), "tokkit", fill=(255, 255, 255), font=ImageFont.load_default(size=16))
    return canvas


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "shapes.png"
    render().save(target, optimize=True)
    print(f"{target}: {target.stat().st_size} bytes")
