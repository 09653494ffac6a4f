"""One training loop: state, batches, steps, callbacks, checkpoints, MPI strategy."""
