"""How the estimators train: scikit-learn's ``_fit`` on mlplab's network and loop.

:func:`fit` follows ``sklearn.neural_network``'s ``BaseMultilayerPerceptron._fit`` step
by step, so that the same ``random_state`` gives the same model up to rounding:

1. a RandomState from ``random_state`` (fresh on every call, as there);
2. on the first fit, the network with scikit-learn's Glorot-uniform draw
   (:func:`mlplab.sklearn._params.glorot_uniform`; ``init=`` picks an mlplab initializer);
3. the stochastic solvers: the held-out split of ``early_stopping`` (same indices), then
   the one training loop, :class:`mlplab.train.loop.Trainer`, with scikit-learn's update
   rules (:mod:`mlplab.core.sklearn_updates`), its epoch order
   (:class:`~mlplab.sklearn._callbacks.ShuffledOrder`) and its after-epoch bookkeeping
   (:class:`~mlplab.sklearn._callbacks.SklearnEpochEnd`);
   ``lbfgs``: SciPy's L-BFGS-B on the flat θ (:func:`mlplab.train.lbfgs.minimize_lbfgs`);
4. scikit-learn's error when the parameters end non-finite.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from typing import Any

import numpy as np

from mlplab._validation import InputScaleWarning, finite_extremes
from mlplab.core.network import Network
from mlplab.sklearn import _backend, _lecture2, _params
from mlplab.sklearn._callbacks import LearningRate, ShuffledOrder, SklearnEpochEnd
from mlplab.sklearn._data import weighted_standardizer
from mlplab.train.divergence import DivergenceError
from mlplab.train.loop import Trainer

NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


def fit(est: Any, X: np.ndarray, Y: np.ndarray, y_raw: Any, sw: Any, **how: Any) -> None:
    """Train ``est`` on X (dense) and the head's targets Y (n, n[L]).

    ``how``: ``incremental`` (partial_fit), ``first`` (a new network), ``head``,
    ``comm``. ``y_raw`` are the targets as given (labels), for the validation score.
    """
    incremental, first, comm = how["incremental"], how["first"], how.get("comm")
    rs, gen = _params.random_states(est.random_state)
    est._random = gen  # mlplab's own draws (dropout masks); saved in model files
    est.n_outputs_ = Y.shape[1]
    if first:
        _new_network(est, X, Y.shape[1], how["head"], sw, comm, rs, gen)
    elif "network_" not in vars(est):  # coefs_ and intercepts_ assigned before fitting
        _network_from_assigned(est, X, how["head"], sw, gen)
    net = est.network_
    net.l2 = float(est.alpha)
    if sw is not None:
        _lecture2.refuse_weights(net)
    _refuse_huge(net, X)
    if est.solver == "lbfgs":
        _fit_lbfgs(est, X, Y, sw)
    else:
        _fit_stochastic(est, X, Y, y_raw, sw, incremental, comm, rs, gen)
    if not np.isfinite(net._theta).all():
        raise ValueError(NON_FINITE)


def _new_network(
    est: Any,
    X: np.ndarray,
    n_out: int,
    head: str,
    sw: np.ndarray | None,
    comm: Any,
    rs: np.random.RandomState,
    gen: np.random.Generator,
) -> None:
    """The network of a first fit, and scikit-learn's attributes of a fresh model."""
    std = None
    if est.normalize and comm is not None:  # μ, σ of all ranks' rows together
        from mlplab.train.mpi import fit_standardizer

        std = fit_standardizer(X, comm)
    elif est.normalize:
        std = weighted_standardizer(X, sw)
    sizes = [X.shape[1], *_params.hidden_sizes(est), n_out]
    net = Network(
        sizes,
        hidden=_params.ACTIVATION_NAMES[est.activation],
        output=head,
        init=est.init if est.init is not None else "zeros",
        seed=gen,
        dtype=_params.training_dtype(est, X),
        l2=float(est.alpha),
        standardizer=std,
        **_lecture2.network_options(est),
    )
    if est.init is None:  # scikit-learn's Glorot-uniform draw, from its RandomState
        net.params = _params.glorot_uniform(rs, sizes, est.activation, net.dtype)
    est.network_ = net
    est.n_iter_, est.t_, est._step = 0, 0, 0
    est._opt_state, est._opt_solver = None, None
    est.history_ = {}
    est._best_theta = np.array(net._theta, copy=True)
    if est.solver != "lbfgs":
        _reset_progress(est)


