"""Build hook for the one compiled piece: tokkit.quant._kernels (plain C, the system compiler).

``optional=True``: where no C compiler is found the install still succeeds and tokkit.quant runs the
same search in torch (see tokkit/quant/nearest.py). Everything else lives in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tokkit.quant._kernels",
            sources=["tokkit/quant/_kernels.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
