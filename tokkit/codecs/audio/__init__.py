"""Neural speech codec (Vocos/WavTokenizer family): STFT encoder -> FSQ -> ConvNeXt -> iSTFT head.

Import :class:`tokkit.codecs.audio.tokenizer.AudioTokenizer` or use ``tokkit.load("audio")``.
"""
