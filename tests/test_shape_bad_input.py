"""Shape inputs that must be refused before they cost memory (10-million-face OBJ / glb files), glTF triangle
strips and fans, and degenerate shapes (a point, a line, a flat sheet): one line, exit != 0, no output."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import tokkit

from shape_helpers import tiny_tokenizer, write_obj


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shape") / "tiny"
    tiny_tokenizer().save(folder)
    return folder


def write_glb(path, positions: np.ndarray, indices: np.ndarray | None = None, mode: int = 4,
              announced_indices: int | None = None) -> None:
    """A minimal glb: one mesh of one primitive (``mode``: 4 triangles, 5 strip, 6 fan) on one node;
    ``announced_indices`` makes the JSON claim that many indices (the buffer holds only ``indices``)."""
    positions = np.asarray(positions, dtype="<f4")
    blob = positions.tobytes()
    accessors = [{"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
                  "min": positions.min(0).tolist(), "max": positions.max(0).tolist()}]
    views = [{"buffer": 0, "byteOffset": 0, "byteLength": len(blob)}]
    primitive = {"attributes": {"POSITION": 0}, "mode": mode}
    if indices is not None:
        data = np.asarray(indices, dtype="<u4").tobytes()
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        accessors.append({"bufferView": 1, "componentType": 5125, "type": "SCALAR",
                          "count": announced_indices if announced_indices is not None else len(indices)})
        primitive["indices"] = 1
        blob += data
    tree = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [primitive]}], "accessors": accessors, "bufferViews": views,
            "buffers": [{"byteLength": len(blob)}]}
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    blob += b"\0" * (-len(blob) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(blob), b"BIN\0") + blob
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)


def tube_strip() -> np.ndarray:
    """Ten vertices whose triangle strip wraps the four sides of a box (an open tube: a 3D shape)."""
    corners = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    return np.array([(x, y, z) for x, y in corners for z in (0.0, 2.0)])


def expect_refusal(run_cli, model_dir, path, words: str) -> str:
    code, _, err = run_cli("encode", path, "-t", model_dir)
    lines = err.strip().splitlines()
    assert code != 0, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert words in lines[0], lines[0]
    assert not path.with_suffix(".tok").exists()
    return lines[0]


@pytest.fixture
def no_trimesh_parse(monkeypatch):
    """Make any trimesh parse fail the test: the refusals below must come before it."""
    import trimesh

    def refuse(*args, **kwargs):
        raise AssertionError("trimesh was asked to parse a file that should have been refused before")

    monkeypatch.setattr(trimesh, "load", refuse)


def test_an_obj_with_ten_million_faces_is_refused_before_parsing(run_cli, model_dir, tmp_path, no_trimesh_parse) -> None:
    path = tmp_path / "huge.obj"
    path.write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 10_000_000)  # 80 MB, written in well under 1 s
    line = expect_refusal(run_cli, model_dir, path, "10000000 faces")
    assert "limit" in line


def test_obj_face_lines_are_counted_across_chunk_boundaries(tmp_path, monkeypatch) -> None:
    from tokkit.codecs.shape import io

    text = "# f not a face\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf\t1 3 2\nvn 0 0 1\nf 1//1 2//1 3//1\n" * 7
    (tmp_path / "m.obj").write_text("f 1 2 3\n" + text)
    for chunk in (1, 2, 3, 5, 64, 1 << 20):
        monkeypatch.setattr(io, "_SCAN_CHUNK", chunk)
        assert io._obj_face_lines(tmp_path / "m.obj") == 1 + 3 * 7, chunk


def test_a_glb_announcing_ten_million_faces_is_refused_before_parsing(run_cli, model_dir, tmp_path, no_trimesh_parse) -> None:
    path = tmp_path / "huge.glb"
    write_glb(path, tube_strip(), np.arange(9), announced_indices=30_000_000)
    expect_refusal(run_cli, model_dir, path, "10000000 faces")
    path = tmp_path / "strip.glb"  # a strip of 10 million + 2 indices is 10 million triangles too
    write_glb(path, tube_strip(), np.arange(9), mode=5, announced_indices=10_000_002)
    expect_refusal(run_cli, model_dir, path, "10000000 faces")


def oriented(faces: np.ndarray) -> list[tuple[int, ...]]:
    """Faces as sorted oriented triangles: each rotated to start at its smallest index (winding kept)."""
    return sorted(tuple(np.roll(f, -int(np.argmin(f))).tolist()) for f in np.asarray(faces))


def test_glb_triangle_strips_read_as_the_same_oriented_triangles(model_dir, tmp_path) -> None:
    from tokkit.codecs.shape.io import read_shape

    vertices = tube_strip()
    # the OpenGL strip rule: triangle i is (i, i+1, i+2), every odd one as (i+1, i, i+2) to keep the winding
    faces = np.array([(i, i + 1, i + 2) if i % 2 == 0 else (i + 1, i, i + 2) for i in range(len(vertices) - 2)])
    write_glb(tmp_path / "strip.glb", vertices, np.arange(len(vertices)), mode=5)
    write_glb(tmp_path / "strip_no_indices.glb", vertices, None, mode=5)
    for name in ("strip.glb", "strip_no_indices.glb"):
        shape = read_shape(tmp_path / name)
        assert np.allclose(shape.vertices, vertices)
        assert oriented(shape.faces) == oriented(faces), name
    tokenizer = tokkit.load(model_dir, device="cpu")
    assert len(tokenizer.encode_file(tmp_path / "strip.glb").codes) == tokenizer.max_tokens


def test_glb_triangle_fans_are_refused_in_one_line(run_cli, model_dir, tmp_path) -> None:
    path = tmp_path / "fan.glb"
    write_glb(path, np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]]), np.arange(5), mode=6)
    expect_refusal(run_cli, model_dir, path, "triangle fans")


@pytest.mark.parametrize("name, vertices, faces, words", [
    ("point", np.full((4, 3), 2.5), [[0, 1, 2], [0, 2, 3]], "single point"),
    ("collinear", [[0, 0, 0], [1, 1, 1], [3, 3, 3], [7, 7, 7]], [[0, 1, 2], [1, 2, 3]], "one line"),
    ("square", [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]], "flat"),
    ("tilted_square", np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]) @ [[0.6, 0.8, 0], [-0.8, 0.6, 0], [0, 0, 1]]
     @ [[1, 0, 0], [0, 0.28, 0.96], [0, -0.96, 0.28]] + 1000, [[0, 1, 2], [0, 2, 3]], "flat"),
])
def test_degenerate_shapes_are_refused_in_one_line(run_cli, model_dir, tmp_path, name, vertices, faces, words) -> None:
    write_obj(tmp_path / f"{name}.obj", np.asarray(vertices, dtype=float), np.asarray(faces))
    line = expect_refusal(run_cli, model_dir, tmp_path / f"{name}.obj", words)
    if words != "single point":
        assert "codes solids and surfaces with thickness" in line


def test_a_flat_point_cloud_is_refused_and_a_thin_rug_encodes(run_cli, model_dir, tmp_path) -> None:
    import trimesh

    grid = np.random.default_rng(0).uniform(0, 1, (200, 3)) * [1, 1, 0]
    np.savetxt(tmp_path / "sheet.xyz", grid)
    expect_refusal(run_cli, model_dir, tmp_path / "sheet.xyz", "flat")
    rug = trimesh.creation.box(extents=(2.0, 3.0, 0.005))  # thin (1/600 of its length) but a real solid
    write_obj(tmp_path / "rug.obj", np.asarray(rug.vertices), np.asarray(rug.faces))
    code, _, err = run_cli("encode", tmp_path / "rug.obj", "-t", model_dir)
    assert code == 0, err
    assert tokkit.load_tokens(tmp_path / "rug.tok").meta["scale"] == pytest.approx(3.0)


def test_truncated_and_garbage_files_are_refused_in_one_line(run_cli, model_dir, tmp_path) -> None:
    import trimesh

    box = trimesh.creation.box()
    for suffix in (".ply", ".stl", ".glb"):
        data = box.export(file_type=suffix[1:])
        (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
        expect_refusal(run_cli, model_dir, tmp_path / f"cut{suffix}", "")
    (tmp_path / "noise.ply").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    expect_refusal(run_cli, model_dir, tmp_path / "noise.ply", "")
    (tmp_path / "words.obj").write_text("this is not a mesh\njust words\n")
    expect_refusal(run_cli, model_dir, tmp_path / "words.obj", "")
    (tmp_path / "mesh.3ds").write_bytes(b"MM\x00\x00")
    expect_refusal(run_cli, model_dir, tmp_path / "mesh.3ds", "")
