# Imports a GLB with Blender's own glTF importer (background mode) and prints what a
# Blender user would see, as one JSON line starting with "IMG23D_BLENDER ".
#
#   blender -b --factory-startup --python tests/viewers/blender_check.py -- FILE.glb [RENDER.png SIZE SAMPLES]
#
# The line holds: Blender's version, every mesh object
# (vertex/face counts, UV map names, world-space bounding box and support function in
# Blender's Z-up frame),
# and per material whether Principled BSDF's Base Color is linked to an Image Texture
# node (its image size, the UV map feeding it), with metallic and roughness values.
# With RENDER.png, it also renders the scene with Cycles on the CPU from the front
# (Blender -Y, which is glTF +Z) looking at the object's bounding box centre, on a
# transparent background, SIZE x SIZE pixels with SAMPLES samples, and lights it with a
# sun from the camera side plus a grey world.
# Blender's glTF importer needs NumPy (Debian: python3-numpy, which the blender package does
# not pull in).
# Exit status 0 when the import worked (and the render was written when asked).
import json
import sys

import bpy
import numpy
from mathutils import Vector

# Debian 12 pairs Blender 3.4.1 with NumPy 1.24, which removed the `numpy.bool` alias
# that Blender 3.4's glTF importer still uses (set_poly_smoothing): without it the import
# fails with "module 'numpy' has no attribute 'bool'". Restore the alias (it was `bool`).
if "bool" not in numpy.__dict__:
    numpy.bool = bool

args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
if not args:
    print("usage: blender -b --python blender_check.py -- FILE.glb [RENDER.png SIZE SAMPLES]")
    sys.exit(2)
glb = args[0]

# Start from an empty scene: no default cube, camera or light.
bpy.ops.wm.read_factory_settings(use_empty=True)

result = bpy.ops.import_scene.gltf(filepath=glb)
if "FINISHED" not in result:
    print("IMG23D_BLENDER " + json.dumps({"error": f"import returned {sorted(result)}"}))
    sys.exit(1)

meshes = []
lo = Vector((float("inf"),) * 3)
hi = Vector((float("-inf"),) * 3)
for obj in bpy.context.scene.objects:
    if obj.type != "MESH":
        continue
    me = obj.data
    mw = obj.matrix_world
    olo = Vector((float("inf"),) * 3)
    ohi = Vector((float("-inf"),) * 3)
    for v in me.vertices:
        w = mw @ v.co
        for k in range(3):
            olo[k] = min(olo[k], w[k])
            ohi[k] = max(ohi[k], w[k])
    for k in range(3):
        lo[k] = min(lo[k], olo[k])
        hi[k] = max(hi[k], ohi[k])
    co = numpy.empty(len(me.vertices) * 3, dtype=numpy.float64)
    me.vertices.foreach_get("co", co)
    world = co.reshape(-1, 3) @ numpy.array(mw.to_3x3()).T + numpy.array(mw.translation)
    meshes.append({
        "name": obj.name,
        "vertices": len(me.vertices),
        "faces": len(me.polygons),
        "triangles": sum(1 for p in me.polygons if len(p.vertices) == 3),
        "uv_maps": [uv.name for uv in me.uv_layers],
        "color_attributes": [a.name for a in getattr(me, "color_attributes", [])],
        "materials": [m.name for m in me.materials if m],
        "bbox_min": list(olo),
        "bbox_max": list(ohi),
        # Support function max(d . v) over the world-space vertices, for the 26 directions
        # d in {-1, 0, 1}^3 \ {0}: [dx, dy, dz, value].
        "support": [
            [dx, dy, dz, float((world @ numpy.array([dx, dy, dz], dtype=numpy.float64)).max())]
            for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
            if (dx, dy, dz) != (0, 0, 0)
        ],
    })


def upstream(socket):
    """The node linked into `socket`, or None."""
    return socket.links[0].from_node if socket.is_linked else None


materials = []
for mat in bpy.data.materials:
    if not mat.use_nodes:
        materials.append({"name": mat.name, "use_nodes": False})
        continue
    bsdf = next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    entry = {"name": mat.name, "use_nodes": True, "principled": bsdf is not None}
    if bsdf is not None:
        base = bsdf.inputs["Base Color"]
        node = upstream(base)
        entry["base_color_linked"] = node is not None
        entry["base_color_node"] = node.type if node is not None else None
        if node is not None and node.type == "TEX_IMAGE" and node.image is not None:
            img = node.image
            entry["image"] = {
                "name": img.name,
                "size": list(img.size),
                "packed": img.packed_file is not None,
                "colorspace": img.colorspace_settings.name,
                "has_data": img.has_data or img.size[0] > 0,
            }
            vec = upstream(node.inputs["Vector"])
            entry["uv_node"] = vec.type if vec is not None else None
            entry["uv_map"] = vec.uv_map if vec is not None and vec.type == "UVMAP" else None
        entry["metallic"] = bsdf.inputs["Metallic"].default_value
        entry["metallic_linked"] = bsdf.inputs["Metallic"].is_linked
        entry["roughness"] = bsdf.inputs["Roughness"].default_value
        entry["roughness_linked"] = bsdf.inputs["Roughness"].is_linked
    materials.append(entry)

out = {
    "blender": bpy.app.version_string,
    "meshes": meshes,
    "bbox_min": list(lo),
    "bbox_max": list(hi),
    "materials": materials,
}

if len(args) >= 2 and meshes:
    path, size, samples = args[1], int(args[2]), int(args[3])
    scene = bpy.context.scene
    centre = (lo + hi) / 2
    extent = max(hi - lo)
    # Front camera: glTF +Z is Blender -Y, so the camera sits on -Y looking along +Y.
    cam_data = bpy.data.cameras.new("front")
    cam_data.lens_unit = "FOV"
    cam_data.angle = 0.7
    cam = bpy.data.objects.new("front", cam_data)
    scene.collection.objects.link(cam)
    cam.location = centre + Vector((0.0, -1.9 * extent, 0.0))
    cam.rotation_euler = (centre - cam.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    sun_data = bpy.data.lights.new("sun", "SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("sun", sun_data)
    scene.collection.objects.link(sun)
    sun.rotation_euler = (centre - (cam.location + Vector((1.0, 0.0, 2.0)))).to_track_quat("-Z", "Y").to_euler()
    world = bpy.data.worlds.new("grey")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.5, 0.5, 0.5, 1.0)
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.film_transparent = True
    scene.render.resolution_x = size
    scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    out["render"] = path

print("IMG23D_BLENDER " + json.dumps(out))
