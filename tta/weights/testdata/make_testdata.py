#!/usr/bin/python3
"""Makes the reference files of tta/weights' tests with torch and numpy (independent of the Go code).

Run from this directory:  /usr/bin/python3 make_testdata.py
"""
import json
import struct

import numpy as np
import torch

rng = np.random.default_rng(20261127)

# --- float16 / bfloat16 rounding, as torch does it -------------------------------------------------------------
special = [0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 6.0e-8, 3.0e-8, 2.9e-8,
           1e-10, 6.1035156e-05, 5.9604645e-08, 1.0009765625, 1.00048828125, 1.000732421875, 1.0000000001,
           3.0e38, -3.4e38, 1.0e-39, float("inf"), float("-inf"), float("nan"),
           # bfloat16 ties: 1 + 2^-8 (tie, round to even = 1), 1 + 3*2^-8 (tie, round up)
           1.00390625, 1.01171875, 1.0039063, 255.5, 257.0, 259.0]
vals = np.array(special + list(rng.standard_normal(200) * 10.0 ** rng.integers(-6, 6, 200)), dtype=np.float32)
t = torch.from_numpy(vals)
np.save("round_values_f32.npy", vals)
np.save("round_f16_bits.npy", t.to(torch.float16).view(torch.int16).numpy().view(np.uint16))
np.save("round_bf16_bits.npy", t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
np.save("round_f16_as_f32.npy", t.to(torch.float16).to(torch.float32).numpy())
np.save("round_bf16_as_f32.npy", t.to(torch.bfloat16).to(torch.float32).numpy())

# --- a safetensors file written by hand: 8-byte LE header length + JSON header + raw LE data ---------------------
tensors = {
    "a.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7 - 0.3,
    "b.f16": torch.tensor([0.5, -2.25, 1000.0, 1e-5], dtype=torch.float16),
    "c.bf16": torch.tensor([[1.5, -3.0e10], [7.0e-20, 0.1]], dtype=torch.bfloat16),
    "d.i64": torch.tensor([-(2 ** 40), 0, 2 ** 50 + 3], dtype=torch.int64),
    "e.i32.scalar": torch.tensor(-123456, dtype=torch.int32),
    "f.u8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
    "g.bool": torch.tensor([True, False, True], dtype=torch.bool),
    "h.f64": torch.tensor([[1.0 / 3], [-2.5e-300]], dtype=torch.float64),
    "i.i8": torch.tensor([-128, 127], dtype=torch.int8),
    "conv.weight": torch.from_numpy(rng.standard_normal((4, 3, 2, 2)).astype(np.float32)),
    "empty": torch.zeros((0, 3), dtype=torch.float32),
}
header = {"__metadata__": {"format": "pt", "made_by": "make_testdata.py"}}
blobs = []
offset = 0
for name, x in tensors.items():
    if x.dtype == torch.bfloat16:
        raw = x.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        raw = x.numpy().astype(x.numpy().dtype.newbyteorder("<")).tobytes()
    dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
          torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL", torch.float64: "F64", torch.int8: "I8"}[x.dtype]
    header[name] = {"dtype": dt, "shape": list(x.shape), "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
hjson = json.dumps(header).encode()
hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)
with open("python_written.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(hjson)))
    f.write(hjson)
    for b in blobs:
        f.write(b)
# Expected values, in numpy dtypes (bfloat16 as its exact float32 value).
for name, x in tensors.items():
    arr = x.to(torch.float32).numpy() if x.dtype == torch.bfloat16 else x.numpy()
    np.save("st_%s.npy" % name, arr)
np.save("st_conv.weight_hwio.npy", np.ascontiguousarray(tensors["conv.weight"].numpy().transpose(2, 3, 1, 0)))

# --- .npy files written by numpy ---------------------------------------------------------------------------------
np.save("np_f32_2x3x4.npy", (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 3)
np.save("np_f64_5.npy", np.array([1e-300, -0.5, 2.0 ** 60, np.pi, -np.e], dtype=np.float64))
np.save("np_i64_2x2.npy", np.array([[-(2 ** 62), 1], [2, 2 ** 62 + 7]], dtype=np.int64))
np.save("np_i32_3x1.npy", np.array([[-7], [0], [2 ** 31 - 1]], dtype=np.int32))
np.save("np_u8_2x2x3.npy", np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 21)
np.save("np_f32_scalar.npy", np.array(2.5, dtype=np.float32))
np.save("np_f32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
np.save("np_f32_fortran_3x4.npy", np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
np.save("np_f32_bigendian_2x3.npy", np.arange(6, dtype=">f4").reshape(2, 3) * 1.5)
np.save("np_f16_4.npy", np.array([0.5, -2.25, 1000.0, 1e-5], dtype=np.float16))
np.save("np_bool_3.npy", np.array([True, False, True]))
with open("np_f32_v2_2x2.npy", "wb") as f:
    np.lib.format.write_array(f, np.array([[1, 2], [3, 4]], dtype=np.float32), version=(2, 0))
