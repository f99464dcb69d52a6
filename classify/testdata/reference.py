#!/usr/bin/python3
"""Golden logistic-regression fits from scikit-learn (Debian python3-sklearn).

Regenerate from the repository root:

    /usr/bin/python3 classify/testdata/reference.py

Writes classify/testdata/sklearn.json: small synthetic data sets (Gaussian
blobs, imbalanced classes) with the coef_ and intercept_ that
LogisticRegression(multi_class="multinomial", solver="lbfgs") finds for a few
values of C and class_weight, fitted to a tight tolerance.
"""
import json
import os

import numpy as np
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))


def blobs(rng, n_per, d, k, spread):
    centers = rng.normal(size=(k, d))
    X, y = [], []
    for c, n in enumerate(n_per):
        X.append(centers[c] + spread * rng.normal(size=(n, d)))
        y += [c] * n
    return np.vstack(X).astype(np.float32), np.array(y)


def main():
    rng = np.random.default_rng(7)
    cases = []
    for name, n_per, d, k, spread in [("three", [20, 20, 20], 5, 3, 0.8), ("imbalanced", [40, 10, 6, 4], 6, 4, 1.0),
                                      ("binary", [15, 25], 4, 2, 1.2)]:
        X, y = blobs(rng, n_per, d, k, spread)
        for C in (1.0, 0.1):
            for cw in (None, "balanced"):
                clf = LogisticRegression(C=C, class_weight=cw, multi_class="multinomial", solver="lbfgs",
                                         tol=1e-12, max_iter=100000)
                clf.fit(X.astype(np.float64), y)
                coef, icpt = clf.coef_, clf.intercept_
                if k == 2:  # binary multinomial: coef_ is class 1's row, class 0's is -coef_
                    coef = np.vstack([-coef[0], coef[0]])
                    icpt = np.array([-icpt[0], icpt[0]])
                cases.append({"name": "%s C=%g %s" % (name, C, cw), "C": C, "class_weight": cw or "",
                              "X": X.tolist(), "y": y.tolist(), "k": k,
                              "coef": coef.tolist(), "intercept": icpt.tolist(),
                              "accuracy": float(clf.score(X, y))})
    with open(os.path.join(HERE, "sklearn.json"), "w") as f:
        json.dump(cases, f)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
