"""Prints NumPy's version and the OpenBLAS kernel family it picked at run time (it decides NumPy's GEMM
speed: e.g. "Haswell" = AVX2 only, "SkylakeX"/"SapphireRapids" = AVX-512)."""

import ctypes

import numpy

core = "?"
with open("/proc/self/maps") as maps:
    for line in maps:
        if "openblas" in line:
            lib = ctypes.CDLL(line.split()[-1])
            for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"):
                if hasattr(lib, name):
                    getattr(lib, name).restype = ctypes.c_char_p
                    core = getattr(lib, name)().decode()
                    break
            break
print(f"{numpy.__version__} (OpenBLAS kernels: {core})")
