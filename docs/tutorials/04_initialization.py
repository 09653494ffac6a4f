# %% [markdown]
# # 4. Initialization
#
# Where training starts decides whether it starts at all. Three failures and two rules:
#
# - **zeros**: every hidden unit of a layer computes the same thing and gets the same
#   gradient, so they stay identical forever (the *symmetry* is never broken);
# - **too large** (N(0, 1) or N(0, 10²)): z[l] = W[l] a[l-1] + b[l] has variance
#   n[l-1]·Var(W) — large — so tanh and sigmoid units saturate;
# - **too small**: the signal shrinks layer after layer.
#
# The rules keep Var(z[l]) ≈ Var(a[l-1]): **Xavier** Var(W) = 1/n[l-1] (tanh),
# **He** Var(W) = 2/n[l-1] (ReLU, which zeroes half of its inputs), **Glorot** 2/(n[l] + n[l-1]).

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab.core import diagnostics
from mlplab.data import train_test_split

X, y = mlplab.load_dataset("circles", noise=0.1)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, seed=0)

# %% [markdown]
# ## Zeros: the symmetry is never broken

# %%
net = mlplab.Network([2, 10, 5, 1], hidden="tanh", init="zeros", seed=0)
mlplab.fit(net, X_tr, y_tr, optimizer=mlplab.optimizers.sgd(0.5), epochs=50, batch_size=32)
W1 = net.weights[0]
print("rows of W[1] all equal:", np.allclose(W1, W1[0]), "| accuracy:", net.score(X_te, y_te))

# %% [markdown]
# ## The size of the signal through 50 layers
#
# The standard deviation of a[l] at initialization, layer by layer, for tanh and ReLU
# networks of 50 hidden layers of 64 units.

# %%
Xn = np.random.default_rng(0).normal(size=(500, 64))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, hidden, inits in [(axes[0], "tanh", ["normal", "xavier", "he"]),
                          (axes[1], "relu", ["xavier", "he", "glorot"])]:
    for init in inits:
        net = mlplab.Network([64] * 51 + [1], hidden=hidden, init=init, seed=0, dtype="float64")
        stds = [s["std"] for s in diagnostics.activation_stats(net, Xn)[:-1]]
        ax.semilogy(range(1, 51), stds, label=init)
    ax.set_title(f"{hidden}: std of a[l]")
    ax.set_xlabel("layer l")
    ax.legend()
plt.show()
tanh_large = mlplab.Network([64] * 51 + [1], hidden="tanh", init="normal", seed=0)
saturated = np.mean([s["saturated"] for s in diagnostics.activation_stats(tanh_large, Xn)[:-1]])
print(f"tanh with N(0, 1) weights: {saturated:.0%} of the hidden units saturated (g′ < 0.01)")

# %% [markdown]
# With ReLU, Xavier's 1/n halves the variance at every layer (ReLU keeps half of it), so
# the signal fades exponentially; He's 2/n keeps it level. With tanh, N(0, 1) weights
# saturate the units (their a[l] sit at ±1: a std of about 1, but g′ ≈ 0); Xavier's rule
# shrinks the signal slowly (tanh′ < 1), and that is what the notes' claim really means.
#
# ## Training from each initialization
#
# A [2, 10, 5, 1] ReLU network on the circles, the same data, optimizer and seed.

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for init in ["zeros", "large", "xavier", "he", "glorot"]:
    net = mlplab.Network([2, 10, 5, 1], hidden="relu", init=init, seed=0)
    history = mlplab.fit(net, X_tr, y_tr, optimizer=mlplab.optimizers.sgd(0.1), epochs=100,
                         batch_size=32)
    loss = history.history["loss"]
    ax.plot(loss, label=f"{init}: test accuracy {net.score(X_te, y_te):.2f}")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("cost J")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Zeros never leave J = log 2 (the network stays a constant); large weights start from an
# enormous cost and end worse; Xavier, He and Glorot all train. `mlplab experiments init`
# repeats this with several seeds and writes the table.
