# %% [markdown]
# # 7. From the notebook to practice: estimators, CSV files, saving
#
# The same networks, in the tools people use day to day: scikit-learn's estimator API,
# CSV files and the command line, and model files. We work in a temporary folder.

# %%
import os
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlplab
from mlplab import plots

folder = tempfile.TemporaryDirectory()
os.chdir(folder.name)

# %% [markdown]
# ## A scikit-learn estimator
#
# `mlplab.MLPClassifier` takes scikit-learn's parameter names, so it drops into pipelines,
# cross-validation and grid searches. Its `weights_` are the lecture's W[l], (n[l], n[l-1]);
# `coefs_` are scikit-learn's transposed layout of the same numbers.

# %%
X, y = mlplab.load_dataset("breast_cancer")
clf = make_pipeline(StandardScaler(),
                    mlplab.MLPClassifier(hidden_layer_sizes=(16, 8), learning_rate_init=0.01,
                                         max_iter=200, early_stopping=True, random_state=0))
scores = cross_val_score(clf, X, y, cv=5)
print("5-fold accuracy:", scores.round(3), "mean", scores.mean().round(3))
clf.fit(X, y)
mlp = clf[-1]
print("W[l]:", [W.shape for W in mlp.weights_], " coefs_:", [C.shape for C in mlp.coefs_])
print("epochs:", mlp.n_iter_)
plots.plot_loss(mlp.history_)
plt.show()

# %% [markdown]
# ## CSV files and the command line
#
# `mlplab data export` writes a built-in dataset as CSV; `mlplab train --data` trains on any
# CSV with a header row, text columns and empty cells included, and stores the preprocessing
# in the model file, so `predict` reads new files the same way. (In a shell you would type
# `mlplab ...`; here we call it through the notebook's Python.)


# %%
def mlplab_cli(*args):
    out = subprocess.run([sys.executable, "-m", "mlplab", *args], capture_output=True,
                         text=True, check=True)
    print(out.stdout)


mlplab_cli("data", "export", "iris", "iris.csv")
mlplab_cli("train", "--data", "iris.csv", "--target", "species", "--layers", "16",
           "--epochs", "200", "--lr", "0.01", "--out", "iris_run", "--quiet")
with open("iris.csv") as f:
    lines = f.readlines()
with open("new_flowers.csv", "w") as f:
    f.writelines([lines[0], lines[1], lines[60], lines[120]])
mlplab_cli("predict", "iris_run/model.npz", "new_flowers.csv", "--proba")

# %% [markdown]
# ## Model files
#
# `mlplab.save` writes a `.npz` file with a JSON header: data only, never code, checked
# when it is read. The network trained by the command line loads in Python, and an
# estimator saves the same way.

# %%
net = mlplab.load("iris_run/model.npz")
print(net.summary())
mlplab.save(mlp, "breast_cancer_mlp.npz")
back = mlplab.load("breast_cancer_mlp.npz")
Xs = clf[0].transform(X)
print(type(back).__name__, "predicts the same:", np.array_equal(back.predict(Xs), mlp.predict(Xs)))
mlplab_cli("info", "breast_cancer_mlp.npz")

# %% [markdown]
# That is the whole path: the equations of the lecture (tutorials 1–6), the same network
# behind an estimator, a CSV file and a model file. The [user guide](../guide/csv-cli.md)
# has every option.

# %%
os.chdir(os.path.expanduser("~"))
folder.cleanup()
