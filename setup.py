"""Build hook for the compiled pieces: tokkit.quant._kernels, tokkit.nn._snake, tokkit.nn._elu and tokkit.nn._window_dot
(plain C, the system compiler).

``optional=True``: where no C compiler is found the install still succeeds and tokkit.quant runs the
same search in torch (see tokkit/quant/nearest.py), Snake in torch ops (tokkit/nn/snakenet.py), ELU as torch's and
one-output-channel convolutions in oneDNN (tokkit/nn/layout.py). Everything else lives in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tokkit.quant._kernels",
            sources=["tokkit/quant/_kernels.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(  # the vectorised ELU of tokkit.nn.seanet (torch's ELU when it is absent)
            "tokkit.nn._elu",
            sources=["tokkit/nn/_elu.c"],
            depends=["tokkit/nn/_clones.h"],
            extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math"],
            optional=True,
        ),
        Extension(  # the fused Snake activation of tokkit.nn.snakenet (torch ops when it is absent)
            "tokkit.nn._snake",
            sources=["tokkit/nn/_snake.c"],
            extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math"],
            optional=True,
        ),
        Extension(  # one-output-channel convolutions of tokkit.nn.layout (oneDNN's when it is absent)
            "tokkit.nn._window_dot",
            sources=["tokkit/nn/_window_dot.c"],
            depends=["tokkit/nn/_clones.h"],
            extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-Wno-psabi"],
            optional=True,
        ),
    ]
)
