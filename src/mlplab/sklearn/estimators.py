r"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

A thin shell over :class:`mlplab.Network` and :class:`mlplab.Trainer`: ``fit`` validates
the data with scikit-learn's tools, encodes the labels, builds a network (with a
:class:`~mlplab.data.Standardizer` when ``normalize=True``) and runs the trainer. Every
equation lives in the core; this module only translates between conventions.

They are drop-ins for ``sklearn.neural_network``'s estimators: the same parameters,
attributes, methods and numbers (:mod:`mlplab.sklearn._fitting` says how). Conventions:

* ``weights_[l-1]`` is the lecture's W[l] of shape (n[l], n[l-1]); ``coefs_[l-1]`` is its
  transpose W[l]ᵀ of shape (n[l-1], n[l]), scikit-learn's (fan_in, fan_out) layout.
  Both are views of the fitted network's parameters (writing into them changes the model).
* ``solver="sgd"`` and ``"adam"`` are scikit-learn's update rules
  (:mod:`mlplab.core.sklearn_updates`); ``"momentum"`` and ``"nesterov"`` the lecture's
  v = βv + (1−β)dW, whose steps are (1−β) times scikit-learn's for the same
  ``learning_rate_init``; ``"lbfgs"`` is SciPy's L-BFGS-B on mlplab's gradient.
* ``alpha`` is the same L2 penalty: J += (α / 2|B|) Σ‖W[l]‖² per batch.
* ``normalize=True`` (default False) standardizes every feature with the training set's
  mean and standard deviation, stored with the model; scikit-learn leaves that to a Pipeline.
* ``dtype=None`` (default) trains in X's precision (float32 or float64), as scikit-learn.

Sample weights give the weighted cost J = Σ_i w_i L(i) / Σ_i w_i per mini-batch, so
integer weights are equivalent to repeating rows (a weight of 0 removes a row); they go
to ``Trainer.fit(sample_weight=...)`` and from there to the head
(:func:`mlplab.core.heads.weighted_loss_and_grad`: dZ[L] = w_i (a[L] − y)_i / Σw).

The classes live in one module each (:mod:`mlplab.sklearn.classifier`,
:mod:`mlplab.sklearn.regressor`, their shared training in :mod:`mlplab.sklearn._base`);
this module is where they are imported from.
"""

# per_sample_loss, weighted_loss_and_grad, ACTIVATION_NAMES and SOLVERS were defined here
# before the split: still importable from here.
from mlplab.core.heads import per_sample_loss, weighted_loss_and_grad  # noqa: F401
from mlplab.sklearn._params import ACTIVATION_NAMES, SOLVERS  # noqa: F401
from mlplab.sklearn.classifier import MLPClassifier
from mlplab.sklearn.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
