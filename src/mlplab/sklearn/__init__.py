"""scikit-learn estimators, for ``from mlplab.sklearn import MLPClassifier``.

The same classes as ``mlplab.MLPClassifier`` and ``mlplab.MLPRegressor`` (defined in
:mod:`mlplab.estimators`); importing this module imports scikit-learn.
"""

from mlplab.sklearn.estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
