"""1D image tokenizer (TiTok / One-D-Piece family): ViT encoder -> FSQ tokens -> ViT decoder from any prefix.

Import :class:`tokkit.codecs.image.tokenizer.ImageTokenizer` or use ``tokkit.load("image")``.
"""