def _network_from_assigned(
    est: Any, X: np.ndarray, head: str, sw: np.ndarray | None, gen: np.random.Generator
) -> None:
    """The network of assigned ``coefs_``/``intercepts_`` (scikit-learn continues from
    them when it finds ``coefs_``); the attributes a fit keeps get their fresh values
    where they were not assigned too."""
    coefs = [np.asarray(c, dtype=float) for c in vars(est).pop("_coefs_set")]
    intercepts = [np.asarray(b, dtype=float) for b in vars(est).pop("_intercepts_set")]
    vars(est).pop("_out_activation_set", None)  # the head follows the targets
    sizes = [coefs[0].shape[0], *(c.shape[1] for c in coefs)]
    net = Network(
        sizes,
        hidden=_params.ACTIVATION_NAMES[est.activation],
        output=head,
        init="zeros",
        seed=gen,
        dtype=_params.training_dtype(est, X),
        l2=float(est.alpha),
        standardizer=weighted_standardizer(X, sw) if est.normalize else None,
        **_lecture2.network_options(est),
    )
    net.params = [(c.T, b.reshape(-1)) for c, b in zip(coefs, intercepts, strict=True)]
    est.network_ = net
    est._step, est._opt_state, est._opt_solver, est.history_ = 0, None, None, {}
    est._best_theta = np.array(net._theta, copy=True)
    for name, value in (("n_iter_", 0), ("t_", 0), ("_no_improvement_count", 0)):
        if name not in vars(est):
            setattr(est, name, value)
    if est.solver != "lbfgs" and "loss_curve_" not in vars(est):
        _reset_progress(est)


def _reset_progress(est: Any) -> None:
    """scikit-learn's ``_initialize`` for the stochastic solvers."""
    est.loss_curve_ = []
    est._no_improvement_count = 0
    if est.early_stopping:
        est.validation_scores_, est.best_validation_score_, est.best_loss_ = [], -np.inf, None
    else:
        est.validation_scores_, est.best_validation_score_, est.best_loss_ = None, None, np.inf


def _refuse_huge(net: Any, X: np.ndarray) -> None:
    """Inputs so large that the first products overflow: scikit-learn's error, with why."""
    if net.standardizer is not None or X.size == 0:
        return
    lo, hi = finite_extremes(np.asarray(X, dtype=net.dtype))
    limit = float(np.sqrt(np.finfo(net.dtype).max)) / 1e4
    if not max(hi, -lo) <= limit:
        raise ValueError(
            f"{NON_FINITE} (X has values up to {max(hi, -lo):.3g}; training in {net.dtype} "
            f"overflows above {limit:.1e}: scale X, or pass normalize=True)"
        )


def _fit_lbfgs(est: Any, X: np.ndarray, Y: np.ndarray, sw: Any) -> None:
    """L-BFGS-B on the whole training set (scikit-learn's ``_fit_lbfgs``)."""
    from sklearn.utils.optimize import _check_optimize_result

    from mlplab.train.lbfgs import minimize_lbfgs

    net = est.network_
    Xs = net._prepare_X(X)
    Yp = net._prepare_y(Y, Xs.shape[0])
    verbose = est.verbose is True or est.verbose >= 1
    res = minimize_lbfgs(
        net, Xs, Yp, max_iter=est.max_iter, max_fun=est.max_fun, tol=est.tol,
        sample_weight=sw, verbose=verbose, data_loss_scale=_data_loss_scale(est, Yp),
    )  # fmt: skip
    est.n_iter_ = _check_optimize_result("lbfgs", res, est.max_iter)
    est.loss_ = float(res.fun)


