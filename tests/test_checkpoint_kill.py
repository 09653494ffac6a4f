"""A training process killed with SIGKILL at random moments resumes to the exact result."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mlplab.train.checkpoint import checkpoint_files, read_checkpoint

TOTAL_STEPS = 60 * 38  # 60 epochs of ceil(600 / 16) = 38 mini-batches

# The same run in the parent (reference) and in the child processes (killed, resumed).
# The child prints its step count every few updates, so the parent can pick the moment.
RUN = """
import json, sys
import numpy as np
import mlplab


class Report(mlplab.Callback):
    def on_batch_end(self, batch, logs):
        if self.trainer.step % 5 == 0:
            print(self.trainer.step, flush=True)


def train(checkpoint=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 10))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    net = mlplab.Network([10, 32, 32, 1], seed=0)
    callbacks = [mlplab.GradientNormLogger()]
    kw = {}
    if checkpoint is not None:
        callbacks.append(Report())
        kw = {"checkpoint": checkpoint, "checkpoint_every": 25, "resume": True}
    hist = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.adam(0.01), epochs=60,
                      batch_size=16, seed=1, callbacks=callbacks, **kw)
    return net.get_flat_params(), hist.history


if __name__ == "__main__":
    ckpt, out = sys.argv[1], sys.argv[2]
    theta, history = train(ckpt)
    np.save(out + ".npy", theta)
    with open(out + ".json", "w") as f:
        json.dump(history, f)
    print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_weights(tmp_path):
    script = tmp_path / "fuzz_run.py"
    script.write_text(RUN)
    namespace: dict = {}
    exec(compile(RUN, str(script), "exec"), namespace)
    ref_theta, ref_history = namespace["train"]()

    ckpt = tmp_path / "ckpt"
    out = tmp_path / "result"
    rng = np.random.default_rng(2024)
    # Kill after a random number of steps plus a random delay of up to 20 ms, which
    # lands anywhere: inside a step, inside a checkpoint write, between its renames.
    targets = sorted(rng.choice(np.arange(10, TOTAL_STEPS - 400), size=4, replace=False))
    resumed_from, killed_at = [], []
    for target in targets:
        child = subprocess.Popen(
            [sys.executable, str(script), str(ckpt), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        step = first = None
        for line in child.stdout:
            step = int(line)
            first = step if first is None else first
            if step >= target:
                break
        assert step is not None and step >= target, child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.02))
        assert child.poll() is None  # still training: TOTAL_STEPS is well past the target
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL
        resumed_from.append(first)
        killed_at.append(step)
    final = subprocess.run(
        [sys.executable, str(script), str(ckpt), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr
    assert final.stdout.split()[-1] == "done"

    # Each run started from a checkpoint written by the run before it (at most two
    # checkpoints back: the newest may have been cut by the kill).
    assert resumed_from[0] == 5
    for before, after in zip(killed_at[:-1], resumed_from[1:], strict=True):
        assert after > before - 2 * 25
    newest, prev = checkpoint_files(ckpt)
    assert read_checkpoint(newest).step == TOTAL_STEPS
    assert sorted(p.name for p in ckpt.iterdir()) == [newest.name, prev.name]  # no .tmp left
    theta = np.load(str(out) + ".npy")
    history = json.loads((tmp_path / "result.json").read_text())
    np.testing.assert_array_equal(theta, ref_theta)
    assert history == ref_history
