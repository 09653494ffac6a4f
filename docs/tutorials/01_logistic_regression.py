# %% [markdown]
# # 1. Logistic regression as one neuron
#
# Logistic regression is the smallest neural network: **one sigmoid unit**. For one sample
# x (n[0] features) it computes
#
# z = wᵀx + b,  a = σ(z) = 1 / (1 + e^(−z)),  ŷ = a,
#
# and it is trained on the cross-entropy cost over the n samples
#
# J = (1/n) Σᵢ L(i),  L(i) = −[y log a + (1 − y) log(1 − a)].
#
# The chain rule gives a remarkably simple gradient: ∂J/∂z(i) = (a(i) − y(i))/n, so
# ∂J/∂w = (1/n) Σᵢ (a(i) − y(i)) x(i) and ∂J/∂b = (1/n) Σᵢ (a(i) − y(i)).
#
# We write this by hand in NumPy, train it by gradient descent, and then check that
# `mlplab.Network([n0, 1])` is *the same model*, step for step.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab

X, y = mlplab.load_dataset("breast_cancer")
X = X[:, [20, 21, 24, 27]]          # 4 features: worst radius, texture, smoothness, concave points
X = (X - X.mean(axis=0)) / X.std(axis=0)  # standardized (tutorial 5 says why)
n, n0 = X.shape
print(f"n = {n} samples, n[0] = {n0} features, {y.mean():.0%} of them labelled 1")

# %% [markdown]
# ## The neuron by hand
#
# Rows of X are samples, so for all n samples at once z = X w + b (a vector of n values).
# The cost is computed from z directly, log(1 + e^z) − y z, which never takes log(0).


# %%
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cost(w, b):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)  # = −[y log a + (1−y) log(1−a)], averaged


def gradients(w, b):
    a = sigmoid(X @ w + b)
    dz = (a - y) / n                                # ∂J/∂z(i)
    return X.T @ dz, dz.sum()                       # ∂J/∂w, ∂J/∂b


alpha, epochs = 1.0, 200
w, b = np.zeros(n0), 0.0
costs = []
for _ in range(epochs):
    costs.append(cost(w, b))
    dw, db = gradients(w, b)
    w, b = w - alpha * dw, b - alpha * db           # gradient descent
print(f"J: {costs[0]:.4f} -> {costs[-1]:.4f}; accuracy {np.mean((X @ w + b > 0) == y):.3f}")

# %% [markdown]
# ## The same model in mlplab
#
# `Network([n0, 1], output="binary")` is one layer with one unit and the sigmoid +
# cross-entropy head. With zero initial weights, batch gradient descent (`batch_size=None`,
# one step per epoch over all n samples) and the same α, it follows exactly our trajectory:
# W[1] is w as a (1, n[0]) row, b[1] is b.

# %%
net = mlplab.Network([n0, 1], output="binary", init="zeros", dtype="float64")
history = mlplab.fit(net, X, y, optimizer=mlplab.optimizers.sgd(alpha), epochs=epochs,
                     batch_size=None)
print("W[1] shape:", net.weights[0].shape)
print("largest difference to our w:", np.abs(net.weights[0][0] - w).max())
print("largest difference to our b:", abs(net.biases[0][0] - b))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(costs, label="by hand", lw=3, alpha=0.5)
ax.plot(history.history["loss"], "--", label="mlplab.fit")
ax.set_xlabel("epoch")
ax.set_ylabel("cost J")
ax.set_title("Gradient descent on one neuron")
ax.legend()
plt.show()

# %% [markdown]
# The cost falls at every step (α is small enough for this problem) and the curves are the
# same. mlplab's experiment `logistic` goes one step further and shows that the trained
# neuron matches scikit-learn's `LogisticRegression` to 1e-8 (`mlplab experiments logistic`).
#
# ## The decision boundary
#
# The neuron predicts 1 where a ≥ 0.5, that is where z = wᵀx + b ≥ 0: a straight line (a
# hyperplane) in input space. On two features of the moons data it cannot separate the
# classes — which is why we need hidden layers (next tutorial).

# %%
from mlplab import plots  # noqa: E402

Xm, ym = mlplab.load_dataset("moons", noise=0.15)
one = mlplab.Network([2, 1], output="binary", seed=0)
mlplab.fit(one, Xm, ym, optimizer=mlplab.optimizers.sgd(1.0), epochs=300, batch_size=None)
title = f"One neuron: accuracy {one.score(Xm, ym):.2f}"
ax = plots.plot_decision_boundary(one, Xm, ym, title=title)
plt.show()
