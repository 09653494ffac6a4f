"""The scikit-learn classifier: labels → the binary or multiclass head, and back.

:class:`MLPClassifier` encodes the labels (any values scikit-learn accepts, strings
too; a 0/1 indicator matrix for multi-label targets) into the targets of the network's
head, and turns the logits back into probabilities and labels. Training is
:class:`~mlplab.sklearn._base._BaseMLP`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from mlplab.sklearn import _params
from mlplab.sklearn._base import _BaseMLP, stochastic_only
from mlplab.sklearn._data import check_sample_weight

__all__ = ["MLPClassifier"]


def _class_index(classes: np.ndarray, y: Any) -> np.ndarray | None:
    """Each label's index in ``classes`` (sorted, as LabelBinarizer sorts them), found by
    bisection; None when a label is not one of them or the labels cannot be compared."""
    y = np.asarray(y)
    if y.ndim != 1 or not len(classes):
        return None
    try:
        idx = np.searchsorted(classes, y)
        ok = idx < len(classes)
        ok[ok] = classes[idx[ok]] == y[ok]
    except TypeError:
        return None
    return idx if ok.all() else None


class MLPClassifier(ClassifierMixin, _BaseMLP):
    r"""Multi-layer perceptron classifier trained by backpropagation (scikit-learn API).

    Binary targets use the ``binary`` head (one sigmoid output), more than two classes the
    ``multiclass`` head (softmax), and a 0/1 indicator matrix (multi-label) one sigmoid
    per label. Labels may be any values scikit-learn accepts (strings too).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
    momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change, max_fun
        scikit-learn's, in its order, with its defaults and meanings (see
        ``sklearn.neural_network.MLPClassifier``), validated by its own machinery. The same
        ``random_state`` gives scikit-learn's model up to floating-point rounding. mlplab
        adds the activation ``"leaky_relu"`` (``"sigmoid"`` is ``"logistic"``) and the
        solvers below.
    init : str, optional
        An mlplab initializer (:mod:`mlplab.initializers`) instead of scikit-learn's
        Glorot-uniform draw (None).
    dtype : {"float32", "float64"}, optional
        Precision of the parameters and of training; None (default) follows X: float32 X
        trains in float32, anything else in float64, as scikit-learn.
    normalize : bool, default=False
        Standardize the features with the training set's mean and standard deviation
        (a :class:`~mlplab.data.Standardizer` attached to the network, saved with it).
    solver="momentum", "nesterov", "rmsprop", "adamw"
        mlplab's solvers: the lecture's momentum v = βv + (1−β)dW (β = ``momentum``) and its
        Nesterov form, RMSProp (ε = ``epsilon``), AdamW (``weight_decay``).
    dropout, batch_norm, lr_schedule, max_grad_norm, weight_decay
        The next lecture (their defaults change nothing): inverted dropout rate of the
        hidden units, batch normalization of every hidden layer, a learning-rate
        schedule counted in epochs (``"cosine"``, ``"step:10:0.5"``, ...), gradient
        clipping by global norm, and AdamW's λ (``solver="adamw"``); see
        :mod:`mlplab.sklearn._lecture2`.
    backend : {"numpy", "torch"}, default="numpy"
        Where the stochastic solvers train: mlplab's NumPy path, or PyTorch CPU tensors
        (``pip install 'mlplab[torch]'``), which pays for wide layers on CPUs where
        PyTorch's BLAS is the faster one (docs/guide/performance.md). The fitted network
        is NumPy either way; ``solver="lbfgs"`` needs ``"numpy"``.

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_,
    n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        scikit-learn's (``n_iter_``: the epochs of the last ``fit`` call).
    coefs_ : list of ndarray
        W[l].T of shape (n[l-1], n[l]), scikit-learn's layout: views of ``weights_``,
        writable, and assignable as a list.
    intercepts_ : list of ndarray
        b[l] of shape (n[l],) (views of ``biases_``; assignable).
    weights_ : list of ndarray
        W[l] of shape (n[l], n[l-1]), the lecture's layout.
    biases_ : list of ndarray
        b[l] of shape (n[l],).
    network_ : mlplab.Network
        The fitted network (with its Standardizer when ``normalize=True``).
    history_ : dict of str to list of float
        Everything logged per epoch: ``loss``, ``accuracy``, ``val_score`` (early
        stopping), ``lr`` (with ``lr_schedule``).

    Examples
    --------
    >>> from mlplab import MLPClassifier
    >>> X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 10
    >>> y = ["no", "yes", "yes", "yes"] * 10
    >>> clf = MLPClassifier(hidden_layer_sizes=(), solver="sgd", learning_rate_init=0.5,
    ...                     max_iter=2000, random_state=0).fit(X, y)  # logistic regression
    >>> clf.predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
    ['no', 'yes']
    >>> [W.shape for W in clf.weights_], [c.shape for c in clf.coefs_]
    ([(1, 2)], [(2, 1)])
    """

    classes_: np.ndarray
    _mode_: str  # 'binary', 'multiclass' or 'multilabel'

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        init: str | None = None,
        dtype: Any = None,
        normalize: bool = False,
        dropout: float | None = None,
        batch_norm: bool | None = None,
        lr_schedule: str | None = None,
        max_grad_norm: float | None = None,
        weight_decay: float | None = None,
        backend: str = "numpy",
    ) -> None:
        # scikit-learn's rule: store every parameter as given and check nothing (fit does)
        _params.store(self, locals())

    def _stratify(self) -> bool:
        return self._mode_ != "multilabel"

    def _binarize(self, y: np.ndarray) -> np.ndarray:
        """Labels → the head's targets: (n, 1) 0/1 for two classes, one-hot rows for
        more, the indicator matrix itself for multi-label (scikit-learn's LabelBinarizer)."""
        if self._mode_ == "multilabel":
            return np.asarray(y, dtype=np.float64)
        found = _class_index(self.classes_, y)
        if found is None:  # (labels it cannot place: LabelBinarizer's result, or error)
            lb = LabelBinarizer().fit(self.classes_)
            Y: np.ndarray = lb.transform(y).astype(np.float64)
            return Y
        if self._mode_ == "binary":  # one column: 1 for the second class
            Y = (found == 1).astype(np.float64).reshape(-1, 1)
            return Y
        Y = np.zeros((found.shape[0], len(self.classes_)))
        Y[np.arange(found.shape[0]), found] = 1.0
        return Y

    def _set_classes(self, y: np.ndarray, incremental: bool, shard: bool = False) -> None:
        """scikit-learn's ``_validate_input`` rules for ``classes_`` (define, or check).

        ``shard``: y is one MPI rank's rows, which may miss classes (checked as a subset).
        """
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            lb = LabelBinarizer().fit(y)
            self.classes_ = lb.classes_
            self._set_mode(lb.y_type_)
            return
        classes = unique_labels(y)
        if self.warm_start and not shard:
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                "`y` has classes not in `self.classes_`. "
                f"`self.classes_` has {self.classes_}. 'y' has {classes}."
            )

    def _set_mode(self, y_type: str) -> None:
        if y_type == "multilabel-indicator":
            self._mode_ = "multilabel"
        else:
            self._mode_ = "multiclass" if len(self.classes_) > 2 else "binary"

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, comm: Any = None
    ) -> MLPClassifier:
        first = self._begin_fit(incremental)

        def validate() -> tuple[Any, Any, np.ndarray | None]:
            X_, y_ = self._validate(X, y, comm, sample_weight, first)
            if y_.ndim == 2 and y_.shape[1] == 1:
                y_ = column_or_1d(y_, warn=True)
            return X_, y_, check_sample_weight(sample_weight, X_.shape[0])

        X, y, sw = self._on_every_rank(comm, validate)
        if comm is not None and (first or not hasattr(self, "classes_")):
            from mlplab.train.mpi import global_classes

            classes = global_classes(comm, None if np.ndim(y) == 2 else y)
            if classes is None:  # multi-label: the indicator's columns, on every rank
                self.__dict__.pop("classes_", None)
                self._on_every_rank(comm, lambda: self._set_classes(y, False))
            else:
                self.classes_ = classes
                self._set_mode("multiclass" if len(classes) > 2 else "binary")
        else:
            shard = comm is not None
            self._on_every_rank(comm, lambda: self._set_classes(y, incremental, shard))
        Y = self._binarize(y)
        head = "multiclass" if self._mode_ == "multiclass" else "binary"
        return self._run(X, Y, y, sw, incremental=incremental, first=first, head=head, comm=comm)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, comm: Any = None) -> MLPClassifier:
        """Train on (X, y), from scratch unless ``warm_start``; returns self.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n[0])
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label problems.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: J = Σ w_i L(i) / Σ w_i.
        comm : mpi4py.MPI.Comm, optional
            Data-parallel training over MPI ranks (:mod:`mlplab.distributed`): every rank
            calls ``fit`` with its contiguous shard of the rows (rank 0 the first ones) and
            the same parameters; ``batch_size`` is the global mini-batch. ``classes_`` are
            the labels of all ranks, the Standardizer (``normalize=True``) has the mean
            and standard deviation of all ranks' rows, and every rank ends with the model
            a single process fits on the concatenated data. Not with ``sample_weight``,
            ``early_stopping`` or ``solver="lbfgs"``.
        """
        return self._fit(X, y, sample_weight, incremental=False, comm=comm)

    @stochastic_only
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state.

        The arguments are in scikit-learn's order: ``sample_weight`` before ``classes``.
        ``classes`` (every label that will ever appear) is required on the first call,
        except for multi-label targets. The Standardizer (``normalize=True``) is fit on
        the first call's X and kept afterwards.
        """
        if _check_partial_fit_first_call(self, classes):
            y_arr = np.asarray(y)
            multilabel = type_of_target(y_arr).startswith("multilabel")
            lb = LabelBinarizer().fit(y_arr if multilabel else classes)
            self.classes_ = lb.classes_
            self._set_mode(lb.y_type_)
        return self._fit(X, y, sample_weight, incremental=True)

    def _proba_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self.network_.head.link(Z)
        if self._mode_ == "binary":
            return np.hstack([1.0 - P, P])
        return P

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (float64).

        Binary: columns P(classes_[0]), P(classes_[1]) = σ(z). Multiclass: softmax(z).
        Multi-label: one independent σ(z_k) per label.
        """
        return self._proba_from_logits(self._logits(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``, as scikit-learn defines it (so their argmax agree,
        and a probability that rounds to 0 gives −inf)."""
        with np.errstate(divide="ignore"):
            log_P: np.ndarray = np.log(self.predict_proba(X))
        return log_P

    def _labels_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self._proba_from_logits(Z)
        if self._mode_ == "multilabel":
            return (P > 0.5).astype(np.int64)
        if len(self.classes_) == 1:  # y held one class: that class (scikit-learn's)
            return np.repeat(self.classes_, P.shape[0])
        labels: np.ndarray = self.classes_[P.argmax(axis=1)]
        return labels

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (shape (n_samples,)), or a 0/1 matrix for multi-label."""
        return self._labels_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self._labels_from_logits(Z), sample_weight=w))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
