"""Sanity baselines: what a run's test score should beat, fitted on the same training split.

A model's score means little alone. Every run can be put beside

- a **trivial** baseline: the majority class (classification), or persistence,
  the last input value repeated (forecasting);
- a **cheap strong** baseline: TF-IDF over word and bigram ids + logistic
  regression (token inputs: what the model reads, ids and all), logistic
  regression on each clip's per-channel mean and standard deviation (frame
  inputs such as log-mels), a linear map from the lookback window to the horizon
  (series, channel-independent like DLinear's linear layer, fitted in closed
  form by ridge regression).

They read the model's own batched `(x, y)` datasets, so they see exactly the
inputs the model saw (after vocabulary capping and truncation). `sanity_check`
compares a run's test metrics with them and returns plain warnings.

Example:

>>> import numpy as np
>>> y_train, y_test = np.array([0, 0, 1]), np.array([0, 1])
>>> majority_accuracy(y_train, y_test)
0.5
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = [
    "collect",
    "for_task",
    "linear_forecast",
    "majority_accuracy",
    "pooled_logistic_accuracy",
    "sanity_check",
    "tfidf_logistic_accuracy",
]

# A model "beats" a baseline unless it is worse by more than this (accuracy points / relative MSE).
ACCURACY_MARGIN = 0.01
MSE_MARGIN = 0.0


def collect(dataset: Iterable, limit: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """The examples of a batched `(x, y)` dataset as a list of per-example arrays and stacked labels.

    Token batches may be padded to different lengths; each example keeps its own
    length (trailing padding, id 0, removed).
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for x, y in dataset:
        x, y = np.asarray(x), np.asarray(y)
        for row in range(len(x)):
            item = x[row]
            if np.issubdtype(item.dtype, np.integer) and item.ndim == 1:
                nonzero = np.flatnonzero(item)
                item = item[: nonzero[-1] + 1] if len(nonzero) else item[:0]
            xs.append(item)
        ys.append(y)
        if limit is not None and len(xs) >= limit:
            break
    labels = np.concatenate(ys) if ys else np.zeros((0,))
    return xs[:limit] if limit else xs, labels[:limit] if limit else labels


def majority_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of always predicting the training split's most frequent class."""
    values, counts = np.unique(np.asarray(y_train).reshape(-1), return_counts=True)
    return float(np.mean(np.asarray(y_test).reshape(-1) == values[np.argmax(counts)]))


def _ids_as_text(rows: list[np.ndarray]) -> list[str]:
    return [" ".join(map(str, row.tolist())) for row in rows]


def tfidf_logistic_accuracy(
    train_ids: list[np.ndarray], y_train: np.ndarray, test_ids: list[np.ndarray], y_test: np.ndarray,
    *, ngrams: int = 2, c: float = 10.0,
) -> float:
    """TF-IDF over id uni- and bigrams + logistic regression (scikit-learn, `C=c`), fitted on train.

    Example:

    >>> rows = [np.array([1, 5, 6]), np.array([2, 7, 8])] * 10
    >>> tfidf_logistic_accuracy(rows, np.array([0, 1] * 10), rows[:2], np.array([0, 1]))
    1.0
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, ngrams), token_pattern=r"\S+", sublinear_tf=True, min_df=1)
    train = vectorizer.fit_transform(_ids_as_text(train_ids))
    test = vectorizer.transform(_ids_as_text(test_ids))
    classifier = LogisticRegression(C=c, max_iter=1000)
    classifier.fit(train, np.asarray(y_train).reshape(-1))
    return float(np.mean(classifier.predict(test) == np.asarray(y_test).reshape(-1)))


def _pool(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.concatenate([f.mean(axis=0), f.std(axis=0)]) for f in frames])


def pooled_logistic_accuracy(
    train_x: list[np.ndarray], y_train: np.ndarray, test_x: list[np.ndarray], y_test: np.ndarray, *, c: float = 1.0,
) -> float:
    """Logistic regression on each example's per-channel mean and standard deviation over time
    (standardised with training statistics)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    classifier.fit(_pool(train_x), np.asarray(y_train).reshape(-1))
    return float(np.mean(classifier.predict(_pool(test_x)) == np.asarray(y_test).reshape(-1)))