def _data_loss_scale(est: Any, Y: np.ndarray) -> float:
    """1/n_outputs for the squared error, as scikit-learn reports it (the mean over the
    outputs, with the gradient of their sum: scikit-learn issue #8349); otherwise 1."""
    if est.network_.head.name != "regression" or Y.ndim < 2:
        return 1.0
    return 1.0 / int(Y.shape[1])


def _fit_stochastic(est, X, Y, y_raw, sw, incremental, comm, rs, gen) -> None:  # type: ignore[no-untyped-def]
    """Epochs of the one training loop, as scikit-learn's ``_fit_stochastic``."""
    if not incremental or getattr(est, "_optimizer", None) is None:
        est._optimizer = LearningRate(est)  # a fresh optimizer for fit, as scikit-learn's
        if not incremental:
            est._opt_state = None
    if not hasattr(est, "loss_curve_"):  # a network trained by lbfgs before
        _reset_progress(est)
    if not hasattr(est, "_best_theta"):  # loaded from a file
        est._best_theta = np.array(est.network_._theta, copy=True)
    validation = None
    if est.early_stopping:
        X, Y, sw, validation = _split(est, X, Y, y_raw, sw, rs)
    n = X.shape[0]
    est.n_iter_ = 0  # epochs of this call, as scikit-learn counts them
    strategy = None
    if comm is not None:
        from mlplab.train.mpi import MPI, global_rows

        n, strategy = global_rows(comm, n), MPI(comm)
    B = _params.batch_size(est, n)

    def make_optimizer(lr: float) -> Any:
        opt = _params.make_optimizer(est, lr)
        return _lecture2.optimizer(est, opt, n, B, est.max_iter)

    end = SklearnEpochEnd(est, n, validation, incremental, make_optimizer)
    trainer = Trainer(
        est.network_, make_optimizer(est._optimizer.learning_rate), [end], gen,
        strategy=strategy, order=ShuffledOrder(rs, bool(est.shuffle), comm),
    )  # fmt: skip
    if _same_kind(est._opt_state, trainer.optimizer.init(est.network_._theta)):
        trainer.opt_state = est._opt_state  # partial_fit continues the optimizer
    trainer.step = est._step
    trainer.l2_per_batch_weight = True  # scikit-learn's λ/(2 Σ_{i∈B} w_i)
    trainer.l2_as_dot = True  # and its ‖W‖², one dot product per layer
    trainer.data_loss_scale = _data_loss_scale(est, Y)
    try:
        _train(est, trainer, X, Y, sw, 1 if incremental else est.max_iter, B, validation)
    finally:
        est._opt_state, est._opt_solver, est._step = trainer.opt_state, est.solver, trainer.step
        for key, values in trainer.history.history.items():
            est.history_.setdefault(key, []).extend(values)
    if validation is not None:  # scikit-learn keeps the best validation epoch's parameters
        est.network_._theta[...] = est._best_theta


def _same_kind(state: Any, fresh: Any) -> bool:
    """A saved optimizer state fits the optimizer (a file of mlplab < issue 15 may hold
    the state of another form of the solver: then the optimizer starts afresh)."""
    if state is None or type(state) is not type(fresh):
        return False
    return all(np.shape(a) == np.shape(b) for a, b in zip(state[1:], fresh[1:], strict=True))


SMALL_PRODUCT = 1 << 22
"""Largest m·n[l-1]·n[l] (multiply-adds of one batch's product) trained on one BLAS thread.

On products this small, two BLAS threads spend more time handing work over than computing
(benchmarks/RESULTS-sklearn-dropin.md: digits, 200 × 64 × 100)."""

_controller: list[Any] = []  # threadpoolctl's ThreadpoolController, made once


def _small_products(sizes: Any, B: int, steps: int) -> bool:
    """``steps`` of at least 100 batches of ``B`` rows whose every product has at most
    :data:`SMALL_PRODUCT` multiply-adds."""
    return steps >= 100 and max(B * a * b for a, b in itertools.pairwise(sizes)) <= SMALL_PRODUCT


