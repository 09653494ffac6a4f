# %% [markdown]
# # 6. Gradient descent, mini-batches, momentum and Adam
#
# - **Batch gradient descent**: one step per epoch, on the gradient over all n samples.
# - **Mini-batch gradient descent**: shuffle, cut the n samples into batches of |B|, one step
#   per batch: n/|B| noisier but much cheaper steps per epoch.
# - **Momentum** (the lecture's form): v = βv + (1 − β) dW, W = W − αv — an exponentially
#   weighted average of the recent gradients, which damps the zig-zag across a valley.
# - **Adam**: momentum's average v *and* an average s of the squared gradients,
#   bias-corrected, W = W − α v̂ / (√ŝ + ε): a step size per parameter.
#
# In mlplab each optimizer is a pair of pure functions, `init(params)` and
# `update(grads, state, params)`; `mlplab.fit` calls them once per batch.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import mlplab

X, y = mlplab.load_dataset("moons", n_samples=1000, noise=0.2)
std = mlplab.Standardizer().fit(X)
runs = {
    "batch GD (α = 0.5)": (mlplab.optimizers.sgd(0.5), None),
    "mini-batch GD (α = 0.5, |B| = 32)": (mlplab.optimizers.sgd(0.5), 32),
    "momentum (α = 0.5, β = 0.9, |B| = 32)": (mlplab.optimizers.momentum(0.5, beta=0.9), 32),
    "Adam (α = 0.01, |B| = 32)": (mlplab.optimizers.adam(0.01), 32),
}
curves = {}
for name, (opt, batch) in runs.items():
    net = mlplab.Network([2, 16, 8, 1], hidden="tanh", standardizer=std, seed=0)
    start = time.perf_counter()
    history = mlplab.fit(net, X, y, optimizer=opt, epochs=60, batch_size=batch, seed=0)
    seconds = time.perf_counter() - start
    curves[name] = history.history["loss"]
    print(f"{name:<40} J = {curves[name][-1]:.4f}  accuracy {net.score(X, y):.3f}  "
          f"({seconds:.2f} s)")

fig, ax = plt.subplots(figsize=(7, 4))
for name, loss in curves.items():
    ax.plot(loss, label=name)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("cost J")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Per epoch, mini-batches win by far: 32 steps instead of one, for the same amount of
# arithmetic. Adam gets there with a learning rate 50 times smaller, because it scales each
# parameter's step by its own gradient history.
#
# ## One step, by hand
#
# The optimizers are plain functions, so one step can be followed on paper:

# %%
params = [(np.array([[1.0, -1.0]]), np.array([0.0]))]
grads = [(np.array([[0.5, -2.0]]), np.array([1.0]))]
opt = mlplab.optimizers.momentum(lr=0.1, beta=0.9)
state = opt.init(params)
for step in range(3):
    updates, state = opt.update(grads, state, params)
    params = mlplab.optimizers.apply_updates(params, updates)
    print(f"step {step + 1}: v = {state.v[0][0][0]}, W = {params[0][0][0]}")

# %% [markdown]
# v grows towards the gradient as (1 − β^t)·dW: 0.1, 0.19, 0.271 of it. That is the
# lecture's momentum. PyTorch and Keras write u = βu + dW instead, whose steps are
# 1/(1 − β) = 10 times longer for the same α and β: `momentum(lr=a / (1 - b), beta=b)`
# reproduces `torch.optim.SGD(lr=a, momentum=b)`.
#
# ## Momentum in a narrow valley
#
# Gradient descent on J(w) = ½(w₁² + 25 w₂²), a valley 25 times steeper across than along,
# from the same start: plain gradient descent with α = 0.07 (close to its limit 2/25 = 0.08
# across the valley), and the lecture's momentum with α = 0.2, β = 0.7 — an α at which plain
# gradient descent diverges.

# %%
H = np.array([1.0, 25.0])
paths = {}
for name, opt in [("gradient descent", mlplab.optimizers.sgd(0.07)),
                  ("momentum, α = 0.2", mlplab.optimizers.momentum(0.2, beta=0.7))]:
    w = [(np.array([-9.0, 1.5]), np.zeros(0))]
    state = opt.init(w)
    path = [w[0][0].copy()]
    for _ in range(40):
        g = [(H * w[0][0], np.zeros(0))]
        updates, state = opt.update(g, state, w)
        w = mlplab.optimizers.apply_updates(w, updates)
        path.append(w[0][0].copy())
    paths[name] = np.array(path)

W1, W2 = np.meshgrid(np.linspace(-10, 2, 200), np.linspace(-2, 2, 200))
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.contour(W1, W2, 0.5 * (W1**2 + 25 * W2**2), levels=15, colors="lightgray")
for name, path in paths.items():
    ax.plot(path[:, 0], path[:, 1], "o-", ms=3, label=name)
ax.legend()
ax.set_title("40 steps in a valley 25 times steeper across than along")
plt.show()
for name, path in paths.items():
    print(f"{name:<18}: distance to the minimum after 40 steps: {np.linalg.norm(path[-1]):.4f}")

# %% [markdown]
# Gradient descent zig-zags across the valley and creeps along it; momentum's average
# cancels the zig-zag, which lets it take a larger α safely and move fast along the valley.
# `mlplab experiments optimizers` compares the four optimizers on the moons data, per epoch
# and per second.
