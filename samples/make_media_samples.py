"""Render the project's own video and 3D samples (no third-party media), for ``tokkit compare`` and the
video / 3D tokenizers:

- samples/clip.mp4: 2 s at 16 fps, 96x64, a sun crossing a sky over drifting hills (lossless H.264);
- samples/house.obj: a small house (a box, a gabled roof and a chimney) as a closed triangle mesh.

    python samples/make_media_samples.py
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FRAMES, FPS = 96, 64, 32, 16.0


def frame(t: float) -> np.ndarray:
    """One (H, W, 3) uint8 frame at time t in [0, 1)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    sky = (1 - y[..., None] / HEIGHT) * np.array([70, 130, 210]) + (y[..., None] / HEIGHT) * np.array([250, 200, 150])
    image = sky.copy()
    sun_x, sun_y = 10 + 76 * t, 14 + 6 * np.sin(np.pi * t)
    image[(x - sun_x) ** 2 + (y - sun_y) ** 2 < 49] = [255, 220, 90]
    hills = 44 + 6 * np.sin(x / 11 + 2 * np.pi * t) + 3 * np.sin(x / 5 - 4 * np.pi * t)
    image[y > hills] = [60, 140, 70]
    image[(x > 20) & (x < 36) & (y > 40) & (y < 56)] = [200, 80, 60]
    return np.clip(image, 0, 255).astype(np.uint8)


def house() -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) of a closed house: box walls, a gabled roof and a chimney."""
    import trimesh

    walls = trimesh.creation.box(extents=(2.0, 1.2, 1.5))
    roof_vertices = np.array([[-1.1, 0.6, -0.85], [1.1, 0.6, -0.85], [1.1, 0.6, 0.85], [-1.1, 0.6, 0.85],
                              [-1.1, 1.4, 0.0], [1.1, 1.4, 0.0]])
    roof_faces = np.array([[0, 1, 5], [0, 5, 4], [2, 3, 4], [2, 4, 5], [0, 4, 3], [1, 2, 5], [0, 3, 2], [0, 2, 1]])
    roof = trimesh.Trimesh(roof_vertices, roof_faces)
    roof.fix_normals()
    chimney = trimesh.creation.box(extents=(0.25, 0.7, 0.25))
    chimney.apply_translation((0.55, 1.25, 0.3))
    mesh = trimesh.util.concatenate([walls, roof, chimney])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


if __name__ == "__main__":
    from tokkit.codecs.shape.io import write_shape
    from tokkit.codecs.video.io import write_video

    write_video(iter(frame(i / FRAMES) for i in range(FRAMES)), HERE / "clip.mp4", FPS, WIDTH, HEIGHT)
    vertices, faces = house()
    (HERE / "house.obj").write_bytes(write_shape(vertices, faces, HERE / "house.obj"))
    print("wrote samples/clip.mp4 and samples/house.obj")
