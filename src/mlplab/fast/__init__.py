"""The NumPy speed path for the same equations as core/ (in-place kernels, BLAS)."""
