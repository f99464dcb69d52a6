# Regenerate with: cd npy/testdata && /usr/bin/python3 gen.py
# Small .npy fixtures written by NumPy itself, for npy_test.go.
import numpy as np

a = np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5
np.save("f4.npy", a)
np.save("f8.npy", a.astype(np.float64))
np.save("fortran.npy", np.asfortranarray(a))
np.save("i4.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
np.save("be.npy", a.astype(">f4"))
np.save("one_d.npy", np.arange(5, dtype=np.float32))
np.save("empty.npy", np.zeros((0, 4), dtype=np.float32))
# Version 2.0 header (NumPy picks it only for huge headers; force it).
with open("v2.npy", "wb") as f:
    np.lib.format.write_array(f, a, version=(2, 0))
with open("v3.npy", "wb") as f:
    np.lib.format.write_array(f, a, version=(3, 0))