def linear_forecast(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, *, alpha: float = 1.0,
) -> np.ndarray:
    """A linear map from the lookback window to the horizon, shared by every target variable
    (channel-independent, as DLinear's linear layer), fitted by ridge regression on train.

    Args:
        train_x: `(windows, lookback, variables)`; the targets are the last `train_y.shape[-1]` variables.
        train_y: `(windows, horizon, targets)`.
        test_x: `(windows, lookback, variables)`.

    Returns:
        `(windows, horizon, targets)` forecasts for `test_x`.

    Example:

    >>> x = np.arange(40.0).reshape(10, 4, 1); y = x[:, -1:, :] + 1.0
    >>> np.round(linear_forecast(x, y, x[:2], alpha=1e-6)[:, 0, 0], 3).tolist()
    [4.0, 8.0]
    """
    from sklearn.linear_model import Ridge

    targets = train_y.shape[-1]
    def per_channel(x):  # (windows, lookback, targets) -> (windows * targets, lookback)
        return np.moveaxis(x[..., -targets:], -1, 1).reshape(-1, x.shape[1])

    inputs = per_channel(np.asarray(train_x, np.float64))
    outputs = np.moveaxis(np.asarray(train_y, np.float64), -1, 1).reshape(-1, train_y.shape[1])
    model = Ridge(alpha=alpha).fit(inputs, outputs)
    pred = model.predict(per_channel(np.asarray(test_x, np.float64)))
    return np.moveaxis(pred.reshape(len(test_x), targets, train_y.shape[1]), 1, -1)


def sanity_check(metrics: dict[str, Any], baselines: dict[str, float]) -> list[str]:
    """Plain warnings where the model's test score does not beat a baseline.

    `metrics` holds `test_accuracy` or `test_mse`; `baselines` maps
    `"<name>_accuracy"` / `"<name>_mse"` to the baseline's score on the same test split.

    Example:

    >>> sanity_check({"test_accuracy": 0.62}, {"majority_accuracy": 0.5, "tfidf_logistic_accuracy": 0.85})
    ['warning: test accuracy 0.6200 is below the tfidf_logistic baseline (0.8500): the model has not learned what a linear model on the same inputs learns; train longer or check the defaults']
    """
    warnings = []
    for key, value in sorted(baselines.items()):
        if value is None:
            continue
        name, _, metric = key.rpartition("_")
        ours = metrics.get(f"test_{metric}")
        if ours is None:
            continue
        worse = ours < value - ACCURACY_MARGIN if metric == "accuracy" else ours > value * (1 + MSE_MARGIN)
        if worse:
            hint = ("the model does no better than chance" if name in ("majority", "persistence")
                    else "the model has not learned what a linear model on the same inputs learns")
            warnings.append(f"warning: test {metric} {ours:.4f} is {'below' if metric == 'accuracy' else 'above'} "
                            f"the {name} baseline ({value:.4f}): {hint}; train longer or check the defaults")
    return warnings


def for_task(data: Any, limit: int = 50_000) -> dict[str, float]:
    """The baselines that fit a recipe's `TaskData` (its `model_kwargs` say the input kind and head),
    each scored on the test split: `{"majority_accuracy": ..., "tfidf_logistic_accuracy": ...}` or
    `{"linear_mse": ..., "linear_mae": ...}`. Other heads (language models): `{}`."""
    task = data.model_kwargs
    head, inputs = task.get("head", "classification"), task.get("inputs", "tokens")
    if head not in ("classification", "forecast"):
        return {}
    train_x, train_y = collect(data.train, limit)
    test_x, test_y = collect(data.test)
    if not len(train_y) or not len(test_y):
        return {}
    if head == "forecast":
        pred = linear_forecast(np.stack(train_x), train_y, np.stack(test_x))
        error = pred - np.asarray(test_y, np.float64)
        return {"linear_mse": float(np.mean(error**2)), "linear_mae": float(np.mean(np.abs(error)))}
    out = {"majority_accuracy": majority_accuracy(train_y, test_y)}
    if len(np.unique(train_y)) < 2:
        return out  # one class: nothing for a classifier to fit
    if inputs == "tokens":
        out["tfidf_logistic_accuracy"] = tfidf_logistic_accuracy(train_x, train_y, test_x, test_y)
    else:
        out["pooled_logistic_accuracy"] = pooled_logistic_accuracy(train_x, train_y, test_x, test_y)
    return out
