"""Methods mixed into vLLM's workers (`worker_extension_cls`), called by name through collective_rpc: new
weights (sent in memory, or read from a saved folder) and the seed of the next call on CPU.

Named methods, not pickled callables (vLLM refuses to pickle functions unless insecure serialization
is on), and weights as a safetensors file in chunks: plain bytes survive vLLM's RPC encoding, which turns
tensors nested in arguments into lists and refuses a bytes object of 4 GiB or more; safetensors cannot
carry code. The weights go through vLLM's in-place reload, which also redoes the kernel repacking done
after the first load (on CPU the linear layers are repacked, and a plain `load_weights` no longer finds
their loaders).
"""

import json

import torch

# safetensors' dtype names
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(buffer: bytearray) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file held in `buffer`, as views of it (safetensors' own `load` wants
    immutable bytes: one more copy of the whole model)."""
    header_len = int.from_bytes(buffer[:8], "little")
    header = json.loads(bytes(buffer[8 : 8 + header_len]))
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end == start:  # frombuffer refuses an empty view
            tensors[name] = torch.empty(info["shape"], dtype=dtype)
            continue
        flat = torch.frombuffer(buffer, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        tensors[name] = flat.view(info["shape"])
    return tensors


class TrainerWeights:
    def receive_weight_chunk(self, chunk: bytes, first: bool) -> int:
        if first:
            self.incoming_weights = bytearray()
        self.incoming_weights += chunk
        return len(self.incoming_weights)

    def load_trainer_weights(self) -> int:
        from vllm.model_executor.model_loader.reload.inplace import reload_weights

        weights = read_safetensors(self.incoming_weights)
        reload_weights(
            self.vllm_config,
            self.model_runner.get_model(),
            weights_iterator=weights.items(),
            weights_path=None,
            is_checkpoint_format=True,
        )
        del self.incoming_weights  # the views in `weights` keep it until they go
        return len(weights)

    def load_saved_weights(self, folder: str) -> None:
        """The weights of an HF folder's safetensors files, read one tensor at a time (no second whole copy),
        through the same in-place reload."""
        from pathlib import Path

        from safetensors import safe_open
        from vllm.model_executor.model_loader.reload.inplace import reload_weights

        def tensors():
            for path in sorted(Path(folder).glob("*.safetensors")):
                with safe_open(path, "pt") as file:
                    for name in file.keys():  # noqa: SIM118 (a safetensors file is not a dict)
                        yield name, file.get_tensor(name)

        reload_weights(
            self.vllm_config,
            self.model_runner.get_model(),
            weights_iterator=tensors(),
            weights_path=None,
            is_checkpoint_format=True,
        )

    def reseed(self, seed: int) -> None:
        """The RNG vLLM's CPU sampler draws from (a per-request seed crashes it there)."""
        torch.manual_seed(seed)
