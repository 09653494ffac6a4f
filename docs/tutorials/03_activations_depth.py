# %% [markdown]
# # 3. Activations, and vanishing and exploding gradients
#
# Each hidden layer computes a[l] = g(z[l]). Backprop multiplies by g′(z[l]) at every layer
# on the way down (dz[l] = da[l] ⊙ g′(z[l])) and by W[l]ᵀ, so what g′ and W look like
# decides whether the gradient of the first layers survives the trip.

# %%
import matplotlib.pyplot as plt
import numpy as np

import mlplab
from mlplab import activations
from mlplab.core import diagnostics

z = np.linspace(-5, 5, 401)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for g in (activations.sigmoid, activations.tanh, activations.relu, activations.leaky_relu(0.1)):
    a = g.forward(z)
    left.plot(z, a, label=g.name)
    right.plot(z, g.derivative(z, a), label=g.name)
left.set_title("g(z)")
right.set_title("g′(z)")
left.legend()
right.set_ylim(-0.05, 1.1)
plt.show()

# %% [markdown]
# σ′ is at most 1/4 and tanh′ at most 1, and both vanish for large |z| (*saturation*);
# ReLU's derivative is 1 for z > 0 and 0 below, so a unit whose z stays negative never
# learns again (a *dead* unit).
#
# ## 1.5^L and 0.5^L
#
# The notes' example: a deep network of 2×2 layers with identity activations, b = 0 and
# every W[l] = s·I. Then ŷ = W[L] ⋯ W[1] x = s^L x — and, by the same product, the gradient
# with respect to the first layers scales like s^(L−1). With s = 1.5 both *explode*
# exponentially with the depth L, with s = 0.5 both *vanish*.

# %%
x = np.array([[1.0, 1.0]])
depths = np.arange(1, 41)
fig, ax = plt.subplots(figsize=(6, 3.5))
for s in (1.5, 1.0, 0.5):
    y_hat = [abs(diagnostics.identity_network(L, s).forward(x)[0, 0]) for L in depths]
    ax.semilogy(depths, y_hat, label=f"W[l] = {s}·I")
ax.set_xlabel("depth L")
ax.set_ylabel("ŷ₁")
ax.legend()
ax.set_title("$\\hat y = s^L x$")
plt.show()
net = diagnostics.identity_network(30, 1.5)
print("L = 30, s = 1.5: ŷ =", net.forward(x)[0], " 1.5**30 =", 1.5**30)
print("L = 30, s = 0.5: ŷ =", diagnostics.identity_network(30, 0.5).forward(x)[0])

# %% [markdown]
# ## The gradient, layer by layer
#
# Now a real deep network: 10 hidden layers of 32 units, with sigmoid, tanh or ReLU, and
# weights drawn with Xavier's variance 1/n[l-1], He's 2/n[l-1] or plain N(0, 1) (`normal`).
# `diagnostics.gradient_norms` returns ‖dW[l]‖ for every layer on one batch.

# %%
X, y = mlplab.load_dataset("circles", noise=0.1)
sizes = [2] + [32] * 10 + [1]
fig, ax = plt.subplots(figsize=(6, 3.5))
for hidden, init in [("sigmoid", "xavier"), ("tanh", "normal"), ("tanh", "xavier"),
                     ("relu", "he")]:
    net = mlplab.Network(sizes, hidden=hidden, init=init, seed=0, dtype="float64")
    ax.semilogy(range(1, len(sizes)), diagnostics.gradient_norms(net, X, y), "o-",
                label=f"{hidden}, {init}")
ax.set_xlabel("layer l")
ax.set_ylabel("‖dW[l]‖")
ax.legend(fontsize=8)
ax.set_title("Gradient norms at initialization, 10 hidden layers")
plt.show()

# %% [markdown]
# With sigmoid units the gradient shrinks by a factor of about 4 per layer on its way down
# (σ′ ≤ 1/4): it *vanishes*, and the first layers barely learn. With tanh and N(0, 1)
# weights it grows layer after layer towards the input: it *explodes* (the units saturate
# too, tutorial 4). tanh with Xavier's rule and ReLU with He's keep the norms of the same
# order through all the layers. The playground shows this live
# (`mlplab playground`, preset "He vs Xavier at depth 10"), and `mlplab experiments depth`
# measures it through 50 layers.
