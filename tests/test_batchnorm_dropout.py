"""Dropout and batch normalization in the core: gradient checks and PyTorch agreement."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab.core import backprop as bp
from mlplab.core import batchnorm as B
from mlplab.core import dropout as D
from mlplab.core import layer_options as opts

ACTS = ["sigmoid", "tanh", "relu"]
HEADS = ["binary", "multiclass", "regression"]


def _data(head, n_out, n, n0, rng):
    X = rng.normal(size=(n, n0)) * 2 + 0.5
    if head == "binary":
        y = rng.integers(0, 2, size=(n, n_out))
    elif head == "multiclass":
        y = rng.integers(0, n_out, size=n)
    else:
        y = rng.normal(size=(n, n_out))
    return X, y


def _net(sizes, act, head, seed, bn, keep=1.0):
    rng = np.random.default_rng(seed)
    net = mlplab.Network(
        sizes,
        hidden=act,
        output=head,
        init="xavier",
        seed=seed,
        dtype="float64",
        batch_norm=bn,
        keep_prob=keep,
    )
    net.biases = [rng.normal(size=b.shape) * 0.5 for b in net.biases]
    for p in net.norm_params:  # γ, β away from 1, 0 so that both matter
        if p is not None:
            p.gamma[...] = rng.uniform(0.5, 2.0, size=p.gamma.shape)
            p.beta[...] = rng.normal(size=p.beta.shape) * 0.5
    return net


def _rel(g, g_hat):
    denom = np.linalg.norm(g) + np.linalg.norm(g_hat)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - g_hat) / denom)


def _agree(g, g_hat):
    """‖g − ĝ‖/(‖g‖ + ‖ĝ‖) < 1e-7, or, for a gradient so small that the differences'
    rounding (~1e-10) dominates (e.g. m = 2 rows, where ẑ = ±1 whatever z), |g − ĝ| < 1e-9."""
    return _rel(g, g_hat) < 1e-7 or float(np.max(np.abs(g - g_hat))) < 1e-9


def _no_kink(net, X, masks=None, training=True):
    norms = opts.inference_norms(net)
    _, caches = bp.forward(
        net._params, net._prepare_X(X), net.hidden, norms, masks, training=training
    )
    return all(np.all(np.abs(c.Z) > 1e-4) for c in caches[:-1])


ARCH = dict(
    hidden_sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    n0=st.integers(1, 4),
    n_out=st.integers(1, 3),
    act=st.sampled_from(ACTS),
    head=st.sampled_from(HEADS),
    n_samples=st.integers(2, 7),
    seed=st.integers(0, 2**16),
)


@settings(max_examples=60)
@given(**ARCH, data=st.data())
def test_batchnorm_gradient_every_parameter_training_mode(
    hidden_sizes, n0, n_out, act, head, n_samples, seed, data
):
    if head == "multiclass":
        n_out = max(n_out, 2)
    bn = data.draw(st.lists(st.booleans(), min_size=len(hidden_sizes), max_size=len(hidden_sizes)))
    assume(any(bn))
    net = _net([n0, *hidden_sizes, n_out], act, head, seed, bn)
    X, y = _data(head, n_out, n_samples, n0, np.random.default_rng(seed))
    if act == "relu":
        assume(_no_kink(net, X))
    # b[l] of a normalized layer has gradient 0 (μ_B subtracts it): the check is absolute
    g = mlplab.core.diagnostics.backprop_gradient(net, X, y, training=True)
    g_hat = mlplab.core.diagnostics.numerical_gradient(net, X, y, 1e-6, training=True)
    assert _agree(g, g_hat)


@settings(max_examples=60)
@given(**ARCH, data=st.data())
def test_batchnorm_gradient_of_the_input(hidden_sizes, n0, n_out, act, head, n_samples, seed, data):
    if head == "multiclass":
        n_out = max(n_out, 2)
    bn = data.draw(st.lists(st.booleans(), min_size=len(hidden_sizes), max_size=len(hidden_sizes)))
    net = _net([n0, *hidden_sizes, n_out], act, head, seed, bn)
    X, y = _data(head, n_out, n_samples, n0, np.random.default_rng(seed))
    if act == "relu":
        assume(_no_kink(net, X))
    Y = net._prepare_y(y, n_samples)
    norms = opts.inference_norms(net)

    def J(Xv):
        return bp.loss_and_all_grads(
            net._params, Xv, Y, net.hidden, net.head, 0.0, norms, training=True
        )[0]

    _, grads = bp.loss_and_all_grads(
        net._params, X, Y, net.hidden, net.head, 0.0, norms, training=True, need_dX=True
    )
    eps, dX_hat = 1e-6, np.empty_like(X)
    for idx in np.ndindex(*X.shape):
        Xp, Xm = X.copy(), X.copy()
        Xp[idx] += eps
        Xm[idx] -= eps
        dX_hat[idx] = (J(Xp) - J(Xm)) / (2 * eps)
    assert _agree(grads.dX, dX_hat)


@settings(max_examples=60)
@given(**ARCH, keep=st.floats(0.3, 0.95), with_bn=st.booleans())
def test_dropout_gradient_with_a_fixed_mask(
    hidden_sizes, n0, n_out, act, head, n_samples, seed, keep, with_bn
):
    if head == "multiclass":
        n_out = max(n_out, 2)
    net = _net([n0, *hidden_sizes, n_out], act, head, seed, with_bn, keep)
    rng = np.random.default_rng(seed + 1)
    X, y = _data(head, n_out, n_samples, n0, rng)
    masks = [D.dropout_mask(rng, (n_samples, n), keep, np.float64) for n in hidden_sizes]
    if act == "relu":
        assume(_no_kink(net, X, masks))
    g = mlplab.core.diagnostics.backprop_gradient(net, X, y, training=True, masks=masks)
    g_hat = mlplab.core.diagnostics.numerical_gradient(net, X, y, 1e-6, training=True, masks=masks)
    assert _agree(g, g_hat)


def test_dropout_mask_is_inverted_bernoulli(rng):
    mask = D.dropout_mask(rng, (20_000, 5), 0.7, np.float32)
    assert mask.dtype == np.float32
    assert set(np.unique(mask).tolist()) == {0.0, np.float32(1 / 0.7)}
    assert (mask > 0).mean() == pytest.approx(0.7, abs=0.01)
    assert mask.mean() == pytest.approx(1.0, abs=0.02)  # E[d/p] = 1: a[l] keeps its mean


def test_batchnorm_backward_written_out_equals_the_compact_form(rng):
    Z = rng.normal(size=(9, 4)) * 3 + 1
    bn = B.BatchNorm(
        B.BNParams(rng.uniform(0.5, 2, 4), rng.normal(size=4)),
        B.BNStats(np.zeros(4), np.ones(4)),
        1e-5,
    )
    _, cache = B.batchnorm_forward(Z, bn, training=True)
    dZt = rng.normal(size=Z.shape)
    dZ, (dg, db) = B.batchnorm_backward(dZt, cache)
    m = Z.shape[0]
    compact = bn.params.gamma * cache.inv_std * (dZt - db / m - cache.Z_hat * dg / m)
    np.testing.assert_allclose(dZ, compact, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dZ.sum(axis=0), 0, atol=1e-12)  # shifting z changes nothing


# ------------------------------------------------------------------ PyTorch
torch = pytest.importorskip("torch")


def _torch_model(net):
    """Linear → BatchNorm1d → g per hidden layer, then Linear, with net's parameters."""
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    layers = []
    for l, (W, b) in enumerate(net.params):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        lin.weight.data = torch.tensor(W.copy())
        lin.bias.data = torch.tensor(b.copy())
        layers.append(lin)
        if l < net.L - 1:
            p = net.norm_params[l]
            if p is not None:
                momentum = 1 - net.options.bn_momentum  # PyTorch's momentum is 1 − β
                bn = torch.nn.BatchNorm1d(W.shape[0], eps=net.options.bn_eps, momentum=momentum)
                bn = bn.double()
                bn.weight.data = torch.tensor(p.gamma.copy())
                bn.bias.data = torch.tensor(p.beta.copy())
                layers.append(bn)
            layers.append(acts[net.hidden[l].name]())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("act", ACTS)
