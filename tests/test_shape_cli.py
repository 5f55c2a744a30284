"""`tokkit encode/decode` on shape files: formats, --tokens, --resolution, and bad input (one line, exit != 0,
no output file)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import tokkit

from shape_helpers import box_mesh, tiny_tokenizer, write_obj


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shape") / "tiny"
    tiny_tokenizer().save(folder)
    return folder


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl", ".off", ".glb"])
def test_mesh_formats_encode_and_decode(run_cli, model_dir, tmp_path, suffix: str) -> None:
    import trimesh

    vertices, faces = box_mesh()
    source = tmp_path / f"box{suffix}"
    trimesh.Trimesh(vertices, faces).export(source)
    code, out, err = run_cli("encode", source, "-t", model_dir, "--tokens", "10")
    assert code == 0, err
    assert b"10 tokens, 4 bits/token, 5 bytes" in out
    tokens = tokkit.load_tokens(source.with_suffix(".tok"))
    assert tokens.meta["center"] == pytest.approx([3.0, -1.0, 0.0])
    target = tmp_path / f"back{suffix if suffix != '.off' else '.obj'}"
    code, _, err = run_cli("decode", source.with_suffix(".tok"), "-t", model_dir, "-o", target, "--resolution", "12")
    assert code == 0, err
    assert target.is_file()


def test_multi_part_obj_and_point_cloud_ply(run_cli, model_dir, tmp_path) -> None:
    import trimesh

    first, second = trimesh.creation.box(), trimesh.creation.icosphere(subdivisions=1)
    second.apply_translation([3, 0, 0])
    trimesh.Scene([first, second]).export(tmp_path / "parts.glb")
    code, _, err = run_cli("encode", tmp_path / "parts.glb", "-t", model_dir)
    assert code == 0, err
    assert tokkit.load_tokens(tmp_path / "parts.tok").meta["scale"] == pytest.approx(4.5)  # box from -0.5, sphere to 4
    trimesh.PointCloud(np.random.default_rng(0).normal(size=(300, 3))).export(tmp_path / "cloud.ply")
    code, _, err = run_cli("encode", tmp_path / "cloud.ply", "-t", model_dir, "--tokens", "3")
    assert code == 0, err


def _bad_inputs(tmp_path):
    """(file, expected words in the one-line error) for each kind of bad input."""
    (tmp_path / "empty.obj").write_bytes(b"")
    (tmp_path / "novertex.obj").write_text("# a comment and nothing else\n")
    vertices, faces = box_mesh()
    vertices = vertices.copy()
    vertices[2, 1] = np.nan
    write_obj(tmp_path / "nan.obj", vertices, faces)
    write_obj(tmp_path / "point.obj", np.ones((3, 3)), np.array([[0, 1, 2]]))
    write_obj(tmp_path / "line.obj", np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]]), np.array([[0, 1, 2]]))
    (tmp_path / "huge.ply").write_text("ply\nformat binary_little_endian 1.0\nelement vertex 5000000\n"
                                       "property float x\nproperty float y\nproperty float z\n"
                                       "element face 10000000\nproperty list uchar int vertex_indices\nend_header\n")
    (tmp_path / "huge.stl").write_bytes(b"\0" * 80 + struct.pack("<I", 10_000_000) + b"\0" * 100)
    (tmp_path / "shape.fbx").write_bytes(b"Kaydara FBX Binary\0")
    (tmp_path / "corrupt.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage" * 3)
    (tmp_path / "corrupt.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    return [("empty.obj", "empty"), ("novertex.obj", "no"), ("nan.obj", "NaN"), ("point.obj", "point"),
            ("line.obj", "one line"), ("huge.ply", "10000000 faces"), ("huge.stl", "10000000 faces"),
            ("shape.fbx", "unknown shape format"), ("corrupt.glb", "cannot read"), ("corrupt.off", "")]


def test_bad_inputs_fail_with_one_line_and_no_output(run_cli, model_dir, tmp_path) -> None:
    for name, words in _bad_inputs(tmp_path):
        code, out, err = run_cli("encode", tmp_path / name, "-t", model_dir)
        assert code != 0, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, (name, err)
        assert words in lines[0], (name, lines[0])
        assert not (tmp_path / name).with_suffix(".tok").exists(), name


def test_oversized_file_is_refused_before_reading(model_dir, tmp_path, monkeypatch) -> None:
    from tokkit.codecs.shape import io
    from tokkit.errors import InputError

    vertices, faces = box_mesh()
    write_obj(tmp_path / "box.obj", vertices, faces)
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match="MiB limit"):
        io.read_shape(tmp_path / "box.obj")


def test_decode_resolution_is_checked_and_refused_for_other_modalities(run_cli, model_dir, tmp_path) -> None:
    write_obj(tmp_path / "box.obj", *box_mesh())
    code, _, err = run_cli("encode", tmp_path / "box.obj", "-t", model_dir)
    assert code == 0, err
    code, _, err = run_cli("decode", tmp_path / "box.tok", "-t", model_dir, "-o", tmp_path / "out.obj", "--resolution", "2")
    assert code != 0 and "resolution must be" in err and not (tmp_path / "out.obj").exists()
    code, _, err = run_cli("decode", tmp_path / "box.tok", "-t", model_dir, "-o", tmp_path / "out.xyz")
    assert code != 0 and "cannot write" in err and not (tmp_path / "out.xyz").exists()


def test_a_folder_of_shapes_encodes_into_shards(run_cli, model_dir, tmp_path) -> None:
    import trimesh

    folder = tmp_path / "in"
    folder.mkdir()
    write_obj(folder / "box.obj", *box_mesh())
    trimesh.creation.icosphere(subdivisions=1).export(folder / "ball.stl")
    code, _, err = run_cli("encode", folder, "--out-dir", tmp_path / "shards", "-t", model_dir)
    assert code == 0, err
    manifest = __import__("json").loads((tmp_path / "shards" / "manifest.json").read_text())
    assert manifest["modality"] == "shape" and manifest["totals"]["items"] == 2
