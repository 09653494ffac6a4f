"""The files here are programs for ``mpiexec`` (run by tests/test_distributed.py), not
test modules: importing one would initialize MPI inside pytest. Collect none of them."""

collect_ignore_glob = ["*.py"]
