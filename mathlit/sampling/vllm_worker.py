"""Methods mixed into vLLM's workers (`worker_extension_cls`), called by name through collective_rpc.

Named methods, not pickled callables (vLLM refuses to pickle functions unless insecure serialization
is on), and weights as one safetensors blob: plain bytes survive vLLM's RPC encoding, which turns
tensors nested in arguments into lists, and safetensors cannot carry code. The weights go through
vLLM's in-place reload, which also redoes the kernel repacking done after the first load (on CPU
the linear layers are repacked, and a plain `load_weights` no longer finds their loaders).
"""

from safetensors.torch import load


class TrainerWeights:
    def load_trainer_weights(self, blob: bytes) -> int:
        from vllm.model_executor.model_loader.reload.inplace import reload_weights

        weights = load(blob)
        reload_weights(
            self.vllm_config,
            self.model_runner.get_model(),
            weights_iterator=weights.items(),
            weights_path=None,
            is_checkpoint_format=True,
        )
        return len(weights)
