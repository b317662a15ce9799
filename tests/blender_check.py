"""Import a glTF export into Blender (the ``bpy`` module) and print what it found as one JSON line.

Usage: ``PYTHON_WITH_BPY tests/blender_check.py FILE.gltf``. Run by
tests/test_export_blender.py in the interpreter that has ``bpy``, which need
not have proxymat. Reports, in Blender's Z-up world: the plane's face normal,
the world directions of the image's top and right edges, the tangent
frame's handedness, and which image (and channel) feeds each Principled BSDF input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import bpy


def _source(socket) -> dict | None:
    """Follow a linked input back to its image, through Separate Color / Normal Map nodes."""
    if not socket.is_linked:
        return None
    link = socket.links[0]
    node, out = link.from_node, link.from_socket.name
    found: dict = {"via": [], "channel": None}
    while node.type != "TEX_IMAGE":
        found["via"].append(node.type)
        if node.type in ("SEPARATE_COLOR", "SEPARATE_RGB"):
            found["channel"] = out
        upstream = node.inputs["Color"] if "Color" in node.inputs else node.inputs[0]
        if not upstream.is_linked:
            return found
        node, out = upstream.links[0].from_node, upstream.links[0].from_socket.name
    found["image"] = Path(node.image.filepath).name
    found["colorspace"] = node.image.colorspace_settings.name
    return found


def main(path: str) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=path)
    (obj,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    mesh = obj.data
    world = obj.matrix_world
    normals = [list((world.to_3x3() @ p.normal).normalized()) for p in mesh.polygons]
    uv = mesh.uv_layers.active.data
    corners = {loop.vertex_index: (world @ mesh.vertices[loop.vertex_index].co, uv[loop.index].uv)
               for loop in mesh.loops}

    def mean_position(keep) -> list[float]:
        chosen = [pos for pos, tex in corners.values() if keep(tex)]
        return [sum(p[i] for p in chosen) / len(chosen) for i in range(3)]

    # Blender's v = 1 is the image's top row
    image_up = [a - b for a, b in zip(mean_position(lambda t: t[1] > 0.5), mean_position(lambda t: t[1] < 0.5))]
    image_right = [a - b for a, b in zip(mean_position(lambda t: t[0] > 0.5), mean_position(lambda t: t[0] < 0.5))]
    (material,) = mesh.materials
    (bsdf,) = [n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED"]
    output_linked = any(link.from_node == bsdf for link in material.node_tree.links)
    mesh.calc_tangents()
    frames = [(list(loop.tangent), loop.bitangent_sign) for loop in mesh.loops]
    return {
        "blender": bpy.app.version_string,
        "face_normals": normals,
        "image_up": image_up,
        "image_right": image_right,
        "bitangent_signs": sorted({sign for _, sign in frames}),
        "bsdf_to_output": output_linked,
        "inputs": {name: _source(bsdf.inputs[name]) for name in ("Base Color", "Metallic", "Roughness", "Normal")},
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
