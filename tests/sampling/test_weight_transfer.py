"""Weights cross vLLM's RPC in chunks (msgspec refuses one bytes object of 2**32 bytes or more) and are
rebuilt in the worker exactly, in the engine's dtype, without vLLM."""

import torch

from mathlit.sampling.vllm import CHUNK_BYTES, cut, weight_chunks
from mathlit.sampling.vllm_worker import TrainerWeights, read_safetensors


def test_chunks_stay_under_the_rpc_limit_and_rebuild_the_weights_in_the_engine_dtype():
    torch.manual_seed(0)
    embed = torch.randn(50, 8)
    state = {"embed.weight": embed, "lm_head.weight": embed, "norm.weight": torch.ones(8), "step": torch.tensor(3)}
    chunks = list(weight_chunks(state, torch.bfloat16, chunk_bytes=256))
    assert len(chunks) > 3 and all(len(c) <= 256 for c in chunks)
    worker = TrainerWeights()
    for i, chunk in enumerate(chunks):
        worker.receive_weight_chunk(chunk, i == 0)
    rebuilt = read_safetensors(worker.incoming_weights)
    assert rebuilt.keys() == state.keys()
    assert rebuilt["embed.weight"].dtype == torch.bfloat16 and rebuilt["step"].dtype == torch.int64
    for name, tensor in state.items():
        assert torch.equal(rebuilt[name], tensor.to(rebuilt[name].dtype)), name
    assert CHUNK_BYTES < 2**32


def test_a_weight_file_over_4_gib_is_cut_into_pieces_the_rpc_accepts(tmp_path):
    """A 7B model in fp32 is ~28 GB; a sparse file mapped in memory stands in for its safetensors bytes."""
    import mmap

    size = 4 * 2**30 + 7
    with open(tmp_path / "weights", "w+b") as f:
        f.truncate(size)  # sparse: no disk or memory used
        with mmap.mmap(f.fileno(), size) as mapped:
            sizes = [len(piece) for piece in cut(mapped)]
    assert sizes == [CHUNK_BYTES] * 4 + [7] and max(sizes) < 2**32
