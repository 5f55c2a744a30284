"""3D shape tokenizer (3DShape2VecSet family): surface points -> latent set by cross-attention ->
residual-quantized tokens -> occupancy field queried at any point -> mesh by marching cubes.

Use ``tokkit.load("shape")`` or :class:`tokkit.codecs.shape.tokenizer.ShapeTokenizer`.
"""
