"""Writes conv_torch.json: PyTorch 1.13's outputs for a few Conv2D, GroupNorm
(+SiLU), SiLU and nearest-upsampling cases, the goldens of
TestTorchGoldens (conv_golden_test.go), computed in float64 from the
float32 inputs (PyTorch's own float32 GroupNorm folds the mean into the
shift and is 1.2e-5 off on the mean-50 case; loupe is held to the exact
values).

Inputs are not stored: element i of a tensor named with seed s is
float32(sin(0.37*i + s) * 1.5), which the Go test computes the same way.
usage: /usr/bin/python3 conv_torch.py > conv_torch.json
"""
import json
import math

import torch
import torch.nn.functional as F


def det(n, s):
    return torch.tensor([math.sin(0.37 * i + s) * 1.5 for i in range(n)], dtype=torch.float64).float()


def r(t):
    """The tensor's values, printed with 10 significant digits."""
    return [float("%.10g" % v) for v in t.flatten().tolist()]


def main():
    torch.set_num_threads(1)
    out = {"conv": [], "groupnorm": [], "silu": None, "upsample": None}
    for (b, cin, h, w, cout, k, s, p, bias) in [
        (2, 5, 9, 7, 6, 3, 1, 1, True),
        (1, 4, 8, 8, 3, 3, 2, 1, True),
        (2, 7, 5, 6, 9, 1, 1, 0, False),
        (1, 3, 11, 10, 4, 5, 1, 2, True),
        (1, 20, 12, 11, 5, 3, 1, 1, True),
    ]:
        x = det(b * cin * h * w, 0.1).reshape(b, cin, h, w)
        wt = det(cout * cin * k * k, 0.7).reshape(cout, cin, k, k) * 0.3
        bv = det(cout, 1.3) if bias else None
        y = F.conv2d(x.double(), wt.double(), None if bv is None else bv.double(), stride=s, padding=p)
        out["conv"].append({"batch": b, "inC": cin, "h": h, "w": w, "outC": cout, "k": k,
                            "stride": s, "pad": p, "bias": bias,
                            "out": r(y)})
    for (b, c, hw, groups, silu, shift) in [(2, 8, 13, 4, True, 0.0), (1, 64, 9, 32, False, 50.0),
                                            (2, 12, 20, 3, True, -3.0)]:
        x = det(b * c * hw, 0.2).reshape(b, c, hw) + shift
        g, be = det(c, 0.5), det(c, 0.9)
        y = F.group_norm(x.double(), groups, g.double(), be.double(), 1e-5)
        if silu:
            y = F.silu(y)
        out["groupnorm"].append({"batch": b, "channels": c, "spatial": hw, "groups": groups,
                                 "silu": silu, "shift": shift, "out": r(y)})
    x = det(100, 0.3) * 6
    out["silu"] = r(F.silu(x.double()))
    x = det(2 * 3 * 4 * 5, 0.4).reshape(2, 3, 4, 5)
    out["upsample"] = r(F.interpolate(x, scale_factor=2, mode="nearest"))
    json.dump(out, __import__("sys").stdout)


if __name__ == "__main__":
    main()
