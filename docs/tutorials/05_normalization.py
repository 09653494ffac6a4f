# %% [markdown]
# # 5. Input normalization
#
# When one input is in thousands and another in units, the cost J(w₁, w₂) is a long narrow
# valley: its curvature along w₁ is about (1000)² times that along w₂. Gradient descent
# needs α below 2/(largest curvature) to stay stable, and then it crawls along the flat
# direction. Standardizing each feature, x ← (x − μ)/σ with μ and σ of the **training**
# set, makes the valley round, so one α suits every direction.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab

rng = np.random.default_rng(0)
n = 400
X = np.c_[rng.normal(0, 1000, n), rng.normal(0, 1, n)]     # scales differ by 1000×
y = (X[:, 0] / 1000 + X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
print("feature standard deviations:", X.std(axis=0).round(2))

# %% [markdown]
# ## The cost surface of one neuron
#
# J(w₁, w₂) for a logistic unit (b = 0) on the raw and on the standardized inputs.


# %%
def cost_surface(X, W1, W2):
    Z = X[:, 0, None, None] * W1 + X[:, 1, None, None] * W2
    return np.mean(np.logaddexp(0, Z) - y[:, None, None] * Z, axis=0)


std = mlplab.Standardizer().fit(X)
Xs = std.transform(X)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, data, (r1, r2), title in [(axes[0], X, (0.01, 3), "raw inputs"),
                                  (axes[1], Xs, (3, 3), "standardized inputs")]:
    W1, W2 = np.meshgrid(np.linspace(-r1, r1, 121), np.linspace(-r2, r2, 121))
    ax.contour(W1, W2, cost_surface(data, W1, W2), levels=20)
    ax.set_xlabel("w₁")
    ax.set_ylabel("w₂")
    ax.set_title(f"J(w₁, w₂), {title}")
plt.show()

# %% [markdown]
# ## Training on both
#
# The largest α that does not diverge, and the cost after 100 epochs of batch gradient
# descent, for raw and standardized inputs. mlplab stops a run whose cost becomes infinite
# or NaN with a `DivergenceError`, which we catch.


# %%
def train(X, alpha, epochs=100):
    net = mlplab.Network([2, 1], output="binary", init="zeros", dtype="float64")
    try:
        h = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.sgd(alpha), epochs=epochs,
                       batch_size=None)
    except mlplab.DivergenceError:
        return None
    loss = h.history["loss"]
    return loss if loss[-1] <= loss[0] else None  # a cost that rose: unstable too


alphas = 10.0 ** np.arange(-8, 3)
for name, data in [("raw", X), ("standardized", Xs)]:
    results = {a: train(data, a) for a in alphas}
    stable = [a for a, r in results.items() if r is not None]
    best = min(stable, key=lambda a: results[a][-1])
    print(f"{name:>12}: stable up to α = {max(stable):g}; best α = {best:g}, "
          f"J after 100 epochs = {results[best][-1]:.4f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(train(X, 1e-5), label="raw, α = 1e-5")
ax.plot(train(Xs, 10.0), label="standardized, α = 10")
ax.set_xlabel("epoch")
ax.set_ylabel("cost J")
ax.legend()
plt.show()

# %% [markdown]
# In practice, attach the `Standardizer` to the network: it is fit on the training rows
# only, applied to every input the network sees (prediction included) and saved with it.

# %%
net = mlplab.Network([2, 8, 1], standardizer=mlplab.Standardizer().fit(X), seed=0)
mlplab.fit(net, X, y, optimizer=mlplab.optimizers.adam(0.01), epochs=50)
print("accuracy on raw inputs, normalized inside the network:", net.score(X, y))
