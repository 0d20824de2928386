#!/usr/bin/env python3
"""Write small GAU-alpha-shaped safetensors files the way PyTorch tooling does.

The Go package safetensors reads these files in its tests to prove that
checkpoints move between PyTorch and this project. Regenerate with:

    /usr/bin/python3 scripts/make_pt_safetensors.py

(Debian's python3-torch; the `python3` first on PATH may lack torch.) It writes,
under safetensors/testdata/:

  gau_alpha_tiny_pt.safetensors
      float32; every state-dict name present, including
      cls.predictions.decoder.weight as a separate copy of the word embeddings
      (what safetensors.torch.save_file writes once the tie has been cloned:
      save_file itself refuses tensors that share storage).
  gau_alpha_tiny_pt_tied_bf16.safetensors
      bfloat16; the tied decoder weight is absent, as when the shared tensor is
      dropped before saving (transformers' save_pretrained drops the names in
      _tied_weights_keys, here the decoder).
  gau_alpha_tiny_pt.json
      for each file and tensor: dtype, shape, the sum (float64, computed in
      torch from the stored values) and the first 5 stored values as float64,
      so the Go test checks values independently of the Go decoder.

The Python `safetensors` package is not installable here, so the writer below
re-implements safetensors.torch.save_file from the format's reference
implementation (safetensors/src/tensor.rs, `prepare` and `serialize`):

  * tensors are ordered by dtype descending in the Rust Dtype enum order
    (BOOL < ... < BF16 < I32 < U32 < F32 < C64 < F64 < I64 < U64, which is
    roughly increasing alignment), then by name ascending;
  * data_offsets are consecutive with no padding between tensors;
  * the header is serde_json's compact output: "__metadata__" first when
    metadata is given, then the tensors in data order, each as
    {"dtype":..,"shape":[..],"data_offsets":[b,e]} with no spaces;
  * the header is padded with spaces (0x20) to a multiple of 8 bytes and its
    padded length is the leading little-endian u64.

What could not be verified here: byte-for-byte equality with a file written
by the real save_file (no safetensors wheel and no network), and the key
order inside "__metadata__" when it has several keys (a Rust HashMap, so
unspecified; the files here have one key, "format": "pt"). The layout above
was checked against the byte vectors in the reference implementation's unit
tests (test_serialization, test_empty, test_serialization_forced_alignement).
"""

import json
import os
import struct
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "safetensors", "testdata")

VOCAB, H, E, D, LAYERS = 50, 16, 24, 8, 2
METADATA = {"format": "pt"}
DECODER = "cls.predictions.decoder.weight"
WORD_EMB = "gau_alpha.embeddings.word_embeddings.weight"

# Rank of each dtype in the Rust Dtype enum (only the relative order matters).
RUST_DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2",
                    "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
                    "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64",
                    "I64", "U64"]

TORCH_TO_ST = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def build_state_dict():
    """A GAU-alpha state dict in PyTorch layouts (nn.Linear weight is [out, in])."""
    torch.manual_seed(0)
    sd = {}
    sd[WORD_EMB] = torch.empty(VOCAB, H).normal_(0.0, 0.02)
    sd["gau_alpha.embeddings.token_type_embeddings.weight"] = torch.empty(2, H).normal_(0.0, 0.02)
    for i in range(LAYERS):
        pre = "gau_alpha.encoder.layer.%d.gau." % i
        sd[pre + "i_dense.weight"] = torch.empty(2 * E + D, H).normal_(0.0, 0.02)
        sd[pre + "o_dense.weight"] = torch.empty(H, E).normal_(0.0, 0.02)
        sd[pre + "q_scaleoffset.weight"] = torch.empty(D).normal_(1.0, 0.02)
        sd[pre + "k_scaleoffset.weight"] = torch.empty(D).normal_(1.0, 0.02)
    # The MLM decoder is tied to the word embeddings: same storage.
    sd[DECODER] = sd[WORD_EMB]
    return sd


def tensor_bytes(t):
    """Little-endian C-order bytes of t, as save_file stores them."""
    assert sys.byteorder == "little"
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def serialize(tensors, metadata):
    """Bytes of a safetensors file, laid out like safetensors' Rust writer."""
    def key(item):
        name, t = item
        return (-RUST_DTYPE_ORDER.index(TORCH_TO_ST[t.dtype]), name)

    ordered = sorted(tensors.items(), key=key)
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, t in ordered:
        data = tensor_bytes(t)
        header[name] = {
            "dtype": TORCH_TO_ST[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        chunks.append(data)
    # serde_json::to_string: compact, non-ASCII kept as UTF-8.
    hbytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    return struct.pack("<Q", len(hbytes)) + hbytes + b"".join(chunks)


def check_file(raw, tensors, metadata):
    """Parse raw back independently of serialize and compare."""
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert header.pop("__metadata__") == metadata
    buf = raw[8 + n:]
    assert set(header) == set(tensors)
    end = 0
    for name, info in header.items():  # dict keeps file order
        b, e = info["data_offsets"]
        assert b == end, name
        end = e
        t = tensors[name]
        assert info["shape"] == list(t.shape)
        assert buf[b:e] == tensor_bytes(t)
    assert end == len(buf)


def first5_sum(t):
    flat = t.detach().reshape(-1).to(torch.float64)
    return [float(v) for v in flat[:5]], float(flat.sum())


def describe(tensors):
    out = {}
    for name in sorted(tensors):
        t = tensors[name]
        first5, total = first5_sum(t)
        out[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                     "sum": total, "first5": first5}
    return out


def main():
    sd = build_state_dict()
    assert sd[DECODER].data_ptr() == sd[WORD_EMB].data_ptr()

    # File 1: save_file after the tie is broken with clone().
    f32 = {k: v.clone() for k, v in sd.items()}
    # File 2: bfloat16, the shared decoder name dropped.
    bf16 = {k: v.to(torch.bfloat16) for k, v in sd.items() if k != DECODER}

    files = {
        "gau_alpha_tiny_pt.safetensors": f32,
        "gau_alpha_tiny_pt_tied_bf16.safetensors": bf16,
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    summary = {
        "generator": "scripts/make_pt_safetensors.py",
        "torch_version": torch.__version__,
        "config": {"vocab_size": VOCAB, "hidden_size": H, "intermediate_size": E,
                   "attention_key_size": D, "num_hidden_layers": LAYERS},
        "metadata": METADATA,
        "files": {},
    }
    for fname, tensors in files.items():
        raw = serialize(tensors, METADATA)
        check_file(raw, tensors, METADATA)
        with open(os.path.join(OUT_DIR, fname), "wb") as fh:
            fh.write(raw)
        summary["files"][fname] = {"tensors": describe(tensors)}
        print("wrote %s (%d bytes, %d tensors)" % (fname, len(raw), len(tensors)))

    with open(os.path.join(OUT_DIR, "gau_alpha_tiny_pt.json"), "w") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print("wrote gau_alpha_tiny_pt.json")


if __name__ == "__main__":
    main()