def test_batchnorm_network_equals_torch_batchnorm1d(rng, act):
    sizes = [5, 7, 6, 3]
    net = _net(sizes, act, "multiclass", 3, [True, True])
    model = _torch_model(net)
    norms = opts.inference_norms(net)
    running = [s for s in net.running_stats]
    for step in range(6):  # training batches: forward, gradients, running averages
        X = rng.normal(size=(8 + step, 5)) * 3 - 1
        y = rng.integers(0, 3, size=X.shape[0])
        Y = net._prepare_y(y, X.shape[0])
        J, grads = bp.loss_and_all_grads(
            net._params, X, Y, net.hidden, net.head, 0.0, norms, training=True, need_dX=True
        )
        Z_L, caches = bp.forward(net._params, X, net.hidden, norms, training=True)
        for l, c in enumerate(caches[:-1]):  # the running averages, as the trainer does
            running[l] = B.update_running(
                running[l], c.bn.mean, c.bn.var, X.shape[0], net.options.bn_momentum
            )
            net.running_stats[l].mean[...], net.running_stats[l].var[...] = running[l]
        model.train()
        Xt = torch.tensor(X, requires_grad=True)
        out = model(Xt)
        loss = torch.nn.functional.cross_entropy(out, torch.tensor(y))
        loss.backward()
        np.testing.assert_allclose(Z_L, out.detach().numpy(), rtol=1e-9, atol=1e-9)
        assert J == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(grads.dX, Xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        tparams = [m for m in model if isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d))]
        lins = [m for m in tparams if isinstance(m, torch.nn.Linear)]
        bns = [m for m in tparams if isinstance(m, torch.nn.BatchNorm1d)]
        for g, lin in zip(grads.dense, lins, strict=True):
            np.testing.assert_allclose(g.W, lin.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(g.b, lin.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
        for g, m in zip(grads.norms, bns, strict=True):
            np.testing.assert_allclose(g.gamma, m.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(g.beta, m.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
            m.zero_grad()
        for s, m in zip(net.running_stats, bns, strict=True):
            np.testing.assert_allclose(s.mean, m.running_mean.numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(s.var, m.running_var.numpy(), rtol=1e-9, atol=1e-12)
        model.zero_grad()
    model.eval()  # inference: the running averages
    X = rng.normal(size=(11, 5))
    np.testing.assert_allclose(
        net.logits(X), model(torch.tensor(X)).detach().numpy(), rtol=1e-9, atol=1e-9
    )


def test_batchnorm_options_and_theta_layout():
    net = mlplab.Network([3, 4, 5, 2], batch_norm=[True, False], keep_prob=[0.5, 1.0], seed=1)
    assert net.n_params == 3 * 4 + 4 + 4 * 5 + 5 + 5 * 2 + 2 + 2 * 4
    gamma, beta = net.norm_params[0]
    assert net.norm_params[1] is None
    assert gamma.tolist() == [1.0] * 4 and beta.tolist() == [0.0] * 4
    assert np.shares_memory(gamma, net._theta)
    flat = net.get_flat_params()
    assert flat[-8:].tolist() == [1.0] * 4 + [0.0] * 4  # γ, β after every W, b
    assert net.config()["keep_prob"] == [0.5, 1.0]
    again = mlplab.Network.from_config(net.config())
    assert again.options == net.options
    plain = mlplab.Network([3, 4, 2])
    assert "batch_norm" not in plain.config() and "keep_prob" not in plain.config()
    assert "batch norm" in net.summary() and "dropout keep p=0.5" in net.summary()
    with pytest.raises(ValueError, match="keep_prob must lie in"):
        mlplab.Network([3, 4, 2], keep_prob=0.0)
    with pytest.raises(ValueError, match="hidden layers"):
        mlplab.Network([3, 4, 2], batch_norm=[True, True])


def test_prediction_never_drops_and_uses_running_averages(rng):
    net = mlplab.Network([3, 6, 1], keep_prob=0.2, batch_norm=True, dtype="float64", seed=0)
    X = rng.normal(size=(7, 3))
    plain = mlplab.Network([3, 6, 1], dtype="float64", seed=0)
    # running μ = 0, σ² = 1, γ = 1, β = 0: z̃ = z/√(1 + ε); no mask at inference
    W, b = plain.params[1]
    Z1 = X @ plain.params[0].W.T / np.sqrt(1 + 1e-5)
    expected = np.maximum(Z1, 0) @ W.T + b
    np.testing.assert_allclose(net.logits(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))


def _trained_looking(seed=0):
    net = mlplab.Network(
        [4, 6, 5, 3], output="multiclass", batch_norm=[True, True], keep_prob=[0.8, 0.9], seed=seed
    )
    rng = np.random.default_rng(seed)
    net.set_flat_params(rng.normal(size=net.n_params))
    stats = rng.normal(size=net._bn_stats.shape)
    for s in opts.stats_views(stats, net.layer_sizes, net.options):
        if s is not None:
            s.var[...] = np.abs(s.var) + 0.1
    net.set_running_stats(stats)
    return net


def test_model_files_keep_batchnorm_and_dropout(tmp_path, rng):
    import pickle

    net = _trained_looking()
    X = rng.normal(size=(9, 4))
    path = mlplab.save(net, tmp_path / "bn.npz")
    back = mlplab.load(path)
    assert back.options == net.options
    np.testing.assert_array_equal(back.logits(X), net.logits(X))
    np.testing.assert_array_equal(back._bn_stats, net._bn_stats)
    for other in (
        pickle.loads(pickle.dumps(net)),
        net.copy(),
        mlplab.Network.from_state_dict(net.state_dict()),
    ):
        np.testing.assert_array_equal(other.logits(X), net.logits(X))
    copy = net.copy()
    copy.running_stats[0].mean[...] = 5.0
    assert not np.array_equal(copy._bn_stats, net._bn_stats)


def test_model_file_with_bad_batchnorm_arrays_is_refused(tmp_path):
    import zipfile

    net = _trained_looking()
    path = mlplab.save(net, tmp_path / "bn.npz")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            if n != "running_var1.npy":
                z.writestr(n, data)
    with pytest.raises(mlplab.ModelFileError):
        mlplab.load(bad)