def _blas_threads(sizes: Any, B: int, steps: int) -> Any:
    """A context that runs BLAS on one thread while the fit's products are all small.

    For :func:`_small_products`; otherwise (and without threadpoolctl, which
    scikit-learn installs) a context that changes nothing.
    """
    if not _small_products(sizes, B, steps):
        return contextlib.nullcontext()
    try:
        if not _controller:
            from threadpoolctl import ThreadpoolController

            _controller.append(ThreadpoolController())
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return contextlib.nullcontext()
    return _controller[0].limit(limits=1, user_api="blas")


def _train(
    est: Any,
    trainer: Trainer,
    X: np.ndarray,
    Y: np.ndarray,
    sw: np.ndarray | None,
    epochs: int,
    B: int,
    validation: tuple[Any, np.ndarray, Any] | None,
) -> None:
    """``trainer.fit``; a step that diverges ends the fit as scikit-learn's would end it."""
    sizes, steps = est.network_.layer_sizes, epochs * -(-X.shape[0] // B)
    # On one BLAS thread, the workspaces' faster step, equal up to rounding (products a
    # little over OpenBLAS's small-matrix size in row blocks, b[1] in the first product,
    # a column-layout multiclass head: fast/workspace.py, Workspace's blocks)
    trainer.gradient.blocks = _small_products(sizes, B, steps)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InputScaleWarning)  # scikit-learn does not warn
            with _blas_threads(sizes, B, steps):
                _backend.fit(est, trainer, X, Y, epochs=epochs, batch_size=B, sample_weight=sw)
    except DivergenceError as exc:
        if validation is None:  # scikit-learn's error after its last epoch, sooner
            raise ValueError(f"{NON_FINITE} ({exc})") from None
        _nan_epochs(est, trainer, epochs)


def _nan_epochs(est: Any, trainer: Trainer, epochs: int) -> None:
    """The epochs scikit-learn runs after a non-finite step, with ``early_stopping``.

    scikit-learn does not stop there: its parameters are NaN from that step on, so each
    epoch's loss is NaN and its validation score that of a NaN model (a classifier's
    labels of NaN probabilities, the first class, scored as they are; a regressor's NaN);
    its no-improvement count and learning-rate schedule run as after any epoch, until
    they stop the fit or ``max_iter`` does (with its ConvergenceWarning). Then it keeps
    the best epoch's parameters (NaN ones if a NaN model scored best: the non-finite
    error follows). mlplab stops at the step (θ is the last finite one); this is the
    rest of the diverging epoch and of the epochs after it, bookkeeping only.
    """
    end = next(cb for cb in trainer.callbacks if isinstance(cb, SklearnEpochEnd))
    est.network_._theta[...] = np.nan
    trainer.stop_training = False
    while est.n_iter_ < epochs and not trainer.stop_training:
        end.on_epoch_end(trainer.epoch, {"loss": float("nan")})


def _split(
    est: Any, X: np.ndarray, Y: np.ndarray, y_raw: Any, sw: np.ndarray | None, rs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[Any, np.ndarray, Any]]:
    """scikit-learn's held-out rows: ``train_test_split`` of the same rows with the same
    RandomState, stratified for one-output classifiers (on its 0/1 column)."""
    from sklearn.model_selection import train_test_split

    stratify = Y.astype(bool) if est._stratify() and Y.shape[1] == 1 else None
    rows = np.arange(X.shape[0])
    tr, val = train_test_split(
        rows, random_state=rs, test_size=est.validation_fraction, stratify=stratify
    )
    if val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size of "
            "your dataset."
        )
    y_raw = np.asarray(y_raw)
    w_tr, w_val = (None, None) if sw is None else (sw[tr], sw[val])
    validation = (X[val], y_raw[val], w_val)
    return X[tr], Y[tr], w_tr, validation
