"""Build of the optional compiled record path (virnucpro._prep); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and `prepare` uses the numpy path.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("virnucpro._prep", ["src/virnucpro/_prep.c"], optional=True,
                             extra_compile_args=["-O3", "-std=c99", "-Wall"])])
