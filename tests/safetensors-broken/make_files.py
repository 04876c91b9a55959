#!/usr/bin/env python3
"""Writes the hand-made broken safetensors files of this directory and the fuzzing seed corpus.

Run from the repository root: python3 tests/safetensors-broken/make_files.py
The files are committed; this script documents how each was made. README.md lists what is
broken in each file and the message fragment the reader must report (BrokenSafeTensorsTest).
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "..", "resources", "dev", "rnn4j", "io", "SafeTensorsFuzzTestInputs", "fuzzRead")


def header_bytes(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def image(header, data=b"", length=None):
    """8-byte little-endian header length, header, data; length overrides the stated length."""
    h = header if isinstance(header, bytes) else header_bytes(header)
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


BROKEN = {
    "too_short": b"\x01\x02\x03\x04\x05",
    "header_length_huge": image({"a": entry("F32", [1], 0, 4)}, f32(1), length=1 << 60),
    "header_length_negative": image({}, b"", length=(1 << 64) - 16),
    "header_length_past_end": image({"a": entry("F32", [1], 0, 4)}, f32(1), length=1000),
    "header_length_tiny": image(b"{", b"", length=1),
    "header_not_utf8": image(b'{"\xff\xfe":1}'),
    "header_not_json": image(b"{not json}"),
    "header_not_object": image(b"[1,2,3]"),
    "header_trailing_garbage": image(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x', f32(1)),
    "duplicate_key": image(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                           b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)),
    "deep_nesting": image(b'{"__metadata__":' + b"[" * 300 + b"]" * 300 + b"}"),
    "unsupported_dtype": image({"a": entry("F8_E4M3", [1], 0, 1)}, b"\x38"),
    "dtype_not_string": image({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}, f32(1)),
    "missing_shape": image({"a": {"dtype": "F32", "data_offsets": [0, 4]}}, f32(1)),
    "unknown_field": image({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1}}, f32(1)),
    "negative_dimension": image({"a": entry("F32", [-1], 0, 4)}, f32(1)),
    "fractional_dimension": image(b'{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', f32(1)),
    "shape_overflow": image({"a": entry("F32", [65536, 65536], 0, 4)}, f32(1)),
    "forged_huge_tensor": image({"a": entry("F32", [2147483000], 0, 8589932000)}, f32(1, 2)),
    "offsets_reversed": image({"a": entry("F32", [1], 4, 0)}, f32(1)),
    "offsets_negative": image({"a": entry("F32", [1], -4, 0)}, f32(1)),
    "offsets_past_end": image({"a": entry("F32", [2], 0, 8)}, f32(1)),
    "offsets_not_integers": image(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4.0]}}', f32(1)),
    "offsets_three_numbers": image({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, f32(1)),
    "offset_out_of_range": image(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e400]}}', f32(1)),
    "size_mismatch": image({"a": entry("F32", [3], 0, 8)}, f32(1, 2)),
    "overlap": image({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, f32(1, 2, 3)),
    "gap": image({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, f32(1, 2, 3)),
    "trailing_bytes": image({"a": entry("F32", [1], 0, 4)}, f32(1, 2)),
    "truncated_data": image({"a": entry("F32", [4], 0, 16)}, f32(1, 2)),
    "metadata_not_strings": image({"__metadata__": {"k": 1}, "a": entry("F32", [1], 0, 4)}, f32(1)),
    "metadata_not_object": image({"__metadata__": "x", "a": entry("F32", [1], 0, 4)}, f32(1)),
    "entry_not_object": image({"a": [1, 2]}),
    "unpaired_surrogate_escape": image(b'{"\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)),
}

SEED = {
    "valid_f32": image({"w": entry("F32", [2, 2], 0, 16)}, f32(1, 2, 3, 4)),
    "valid_f16_bf16": image({"h": entry("F16", [2], 0, 4), "b": entry("BF16", [2], 4, 8)},
                            struct.pack("<4H", 0x3C00, 0x7C00, 0x3F80, 0xFF80)),
    # 1.0, 1e300 (past float32's range: narrowed to inf), -0.0, 0.1 (rounded).
    "valid_f64": image({"d": entry("F64", [4], 0, 32)}, struct.pack("<4d", 1.0, 1e300, -0.0, 0.1)),
    "valid_metadata": image({"__metadata__": {"format": "pt", "note": "\u00e9\u4e2d"}, "x": entry("F32", [1], 0, 4)}, f32(-0.0)),
    "valid_empty_tensors": image({"e": entry("F32", [0, 3], 0, 0), "s": entry("F32", [], 0, 4)}, f32(7)),
    "valid_no_tensors": image({}),
    "valid_padded_header": image(header_bytes({"a": entry("F32", [1], 0, 4)}) + b"    ", f32(1)),
    "valid_two_ordered_by_offset": image({"late": entry("F32", [1], 4, 8), "early": entry("F32", [1], 0, 4)}, f32(1, 2)),
}


def main():
    os.makedirs(SEEDS, exist_ok=True)
    for name, data in BROKEN.items():
        with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
            f.write(data)
        with open(os.path.join(SEEDS, "broken_" + name), "wb") as f:
            f.write(data)
    for name, data in SEED.items():
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
