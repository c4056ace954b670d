"""One-class detection on sets of sequences: which autoencoder should `LSTMAnomalyDetector.fit` use by default?

For each UCR set below (aeon's wheel, read offline by `lstmae.datasets.load_real`) and each of its first three
classes: the detector is fitted on that class's training sequences, and the test sequences of every other class
are the anomalies (ROC-AUC of `anomaly_score`). Compared: the teacher-forced autoencoder chosen for long series
(`default_autoencoder(series=True)`), the plain reconstruction (`default_autoencoder(series=False)`, 0.3's
default) and PCA (95 % of the variance) on the flattened sequences. Seed 0, one torch thread.

    .venv-bench/bin/python bench/anomaly_sequences.py    # about 3 minutes on 2 cores
"""
import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from lstmae import LSTMAnomalyDetector
from lstmae.data.datasets import load_real
from lstmae.detector import default_autoencoder

DATASETS = ("gunpoint", "italy-power-demand", "arrowhead", "osuleaf")


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    means = {}
    for name in DATASETS:
        tr, te = load_real(name, split="train"), load_real(name, split="test")
        x_train, y_train = np.stack(tr.sequences).astype(np.float32), np.asarray(tr.labels)
        x_test, y_test = np.stack(te.sequences).astype(np.float32), np.asarray(te.labels)
        out: dict[str, list[float]] = {}
        for c in np.unique(y_train)[:3]:
            normal, anomalous = x_train[y_train == c], (y_test != c).astype(int)
            for label, series in (("teacher-forced (series default)", True), ("plain (sequences default)", False)):
                det = LSTMAnomalyDetector(autoencoder=default_autoencoder(series), random_state=0, verbose=False)
                out.setdefault(label, []).append(roc_auc_score(anomalous, det.fit(normal).anomaly_score(x_test)))
            flat, flat_test = normal.reshape(len(normal), -1), x_test.reshape(len(x_test), -1)
            pca = PCA(0.95, random_state=0).fit(flat)
            error = ((flat_test - pca.inverse_transform(pca.transform(flat_test))) ** 2).mean(axis=1)
            out.setdefault("PCA", []).append(roc_auc_score(anomalous, error))
        print(name, {k: round(float(np.mean(v)), 3) for k, v in out.items()}, flush=True)
        for k, v in out.items():
            means.setdefault(k, []).append(float(np.mean(v)))
    print("mean", {k: round(float(np.mean(v)), 3) for k, v in means.items()})


if __name__ == "__main__":
    main()
