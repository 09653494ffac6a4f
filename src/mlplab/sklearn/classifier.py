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
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from mlplab.sklearn._base import _BaseMLP
from mlplab.sklearn._data import check_sample_weight

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, _BaseMLP):
    r"""Multi-layer perceptron classifier trained by backpropagation (scikit-learn API).

    Binary targets use the ``binary`` head (one sigmoid output), more than two classes the
    ``multiclass`` head (softmax), and a 0/1 indicator matrix (multi-label) one sigmoid
    per label. Labels may be any values scikit-learn accepts (strings too).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        n[1], ..., n[L-1]: units of each hidden layer. ``()`` is logistic regression.
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"}, default="relu"
        g of the hidden layers (``"logistic"`` is the sigmoid σ).
    solver : {"adam", "sgd", "momentum", "nesterov", "rmsprop", "adamw"}, default="adam"
        The optimizer (see :mod:`mlplab.sklearn.estimators` for how it differs from
        scikit-learn's).
    alpha : float, default=1e-4
        λ of the L2 penalty (λ / 2n) Σ‖W[l]‖² (biases not penalized).
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is min(200, n_samples). n_samples gives batch GD.
    learning_rate_init : float, default=0.001
        The learning rate α.
    max_iter : int, default=200
        Maximum number of epochs.
    momentum : float, default=0.9
        β of the "momentum" and "nesterov" solvers, in the lecture's form.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's β1, β2 and ε.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and stop when the
        validation accuracy has not improved by ``tol`` for ``n_iter_no_change``
        epochs; the best epoch's parameters are kept. Without it, training stops when
        the training cost has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    random_state : int, Generator, RandomState or None, default=None
        Seeds the initialization, the shuffles and the validation split.
    verbose : bool, default=False
        Show a progress bar on stderr.
    warm_start : bool, default=False
        Continue from the fitted parameters and optimizer state on the next ``fit``.
    init : str, optional
        Weight initializer name (:mod:`mlplab.initializers`); default He for ReLU
        layers, Xavier otherwise.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the parameters and of training.
    normalize : bool, default=True
        Standardize the features with the training set's mean and standard deviation
        (a :class:`~mlplab.data.Standardizer` attached to the network).
    dropout, batch_norm, lr_schedule, max_grad_norm, weight_decay
        The next lecture (their defaults change nothing): inverted dropout rate of the
        hidden units, batch normalization of every hidden layer, a learning-rate
        schedule counted in epochs (``"cosine"``, ``"step:10:0.5"``, ...), gradient
        clipping by global norm, and AdamW's λ (``solver="adamw"``); see
        :mod:`mlplab.sklearn._lecture2`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (``arange(n_labels)`` for multi-label targets).
    n_features_in_ : int
        n[0].
    network_ : mlplab.Network
        The fitted network, with its Standardizer.
    weights_ : list of ndarray
        W[l] of shape (n[l], n[l-1]), the lecture's layout.
    biases_ : list of ndarray
        b[l] of shape (n[l],).
    coefs_ : list of ndarray
        W[l].T of shape (n[l-1], n[l]), scikit-learn's layout (views of ``weights_``).
    intercepts_ : list of ndarray
        Alias of ``biases_``.
    n_iter_ : int
        Epochs run since the network was created.
    loss_curve_ : list of float
        Training cost J per epoch (with the L2 term).
    history_ : dict of str to list of float
        Everything logged per epoch: ``loss``, ``accuracy``, ``grad_norm/W1``, ...,
        and ``val_score``/``val_loss`` with early stopping.
    best_loss_, validation_scores_, best_validation_score_, loss_, t_
        As in scikit-learn.

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

    def _stratify(self) -> bool:
        return self._mode_ != "multilabel"

    def _prepare_targets(
        self, y: Any, first: bool, classes: Any = None, partial: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels → (Y for the network, y as raw labels for scoring)."""
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = column_or_1d(y_arr, warn=True)
        check_classification_targets(y_arr)
        target = type_of_target(y_arr)
        if target == "multilabel-indicator":
            mode = "multilabel"
        elif target in ("binary", "multiclass"):
            mode = "single"
        else:
            raise ValueError(f"MLPClassifier does not support {target} targets")
        if first:
            if mode == "multilabel":
                self.classes_ = np.arange(y_arr.shape[1])
                self._mode_ = "multilabel"
            else:
                cls = np.unique(y_arr) if classes is None else np.unique(np.asarray(classes))
                if cls.shape[0] < 2:
                    raise ValueError(
                        f"y has only one class ({cls[0]!r}); a classifier needs at least "
                        "two classes"
                    )
                self.classes_ = cls
                self._mode_ = "binary" if cls.shape[0] == 2 else "multiclass"
        elif (mode == "multilabel") != (self._mode_ == "multilabel"):
            raise ValueError(
                f"y's type changed since the network was fitted: it was {self._mode_}, now {target}"
            )
        if self._mode_ == "multilabel":
            if y_arr.shape[1] != self.classes_.shape[0]:
                raise ValueError(
                    f"y has {y_arr.shape[1]} labels, the network was fitted with "
                    f"{self.classes_.shape[0]}"
                )
            return y_arr.astype(np.float64), y_arr
        unknown = ~np.isin(y_arr, self.classes_)
        if unknown.any():
            what = "classes passed to partial_fit" if partial else "classes seen when first fitted"
            raise ValueError(
                f"y has label {y_arr[unknown][0]!r}, which is not among the {what}: "
                f"{self.classes_.tolist()}"
            )
        idx = np.searchsorted(self.classes_, y_arr)
        if self._mode_ == "binary":
            return (idx == 1).astype(np.float64).reshape(-1, 1), y_arr
        return idx, y_arr

    def _fit(self, X, y, sample_weight, incremental, classes=None, comm=None):  # type: ignore[no-untyped-def]
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)

        def validate():  # type: ignore[no-untyped-def]
            X_, y_ = self._validate(X, y, sample_weight, comm, first)
            if (
                incremental
                and first
                and classes is None
                and type_of_target(y_) != ("multilabel-indicator")
            ):
                raise ValueError("classes must be passed on the first call to partial_fit")
            return X_, y_, check_sample_weight(sample_weight, X_.shape[0])

        X, y, sw = self._on_every_rank(comm, validate)
        if comm is not None and first:  # classes_: the labels of all ranks (a shard may miss some)
            from mlplab.train.mpi import global_classes

            multilabel = np.asarray(y).ndim == 2 and np.asarray(y).shape[1] > 1
            classes = global_classes(comm, None if multilabel else y)

        def targets():  # type: ignore[no-untyped-def]
            return self._prepare_targets(y, first, classes, partial=incremental)

        Y, y_raw = self._on_every_rank(comm, targets)
        if sw is not None and not incremental and self._mode_ != "multilabel":
            kept = np.unique(y_raw[sw > 0])
            if kept.shape[0] < 2:
                raise ValueError(
                    f"only one class ({kept[0]!r}) has a non-zero sample_weight; a "
                    "classifier needs at least two classes"
                )
        if first:
            n_out = self.classes_.shape[0] if self._mode_ != "binary" else 1
            head = "multiclass" if self._mode_ == "multiclass" else "binary"
            self._new_network(X.shape[1], n_out, head, X, sw, comm)
        self._train(X, Y, y_raw, sw, 1 if incremental else self.max_iter, incremental, comm)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None, comm: Any = None) -> MLPClassifier:
        """Train on (X, y), from scratch unless ``warm_start``; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n[0])
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
            a single process fits on the concatenated data. Not with ``sample_weight``
            or ``early_stopping``.
        """
        return self._fit(X, y, sample_weight, incremental=False, comm=comm)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> MLPClassifier:
        """One epoch of mini-batch updates on (X, y), keeping the optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call,
        except for multi-label targets. The Standardizer is fit on the first call's X
        and kept afterwards.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _proba_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self.network_.head.link(Z).astype(np.float64)
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
        """log of :meth:`predict_proba`, computed from the logits (no log(0))."""
        Z = self._logits(X)
        if self._mode_ == "multiclass":
            Zs = Z - Z.max(axis=1, keepdims=True)
            return Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True))
        # log σ(z) = −log(1 + e^{−z}), log(1 − σ(z)) = −log(1 + e^{z})
        if self._mode_ == "binary":
            return np.hstack([-np.logaddexp(0, Z), -np.logaddexp(0, -Z)])
        return -np.logaddexp(0, -Z)

    def _labels_from_logits(self, Z: np.ndarray) -> np.ndarray:
        P = self._proba_from_logits(Z)
        if self._mode_ == "multilabel":
            return (P > 0.5).astype(np.int64)
        return self.classes_[P.argmax(axis=1)]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (shape (n_samples,)), or a 0/1 matrix for multi-label."""
        return self._labels_from_logits(self._logits(X))

    def _score_logits(self, Z: np.ndarray, y: Any, w: Any) -> float:
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self._labels_from_logits(Z), sample_weight=w))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
