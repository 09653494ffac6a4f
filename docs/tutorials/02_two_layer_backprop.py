# %% [markdown]
# # 2. A 2-layer network by hand: backprop and the gradient check
#
# One hidden layer of n[1] tanh units, then one sigmoid unit. For a batch whose rows are
# samples (X is (n, n[0])), the forward pass is
#
# - z[1] = W[1] a[0] + b[1] with a[0] = x, a[1] = tanh(z[1])  — in code `Z1 = X @ W1.T + b1`
# - z[2] = W[2] a[1] + b[2], a[2] = σ(z[2]) = ŷ
#
# with W[1] of shape (n[1], n[0]) and W[2] of shape (1, n[1]), exactly as in the notes.
# Backpropagation applies the chain rule from the cost back to every parameter:
#
# - dz[2] = (a[2] − y)/n (the sigmoid + cross-entropy pair, as in tutorial 1)
# - dW[2] = dz[2] a[1]ᵀ, db[2] = Σ dz[2]
# - da[1] = W[2]ᵀ dz[2], dz[1] = da[1] ⊙ tanh′(z[1]) = da[1] ⊙ (1 − a[1]²)
# - dW[1] = dz[1] a[0]ᵀ, db[1] = Σ dz[1]

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import plots

X, y = mlplab.load_dataset("moons", noise=0.15)    # (500, 2), labels 0/1
X = (X - X.mean(axis=0)) / X.std(axis=0)
n = len(X)
rng = np.random.default_rng(0)
n0, n1 = 2, 8
params = {
    "W1": rng.normal(0, np.sqrt(1 / n0), (n1, n0)), "b1": np.zeros(n1),
    "W2": rng.normal(0, np.sqrt(1 / n1), (1, n1)), "b2": np.zeros(1),
}


def forward(p, X):
    Z1 = X @ p["W1"].T + p["b1"]
    A1 = np.tanh(Z1)
    Z2 = A1 @ p["W2"].T + p["b2"]
    return Z1, A1, Z2


def cost(p, X, y):
    Z2 = forward(p, X)[2][:, 0]
    return np.mean(np.logaddexp(0.0, Z2) - y * Z2)


def backprop(p, X, y):
    _Z1, A1, Z2 = forward(p, X)
    A2 = 1 / (1 + np.exp(-Z2))
    dZ2 = (A2 - y[:, None]) / len(X)         # (n, 1)
    dW2 = dZ2.T @ A1                         # (1, n[1])  = Σ dz[2] a[1]ᵀ
    db2 = dZ2.sum(axis=0)
    dA1 = dZ2 @ p["W2"]                      # (n, n[1])  = W[2]ᵀ dz[2], row by row
    dZ1 = dA1 * (1 - A1**2)                  # tanh′(z) = 1 − tanh(z)²
    dW1 = dZ1.T @ X                          # (n[1], n[0])
    db1 = dZ1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


grads = backprop(params, X, y)
print({k: g.shape for k, g in grads.items()})

# %% [markdown]
# ## The gradient check
#
# Is the backward pass right? Compare it with the definition of the derivative. For every
# single parameter θᵢ, the two-sided difference
#
# ĝᵢ = (J(θ + ε eᵢ) − J(θ − ε eᵢ)) / 2ε
#
# approximates ∂J/∂θᵢ with an error of order ε². The relative error
# ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖) should be below 1e-7 in float64; a bug in backprop gives ~1e-2.


# %%
def numerical(p, X, y, eps=1e-6):
    out = {}
    for k, v in p.items():
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]
            v[i] = old + eps
            plus = cost(p, X, y)
            v[i] = old - eps
            minus = cost(p, X, y)
            v[i] = old
            g[i] = (plus - minus) / (2 * eps)
        out[k] = g
    return out


def relative_error(g, h):
    a = np.concatenate([g[k].ravel() for k in sorted(g)])
    b = np.concatenate([h[k].ravel() for k in sorted(h)])
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


num = numerical(params, X[:50], y[:50])
print("backprop vs finite differences:", relative_error(backprop(params, X[:50], y[:50]), num))


def broken_backprop(p, X, y):  # forgets tanh′ in dz[1]
    g = backprop(p, X, y)
    A2 = 1 / (1 + np.exp(-forward(p, X)[2]))
    dZ1 = ((A2 - y[:, None]) / len(X)) @ p["W2"]  # da[1], used as dz[1]
    g["W1"], g["b1"] = dZ1.T @ X, dZ1.sum(axis=0)
    return g


broken = broken_backprop(params, X[:50], y[:50])
print("a broken backprop:             ", relative_error(broken, num))

# %% [markdown]
# ## The same network in mlplab
#
# `Network([2, 8, 1], hidden="tanh")` holds the same W[1], b[1], W[2], b[2] (assign ours
# to it), and `net.loss_and_grads` runs the same backprop. `mlplab.gradcheck` is the check
# above, for any network.

# %%
net = mlplab.Network([n0, n1, 1], hidden="tanh", output="binary", dtype="float64")
net.weights = [params["W1"], params["W2"]]
net.biases = [params["b1"], params["b2"]]
J, mlgrads = net.loss_and_grads(X, y)
print("same cost:", np.isclose(J, cost(params, X, y)))
print("same dW[1]:", np.allclose(mlgrads[0][0], grads["W1"]), " same dW[2]:",
      np.allclose(mlgrads[1][0], grads["W2"]))
print("mlplab.gradcheck:", mlplab.gradcheck(net, X[:50], y[:50]))

# %% [markdown]
# ## Training it
#
# Gradient descent with our backprop, and the same with `mlplab.fit`: one hidden layer is
# enough to bend the boundary around the moons.

# %%
alpha = 1.0
for _ in range(500):
    g = backprop(params, X, y)
    for k in params:
        params[k] -= alpha * g[k]
print(f"by hand: J = {cost(params, X, y):.4f}")

history = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.sgd(alpha), epochs=500,
                     batch_size=None)
print(f"mlplab:  J = {history.history['loss'][-1]:.4f}, accuracy {net.score(X, y):.3f}")
plots.plot_decision_boundary(net, X, y, title="[2, 8, 1] tanh network")
plt.show()
