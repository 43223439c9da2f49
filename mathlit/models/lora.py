"""LoRA and QLoRA (peft, bitsandbytes): train adapters on a frozen, possibly quantized base model.

`model.lora.r > 0` adds adapters to `model.lora.target_modules`; only they train (the optimizer takes
parameters with requires_grad). What leaves training is a plain model: the exported `hf/` folder, the
weights synced into vLLM and the weights sampled from are the base with the adapters merged
(W + B A alpha/r), so eval, RFT and vLLM load it as any other folder; the adapter alone is saved too
(`adapter/` beside `hf/`, for peft's `PeftModel.from_pretrained(base, adapter)`).
`model.quantization=4bit|8bit` loads the base through bitsandbytes (QLoRA), on a GPU or, with bitsandbytes'
CPU backend (0.50 and later), on the CPU.
"""

import importlib.util
import sys

import torch
from torch import nn
from transformers import PreTrainedModel

from mathlit.config import ModelConfig
from mathlit.errors import ConfigError

ADAPTER = "default"  # peft's name for the one adapter
QUANTIZED = ("Params4bit", "Int8Params")  # bitsandbytes' weight classes


def quantization_config(cfg: ModelConfig) -> dict:
    """from_pretrained's quantization arguments for `model.quantization`; none: {}."""
    if cfg.quantization == "none":
        return {}
    key = f"model.quantization={cfg.quantization}"
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"{key} needs bitsandbytes: pip install 'mathlit[gpu]' (or bitsandbytes)")
    if cfg.path is None:
        raise ConfigError(f"{key} quantizes weights loaded from model.path; model={cfg.name} sets none")
    if cfg.lora.r <= 0:
        raise ConfigError(f"{key} freezes the base model: set model.lora.r > 0 to train adapters (QLoRA)")
    from transformers import BitsAndBytesConfig

    gpu = torch.cuda.is_available()
    # On the CPU, bf16 is emulated (slow) on most chips: the adapters and dequantized matmuls compute in fp32.
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if gpu else torch.float32
    bnb = (
        BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
        if cfg.quantization == "4bit"
        else BitsAndBytesConfig(load_in_8bit=True)
    )
    # Quantized weights are placed on this process's device as they load; they cannot move afterwards. The
    # strategy has made it the current device by now (LOCAL_RANK is set only by Lightning's own launcher, not
    # under srun, where every rank would then load onto GPU 0).
    device = torch.cuda.current_device() if gpu else "cpu"
    return {"quantization_config": bnb, "device_map": {"": device}}


def add_lora(model: PreTrainedModel, cfg: ModelConfig) -> nn.Module:
    """The model with LoRA adapters (a peft model); unchanged when model.lora.r is 0."""
    if cfg.lora.r <= 0:
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.quantization != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:  # the frozen embeddings' outputs need grads for checkpointed layers
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora, adapter_name=ADAPTER)


def is_lora(model: nn.Module) -> bool:
    peft = sys.modules.get("peft")  # never imported: no model is a peft model (and the import is slow)
    return peft is not None and isinstance(model, peft.PeftModel)


@torch.no_grad()
def merged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The plain model's state dict (its own names); a LoRA model's with the adapters merged, quantized
    base weights dequantized. The training model is left untouched (no in-place merge and unmerge)."""
    if not is_lora(model):
        return model.state_dict()
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    weights: dict[str, torch.Tensor] = {}  # module name -> its plain weight
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer):
            weight = plain_weight(module.get_base_layer())
            weights[name] = weight + module.get_delta_weight(ADAPTER).to(weight.dtype)
        elif type(getattr(module, "weight", None)).__name__ in QUANTIZED and not name.endswith(".base_layer"):
            weights[name] = plain_weight(module)
    state = {}
    for key, value in base.state_dict().items():
        if ".lora_" in key:
            continue
        key = key.replace(".base_layer.", ".")
        parts = key.split(".")
        owner = next((o for i in range(len(parts) - 1, 0, -1) if (o := ".".join(parts[:i])) in weights), None)
        if owner is None or key == f"{owner}.bias":
            state[key] = value
        elif key == f"{owner}.weight":
            state[key] = weights[owner]
        # else quantization state (q_proj.weight.absmax, an 8-bit layer's SCB): the weight is plain now
    return state


def plain_weight(layer: nn.Module) -> torch.Tensor:
    """A linear layer's weight, dequantized when bitsandbytes holds it. Not peft's dequantize_module_weight: on
    the CPU it puts an 8-bit weight back in place with `.to()`, which drops its scales and breaks the layer."""
    if type(layer.weight).__name__ not in QUANTIZED:
        return layer.weight
    from peft.utils.integrations import dequantize_bnb_weight

    return dequantize_bnb_weight(layer.weight, state=getattr(layer, "state", None))
