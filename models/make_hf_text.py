#!/usr/bin/python3
"""Tiny Hugging-Face-layout TEXT model fixtures (BERT, GPT-2) with reference outputs.

Writes, under models/hf_text/<name>/:
  config.json, model.safetensors   as transformers 4.40 save_pretrained(safe_serialization=True)
  model.onnx                       torch.onnx.export, opset 14, dynamic batch/sequence
  input_ids.npy, attention_mask.npy, input_0.pb, input_1.pb    int64 [2,16]
  expected_output_0.npy (, expected_output_1.npy)              float32

Fixtures: bert_cls (BertForSequenceClassification), bert_base (BertModel = bert_cls.bert),
gpt2_lm (GPT2LMHeadModel), gpt2_base (GPT2Model = gpt2_lm.transformer).

transformers is not available here, so the modules below are a faithful re-implementation of
transformers' modeling_bert.py / modeling_gpt2.py (eager attention, v4.40): same module tree
(state_dict keys), same forward math, same _init_weights.  Safetensors is written by hand.

Checks run at the end (all must pass, else exit 1):
  * safetensors read back by an independent reader == state_dict
  * an independent numpy forward built from the *safetensors file* == torch outputs
  * the exported model.onnx evaluated by a small numpy ONNX interpreter (below) == expected
    outputs, at the fixture shape and at a different (batch, sequence) shape
  * bert_base/bert_cls and gpt2_base/gpt2_lm cross-consistency (shared weights)

Run:  /usr/bin/python3 models/make_hf_text.py   (needs torch, numpy, onnx; ~1 min on 1 core)
"""
import argparse
import collections
import json
import math
import os
import random
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_ROOT = os.path.join(HERE, "hf_text")
TRANSFORMERS_VERSION = "4.40.0"
OPSET = 14
SEED = 20240501
BATCH, SEQ, PAD_TAIL = 2, 16, 5
# transformers' default initializer_range is 0.02; with hidden 32 that makes every attention
# score ~1e-2 (softmax ~uniform) so scale/mask bugs would hide.  0.2 gives O(1) scores.
INIT_RANGE = 0.2
BIAS_NOISE = 0.1     # std of the noise added to every bias (incl. LayerNorm bias)
LN_GAIN_NOISE = 0.1  # LayerNorm weight = 1 + N(0, this)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------ configs --
class Config:
    """Minimal stand-in for PretrainedConfig: attribute access + attribute_map aliases."""
    attribute_map = {}

    def __init__(self, **kw):
        self.__dict__["_d"] = dict(kw)

    def __getattr__(self, k):
        d = self.__dict__["_d"]
        k = self.attribute_map.get(k, k)
        if k in d:
            return d[k]
        raise AttributeError(k)

    def to_json_string(self):
        # PretrainedConfig.to_json_string: json.dumps(diff_dict, indent=2, sort_keys=True) + "\n"
        return json.dumps(self._d, indent=2, sort_keys=True) + "\n"


class BertConfig(Config):
    pass


class GPT2Config(Config):
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }


def bert_config(architecture):
    # Keys exactly as BertConfig.to_diff_dict() writes them for this config (transformers 4.40).
    d = {
        "architectures": [architecture],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        "initializer_range": INIT_RANGE,
        "intermediate_size": 64,
        "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "problem_type": "single_label_classification",
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 128,
    }
    c = BertConfig(**d)
    return c


def gpt2_config(architecture):
    d = {
        "activation_function": "gelu_new",
        "architectures": [architecture],
        "attn_pdrop": 0.1,
        "bos_token_id": 0,
        "embd_pdrop": 0.1,
        "eos_token_id": 0,
        "initializer_range": INIT_RANGE,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": 64,
        "n_embd": 32,
        "n_head": 4,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": 64,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": 128,
    }
    return GPT2Config(**d)


# -------------------------------------------------------------- activations --
class GELUActivation(nn.Module):
    """ACT2FN["gelu"]: exact erf GELU."""

    def forward(self, x):
        return nn.functional.gelu(x)


class NewGELUActivation(nn.Module):
    """ACT2FN["gelu_new"]: tanh approximation, written exactly as transformers.activations."""

    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))


ACT2FN = {"gelu": GELUActivation, "gelu_new": NewGELUActivation}


# --------------------------------------------------------------------- BERT --
class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.position_embedding_type = getattr(config, "position_embedding_type", "absolute")
        self.register_buffer(
            "position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False
        )
        self.register_buffer(
            "token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long), persistent=False
        )

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                past_key_values_length=0):
        input_shape = input_ids.size()
        seq_length = input_shape[1]
        if position_ids is None:
            position_ids = self.position_ids[:, past_key_values_length: seq_length + past_key_values_length]
        if token_type_ids is None:
            buffered_token_type_ids = self.token_type_ids[:, :seq_length]
            buffered_token_type_ids_expanded = buffered_token_type_ids.expand(input_shape[0], seq_length)
            token_type_ids = buffered_token_type_ids_expanded
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        token_type_embeddings = self.token_type_embeddings(token_type_ids)
        embeddings = inputs_embeds + token_type_embeddings
        if self.position_embedding_type == "absolute":
            position_embeddings = self.position_embeddings(position_ids)
            embeddings += position_embeddings
        embeddings = self.LayerNorm(embeddings)
        embeddings = self.dropout(embeddings)
        return embeddings


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = int(config.hidden_size / config.num_attention_heads)
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask=None):
        mixed_query_layer = self.query(hidden_states)
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        query_layer = self.transpose_for_scores(mixed_query_layer)
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        attention_probs = self.dropout(attention_probs)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        context_layer = context_layer.view(new_context_layer_shape)
        return (context_layer,)


class BertSelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        hidden_states = self.dense(hidden_states)
        hidden_states = self.dropout(hidden_states)
        hidden_states = self.LayerNorm(hidden_states + input_tensor)
        return hidden_states


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states, attention_mask=None):
        self_outputs = self.self(hidden_states, attention_mask)
        attention_output = self.output(self_outputs[0], hidden_states)
        return (attention_output,) + self_outputs[1:]


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]()

    def forward(self, hidden_states):
        hidden_states = self.dense(hidden_states)
        hidden_states = self.intermediate_act_fn(hidden_states)
        return hidden_states


class BertOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        hidden_states = self.dense(hidden_states)
        hidden_states = self.dropout(hidden_states)
        hidden_states = self.LayerNorm(hidden_states + input_tensor)
        return hidden_states


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states, attention_mask=None):
        attention_output = self.attention(hidden_states, attention_mask)[0]
        # apply_chunking_to_forward with chunk_size_feed_forward=0 == plain call
        intermediate_output = self.intermediate(attention_output)
        layer_output = self.output(intermediate_output, attention_output)
        return (layer_output,)


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask=None):
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, attention_mask)[0]
        return (hidden_states,)


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        first_token_tensor = hidden_states[:, 0]
        pooled_output = self.dense(first_token_tensor)
        pooled_output = self.activation(pooled_output)
        return pooled_output


class BertPreTrainedModel(nn.Module):
    base_model_prefix = "bert"

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def post_init(self):
        self.apply(self._init_weights)

    def get_extended_attention_mask(self, attention_mask, input_shape, dtype=None):
        if dtype is None:
            dtype = self.dtype
        if attention_mask.dim() == 3:
            extended_attention_mask = attention_mask[:, None, :, :]
        elif attention_mask.dim() == 2:
            extended_attention_mask = attention_mask[:, None, None, :]
        else:
            raise ValueError("Wrong shape for attention_mask")
        extended_attention_mask = extended_attention_mask.to(dtype=dtype)  # fp16 compatibility
        extended_attention_mask = (1.0 - extended_attention_mask) * torch.finfo(dtype).min
        return extended_attention_mask


class BertModel(BertPreTrainedModel):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        input_shape = input_ids.size()
        batch_size, seq_length = input_shape
        if attention_mask is None:
            attention_mask = torch.ones((batch_size, seq_length), device=input_ids.device)
        if token_type_ids is None:
            buffered_token_type_ids = self.embeddings.token_type_ids[:, :seq_length]
            buffered_token_type_ids_expanded = buffered_token_type_ids.expand(batch_size, seq_length)
            token_type_ids = buffered_token_type_ids_expanded
        extended_attention_mask = self.get_extended_attention_mask(attention_mask, input_shape)
        embedding_output = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        sequence_output = self.encoder(embedding_output, extended_attention_mask)[0]
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return (sequence_output, pooled_output)  # return_dict=False


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.num_labels = len(config.id2label)
        self.bert = BertModel(config)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        outputs = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        pooled_output = outputs[1]
        pooled_output = self.dropout(pooled_output)
        logits = self.classifier(pooled_output)
        return (logits,)


# --------------------------------------------------------------------- GPT-2 --
class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: weight [nx, nf], y = x @ W + b (via addmm)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        x = x.view(size_out)
        return x


class GPT2Attention(nn.Module):
    def __init__(self, config, layer_idx=None):
        super().__init__()
        max_positions = config.max_position_embeddings
        self.register_buffer(
            "bias",
            torch.tril(torch.ones((max_positions, max_positions), dtype=torch.bool)).view(
                1, 1, max_positions, max_positions
            ),
            persistent=False,
        )
        self.register_buffer("masked_bias", torch.tensor(-1e4), persistent=False)
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.scale_attn_weights = config.scale_attn_weights
        self.scale_attn_by_inverse_layer_idx = config.scale_attn_by_inverse_layer_idx
        self.layer_idx = layer_idx
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def _attn(self, query, key, value, attention_mask=None):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        if self.scale_attn_weights:
            attn_weights = attn_weights / torch.full(
                [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device
            )
        if self.scale_attn_by_inverse_layer_idx:
            attn_weights = attn_weights / float(self.layer_idx + 1)
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length: key_length, :key_length]
        mask_value = torch.finfo(attn_weights.dtype).min
        mask_value = torch.full([], mask_value, dtype=attn_weights.dtype, device=attn_weights.device)
        attn_weights = torch.where(causal_mask, attn_weights.to(attn_weights.dtype), mask_value)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        attn_weights = self.attn_dropout(attn_weights)
        attn_output = torch.matmul(attn_weights, value)
        return attn_output, attn_weights

    def _split_heads(self, tensor, num_heads, attn_head_size):
        new_shape = tensor.size()[:-1] + (num_heads, attn_head_size)
        tensor = tensor.view(new_shape)
        return tensor.permute(0, 2, 1, 3)

    def _merge_heads(self, tensor, num_heads, attn_head_size):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        new_shape = tensor.size()[:-2] + (num_heads * attn_head_size,)
        return tensor.view(new_shape)

    def forward(self, hidden_states, attention_mask=None):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query = self._split_heads(query, self.num_heads, self.head_dim)
        key = self._split_heads(key, self.num_heads, self.head_dim)
        value = self._split_heads(value, self.num_heads, self.head_dim)
        attn_output, _ = self._attn(query, key, value, attention_mask)
        attn_output = self._merge_heads(attn_output, self.num_heads, self.head_dim)
        attn_output = self.c_proj(attn_output)
        attn_output = self.resid_dropout(attn_output)
        return (attn_output,)


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size, config):
        super().__init__()
        embed_dim = config.hidden_size
        self.c_fc = Conv1D(intermediate_size, embed_dim)
        self.c_proj = Conv1D(embed_dim, intermediate_size)
        self.act = ACT2FN[config.activation_function]()
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states):
        hidden_states = self.c_fc(hidden_states)
        hidden_states = self.act(hidden_states)
        hidden_states = self.c_proj(hidden_states)
        hidden_states = self.dropout(hidden_states)
        return hidden_states


class GPT2Block(nn.Module):
    def __init__(self, config, layer_idx=None):
        super().__init__()
        hidden_size = config.hidden_size
        inner_dim = config.n_inner if config.n_inner is not None else 4 * hidden_size
        self.ln_1 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx=layer_idx)
        self.ln_2 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner_dim, config)

    def forward(self, hidden_states, attention_mask=None):
        residual = hidden_states
        hidden_states = self.ln_1(hidden_states)
        attn_output = self.attn(hidden_states, attention_mask=attention_mask)[0]
        hidden_states = attn_output + residual
        residual = hidden_states
        hidden_states = self.ln_2(hidden_states)
        feed_forward_hidden_states = self.mlp(hidden_states)
        hidden_states = residual + feed_forward_hidden_states
        return (hidden_states,)


class GPT2PreTrainedModel(nn.Module):
    base_model_prefix = "transformer"

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, Conv1D)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        for name, p in module.named_parameters():
            if name == "c_proj.weight":
                p.data.normal_(mean=0.0, std=(self.config.initializer_range / math.sqrt(2 * self.config.n_layer)))

    def post_init(self):
        self.apply(self._init_weights)
        self.tie_weights()

    def tie_weights(self):
        pass


class GPT2Model(GPT2PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_dim = config.hidden_size
        self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
        self.wpe = nn.Embedding(config.max_position_embeddings, self.embed_dim)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=i) for i in range(config.num_hidden_layers)])
        self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        batch_size = input_ids.shape[0]
        past_length = 0
        position_ids = torch.arange(past_length, input_shape[-1] + past_length, dtype=torch.long,
                                    device=input_ids.device)
        position_ids = position_ids.unsqueeze(0)
        if attention_mask is not None:
            attention_mask = attention_mask.view(batch_size, -1)
            attention_mask = attention_mask[:, None, None, :]
            attention_mask = attention_mask.to(dtype=self.dtype)  # fp16 compatibility
            attention_mask = (1.0 - attention_mask) * torch.finfo(self.dtype).min
        inputs_embeds = self.wte(input_ids)
        position_embeds = self.wpe(position_ids)
        hidden_states = inputs_embeds + position_embeds
        hidden_states = self.drop(hidden_states)
        output_shape = (-1,) + input_shape[1:] + (hidden_states.size(-1),)
        for block in self.h:
            hidden_states = block(hidden_states, attention_mask=attention_mask)[0]
        hidden_states = self.ln_f(hidden_states)
        hidden_states = hidden_states.view(output_shape)
        return (hidden_states,)


class GPT2LMHeadModel(GPT2PreTrainedModel):
    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def tie_weights(self):
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids, attention_mask=None):
        hidden_states = self.transformer(input_ids, attention_mask=attention_mask)[0]
        lm_logits = self.lm_head(hidden_states)
        return (lm_logits,)


# ------------------------------------------------------------- perturbation --
@torch.no_grad()
def perturb(model, gen):
    """Make biases and LayerNorm params non-trivial (transformers' init zeroes them)."""
    for mod_name, mod in model.named_modules():
        if isinstance(mod, nn.LayerNorm):
            mod.weight.add_(torch.randn(mod.weight.shape, generator=gen) * LN_GAIN_NOISE)
            mod.bias.add_(torch.randn(mod.bias.shape, generator=gen) * BIAS_NOISE)
        elif isinstance(mod, (nn.Linear, Conv1D)) and getattr(mod, "bias", None) is not None:
            mod.bias.add_(torch.randn(mod.bias.shape, generator=gen) * BIAS_NOISE)


# ---------------------------------------------------------------- safetensors --
def save_state_dict_like_hf(model):
    """state_dict as save_pretrained(safe_serialization=True) stores it: non-persistent buffers
    are absent; tied (shared-storage) tensors are stored once, under the name that is not in
    _tied_weights_keys."""
    sd = model.state_dict()
    tied = set(getattr(model, "_tied_weights_keys", []) or [])
    seen = {}
    out = collections.OrderedDict()
    for name, t in sd.items():
        ptr = (t.data_ptr(), tuple(t.shape))
        if ptr in seen:
            continue
        seen[ptr] = name
        out[name] = t
    for name in list(out):
        if name in tied:
            # keep the other name of the pair
            others = [n for n, t in sd.items() if n != name and t.data_ptr() == sd[name].data_ptr()]
            if others:
                out.pop(name)
                out[others[0]] = sd[others[0]]
    return out


def write_safetensors(path, tensors, metadata=None):
    """safetensors format: u64le header length N, N bytes of JSON (space-padded to a multiple
    of 8), then the raw little-endian data.  Tensors are laid out sorted by (dtype desc, name)
    as the safetensors library does; the header lists __metadata__ first, then tensors in
    data order, serialised compactly like serde_json."""
    items = []
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if a.dtype != np.float32:
            raise ValueError("only F32 supported here: %s %s" % (name, a.dtype))
        items.append((name, np.ascontiguousarray(a, dtype="<f4")))
    header = collections.OrderedDict()
    header["__metadata__"] = metadata if metadata is not None else {"format": "pt"}
    offset = 0
    blobs = []
    for name, a in items:
        b = a.tobytes()
        header[name] = collections.OrderedDict(
            [("dtype", "F32"), ("shape", list(a.shape)), ("data_offsets", [offset, offset + len(b)])]
        )
        offset += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Independent reader (used for verification)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b: base + e], dtype="<f4").reshape(info["shape"])
    assert base + max(i["data_offsets"][1] for i in header.values()) == len(data)
    return meta, out


# ------------------------------------------------------- numpy reference math --
def _np_ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_bert(W, cfg, ids, mask, prefix=""):
    """Independent float64 BERT forward from a safetensors dict. Returns (last_hidden, pooled)."""
    g = lambda k: W[prefix + k].astype(np.float64)
    H, nh = cfg.hidden_size, cfg.num_attention_heads
    hd = H // nh
    B, S = ids.shape
    eps = cfg.layer_norm_eps
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.token_type_embeddings.weight")[0] \
        + g("embeddings.position_embeddings.weight")[:S]
    x = _np_ln(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    add = (1.0 - mask.astype(np.float64))[:, None, None, :] * np.finfo(np.float32).min
    for i in range(cfg.num_hidden_layers):
        p = "encoder.layer.%d." % i
        lin = lambda v, n: v @ g(p + n + ".weight").T + g(p + n + ".bias")
        heads = lambda t: t.reshape(B, S, nh, hd).transpose(0, 2, 1, 3)
        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + add
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, S, H)
        a = _np_ln(lin(ctx, "attention.output.dense") + x, g(p + "attention.output.LayerNorm.weight"),
                   g(p + "attention.output.LayerNorm.bias"), eps)
        h = lin(a, "intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = _np_ln(lin(h, "output.dense") + a, g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), eps)
    pooled = np.tanh(x[:, 0] @ g("pooler.dense.weight").T + g("pooler.dense.bias"))
    return x, pooled


def np_gpt2(W, cfg, ids, mask, prefix=""):
    """Independent float64 GPT-2 forward from a safetensors dict. Returns last_hidden (after ln_f)."""
    g = lambda k: W[prefix + k].astype(np.float64)
    H, nh = cfg.n_embd, cfg.n_head
    hd = H // nh
    B, S = ids.shape
    eps = cfg.layer_norm_epsilon
    x = g("wte.weight")[ids] + g("wpe.weight")[:S]
    causal = np.tril(np.ones((S, S), dtype=bool))
    add = (1.0 - mask.astype(np.float64))[:, None, None, :] * np.finfo(np.float32).min
    gelu_new = lambda t: 0.5 * t * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (t + 0.044715 * t ** 3)))
    for i in range(cfg.n_layer):
        p = "h.%d." % i
        conv = lambda v, n: v @ g(p + n + ".weight") + g(p + n + ".bias")
        heads = lambda t: t.reshape(B, S, nh, hd).transpose(0, 2, 1, 3)
        a = _np_ln(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        qkv = conv(a, "attn.c_attn")
        q, k, v = heads(qkv[..., :H]), heads(qkv[..., H:2 * H]), heads(qkv[..., 2 * H:])
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        s = np.where(causal, s, np.finfo(np.float32).min) + add
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, S, H)
        x = x + conv(ctx, "attn.c_proj")
        m = _np_ln(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        x = x + conv(gelu_new(conv(m, "mlp.c_fc")), "mlp.c_proj")
    return _np_ln(x, g("ln_f.weight"), g("ln_f.bias"), eps)


# --------------------------------------------------- tiny numpy ONNX evaluator --
def run_onnx_numpy(model_proto, feeds):
    """Evaluate an ONNX graph with numpy (only the ops these fixtures use). float32 throughout."""
    from onnx import numpy_helper, helper

    env = dict(feeds)
    for init in model_proto.graph.initializer:
        env[init.name] = numpy_helper.to_array(init)

    def attrs(node):
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def onnx_dtype(to):
        return helper.tensor_dtype_to_np_dtype(to) if hasattr(helper, "tensor_dtype_to_np_dtype") \
            else __import__("onnx").mapping.TENSOR_TYPE_TO_NP_TYPE[to]

    for node in model_proto.graph.node:
        ins = [env[n] if n else None for n in node.input]
        at = attrs(node)
        op = node.op_type
        f32 = np.float32
        if op == "Constant":
            out = [numpy_helper.to_array(at["value"])]
        elif op == "Identity":
            out = [ins[0]]
        elif op == "Gather":
            out = [np.take(ins[0], ins[1].astype(np.int64), axis=at.get("axis", 0))]
        elif op == "Shape":
            out = [np.array(ins[0].shape, dtype=np.int64)]
        elif op == "Size":
            out = [np.array(ins[0].size, dtype=np.int64)]
        elif op == "Unsqueeze":
            axes = [int(a) for a in ins[1]] if len(ins) > 1 else at["axes"]
            r = ins[0]
            nd = r.ndim + len(axes)
            for a in sorted(a % nd for a in axes):
                r = np.expand_dims(r, a)
            out = [r]
        elif op == "Squeeze":
            axes = [int(a) for a in ins[1]] if len(ins) > 1 and ins[1] is not None else at.get("axes")
            out = [np.squeeze(ins[0], axis=tuple(axes) if axes is not None else None)]
        elif op == "Concat":
            out = [np.concatenate(ins, axis=at["axis"])]
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            out = [ins[0].reshape(shape)]
        elif op == "Transpose":
            out = [np.transpose(ins[0], at.get("perm"))]
        elif op == "MatMul":
            out = [np.matmul(ins[0], ins[1]).astype(ins[0].dtype)]
        elif op == "Gemm":
            a, b = ins[0], ins[1]
            if at.get("transA", 0):
                a = a.T
            if at.get("transB", 0):
                b = b.T
            r = at.get("alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                r = r + at.get("beta", 1.0) * ins[2]
            out = [r.astype(f32)]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            a, b = ins
            fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op]
            with np.errstate(over="ignore"):
                r = fn(a, b)
            if op == "Div" and np.issubdtype(a.dtype, np.integer):
                r = (a // b)
            out = [r.astype(a.dtype)]
        elif op == "Sqrt":
            out = [np.sqrt(ins[0])]
        elif op == "Erf":
            out = [_erf(ins[0]).astype(ins[0].dtype)]
        elif op == "Tanh":
            out = [np.tanh(ins[0])]
        elif op == "Neg":
            out = [-ins[0]]
        elif op == "Softmax":
            ax = at.get("axis", -1)
            x = ins[0]
            e = np.exp(x - x.max(axis=ax, keepdims=True))
            out = [(e / e.sum(axis=ax, keepdims=True)).astype(x.dtype)]
        elif op == "ReduceMean":
            axes = tuple(at["axes"]) if "axes" in at else (tuple(int(a) for a in ins[1]) if len(ins) > 1 else None)
            out = [ins[0].mean(axis=axes, keepdims=bool(at.get("keepdims", 1))).astype(ins[0].dtype)]
        elif op == "Cast":
            out = [ins[0].astype(onnx_dtype(at["to"]))]
        elif op == "Where":
            out = [np.where(ins[0], ins[1], ins[2])]
        elif op == "Equal":
            out = [np.equal(ins[0], ins[1])]
        elif op == "Not":
            out = [np.logical_not(ins[0])]
        elif op == "Expand":
            shape = [int(s) for s in ins[1]]
            out = [ins[0] * np.ones(shape, dtype=ins[0].dtype)]
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, f32)
            out = [np.full([int(s) for s in ins[0]], v.reshape(-1)[0], dtype=v.dtype)]
        elif op == "Range":
            out = [np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)]
        elif op == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
            sl = [slice(None)] * data.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                a = int(a) % data.ndim
                dim = data.shape[a]
                s, e = int(s), int(e)
                s = max(0, min(dim, s + dim if s < 0 else s))
                e = max(0, min(dim, e + dim if e < 0 else e))
                sl[a] = slice(s, e, int(st))
            out = [data[tuple(sl)]]
        elif op == "Split":
            ax = at.get("axis", 0)
            split = [int(s) for s in ins[1]] if len(ins) > 1 and ins[1] is not None else at.get("split")
            if split is None:
                n = len(node.output)
                split = [ins[0].shape[ax] // n] * n
            idx = np.cumsum(split)[:-1]
            out = np.split(ins[0], idx, axis=ax)
        else:
            raise NotImplementedError("numpy ONNX evaluator: op %s" % op)
        for name, val in zip(node.output, out):
            env[name] = np.asarray(val)
    return [env[o.name] for o in model_proto.graph.output]


# ---------------------------------------------------------------- fixtures --
def make_inputs(seed, batch=BATCH, seq=SEQ, pad_tail=PAD_TAIL):
    rs = np.random.RandomState(seed)
    ids = rs.randint(1, 128, size=(batch, seq)).astype(np.int64)  # [1, 127]
    mask = np.ones((batch, seq), dtype=np.int64)
    if batch > 1 and pad_tail:
        mask[1, seq - pad_tail:] = 0
    return ids, mask


def export_onnx(model, path, ids, mask, output_names, dynamic_out):
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    dyn.update(dynamic_out)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            path,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask"],
            output_names=output_names,
            dynamic_axes=dyn,
            do_constant_folding=True,
        )


def op_types(model_proto):
    seen = []
    for n in model_proto.graph.node:
        if n.op_type not in seen:
            seen.append(n.op_type)
    return sorted(seen)


class Failures(list):
    def check(self, ok, msg):
        print(("  ok    " if ok else "  FAIL  ") + msg)
        if not ok:
            self.append(msg)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def build_all():
    """Returns {name: (model, config, output_names, dynamic_out)} with shared weights between
    the base models and the head models."""
    seed_everything(SEED)
    gen = torch.Generator().manual_seed(SEED + 1)

    cfg_cls = bert_config("BertForSequenceClassification")
    bert_cls = BertForSequenceClassification(cfg_cls).eval()
    perturb(bert_cls, gen)
    cfg_base = bert_config("BertModel")
    bert_base = bert_cls.bert  # same weights, keys without "bert."
    bert_base.config = cfg_base

    cfg_lm = gpt2_config("GPT2LMHeadModel")
    gpt2_lm = GPT2LMHeadModel(cfg_lm).eval()
    perturb(gpt2_lm, gen)
    assert gpt2_lm.lm_head.weight is gpt2_lm.transformer.wte.weight
    cfg_gbase = gpt2_config("GPT2Model")
    gpt2_base = gpt2_lm.transformer
    gpt2_base.config = cfg_gbase

    return collections.OrderedDict([
        ("bert_cls", (bert_cls, cfg_cls, ["logits"], {"logits": {0: "batch"}})),
        ("bert_base", (bert_base, cfg_base, ["last_hidden_state", "pooler_output"],
                       {"last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}})),
        ("gpt2_lm", (gpt2_lm, cfg_lm, ["logits"], {"logits": {0: "batch", 1: "sequence"}})),
        ("gpt2_base", (gpt2_base, cfg_gbase, ["last_hidden_state"],
                       {"last_hidden_state": {0: "batch", 1: "sequence"}})),
    ])


def numpy_reference(name, W, cfg, ids, mask):
    if name == "bert_cls":
        h, pooled = np_bert(W, cfg, ids, mask, prefix="bert.")
        return [pooled @ W["classifier.weight"].astype(np.float64).T + W["classifier.bias"]]
    if name == "bert_base":
        return list(np_bert(W, cfg, ids, mask))
    if name == "gpt2_lm":
        h = np_gpt2(W, cfg, ids, mask, prefix="transformer.")
        return [h @ W["transformer.wte.weight"].astype(np.float64).T]
    if name == "gpt2_base":
        return [np_gpt2(W, cfg, ids, mask)]
    raise KeyError(name)


README_HEAD = """\
# hf_text: tiny Hugging-Face text-model fixtures (BERT, GPT-2)

Generated by `/usr/bin/python3 models/make_hf_text.py` (torch 1.13 CPU, numpy, onnx 1.12; ~2 s,
single thread, fully deterministic: re-running reproduces every file byte for byte).
transformers is not installed here, so the script re-implements transformers' eager
`modeling_bert.py` / `modeling_gpt2.py` (v4.40) module by module: same module tree (state_dict
keys), same forward math, same `_init_weights`; config.json and model.safetensors are written
the way `save_pretrained(safe_serialization=True)` writes them.

| fixture | class | outputs (float32) |
| --- | --- | --- |
| `bert_cls/` | BertForSequenceClassification | `expected_output_0.npy` logits [2,3] |
| `bert_base/` | BertModel (add_pooling_layer=True) | `expected_output_0.npy` last_hidden_state [2,16,32], `expected_output_1.npy` pooler_output [2,32] |
| `gpt2_lm/` | GPT2LMHeadModel | `expected_output_0.npy` logits [2,16,128] |
| `gpt2_base/` | GPT2Model | `expected_output_0.npy` last_hidden_state [2,16,32] |

Every folder holds `config.json`, `model.safetensors`, `model.onnx` (opset 14, inputs
`input_ids`, `attention_mask`, both int64 with dynamic `batch`/`sequence` axes), the inputs as
`input_ids.npy` / `attention_mask.npy` and as ONNX TensorProto `input_0.pb` (input_ids) /
`input_1.pb` (attention_mask), and the expected outputs.  Inputs (identical in all four
folders): int64 [2,16]; ids random in [1,127]; mask row 0 all ones, row 1 ones with the last 5
positions 0 (padding).  Expected outputs cover every position, padded ones included (they are
ordinary finite numbers: compare the whole tensor).  token_type_ids are not an input: BERT uses
its all-zero default (type embedding row 0).

## Sizes (bytes)

"""

README_OPS = """
## ONNX op types (what the C importer must support)

"""

README_NOTES = """
Details an importer will meet in these graphs (torch 1.13 exporter, opset 14):
* rank-0 (scalar) tensors: Constant scalars, `Gather` with a scalar index on `Shape` output,
  `ConstantOfShape` fed an empty shape (GPT-2's `torch.full([], ...)`), `Squeeze` to scalars.
* `Slice` with 4 or 5 inputs and end = INT64_MAX; in GPT-2 `Slice` runs on a **bool**
  initializer (the [1,1,64,64] tril causal buffer) and feeds `Where(cond, scores, -3.4028235e38)`.
* `Squeeze`, `Unsqueeze`, `Split` take axes / split sizes as inputs (opset >= 13);
  `ReduceMean` takes `axes` as an attribute (opset < 18).
* LayerNorm is decomposed (ReduceMean, Sub, Pow 2, Add eps, Sqrt, Div, Mul, Add); erf GELU is
  Div/Erf/Add/Mul/Mul; gelu_new is Pow 3/Mul/Add/Tanh; GPT-2's attention scale is computed at run
  time (Shape -> Cast -> Pow 0.5 -> Div).
* BERT's `Equal`/`Where`/`ConstantOfShape`/`Expand` come from expanding the token_type_ids
  buffer to the dynamic batch size, not from masking.
* Linear layers on 3-D input export as MatMul + Add (weight pre-transposed by constant folding
  into `onnx::MatMul_*` initializers); 2-D ones (BERT pooler/classifier, `Gemm` transB=1) and
  GPT-2's Conv1D (`addmm` on a [B*S, in] reshape, `Gemm` transB=0) export as `Gemm`.  GPT-2's
  tied lm_head is a MatMul with a folded copy of wte^T.
* BERT's pooler `hidden[:, 0]` is `Gather(axis=1)` with a scalar index (drops the axis).

## Checks the script runs (it exits 1 if any fails)

* safetensors read back by an independent reader equals the state_dict;
* an independent float64 numpy forward pass built from the **safetensors file** matches the
  torch outputs (max |diff| <= 2.2e-6);
* `model.onnx` evaluated by a small numpy ONNX interpreter in the script matches the torch
  outputs, at the fixture shape and at batch 3 x sequence 9 (max |diff| <= 2e-6);
* `onnx.checker.check_model` passes;
* cross-fixture identities: bert_base and bert_cls share weights (bert_base = bert_cls.bert),
  so `classifier(bert_base pooler_output) == bert_cls logits`; gpt2_base = gpt2_lm.transformer,
  so `gpt2_base last_hidden_state @ wte^T == gpt2_lm logits`.

Suggested tolerance for the C side: atol 1e-4 (float32).  For scale: using tanh-GELU instead of
erf-GELU in BERT moves last_hidden_state by 5.8e-4; ignoring the attention mask moves it by
0.6 (BERT) / 2.0 (GPT-2).  Zeroing any single bias changes the outputs, except the attention
*key* bias (softmax is invariant to it, by construction of attention) and, for
last_hidden_state, the pooler bias.

## Deviations from transformers / choices made

* Not checked against real transformers (not installable here, no network); faithfulness rests
  on following the v4.40 source line by line plus the checks above.
* `initializer_range` is 0.2, not transformers' default 0.02 (init is still transformers'
  `_init_weights`: normal(std=initializer_range) for Linear/Conv1D/Embedding, GPT-2 c_proj
  weights std 0.2/sqrt(2*n_layer), BERT word-embedding padding row 0 zeroed, biases 0,
  LayerNorm 1/0).  With 0.02 and hidden 32 every attention score is ~1e-2, the softmax is
  nearly uniform and scale/mask bugs would go unnoticed.  After init every bias (Linear, Conv1D,
  LayerNorm) gets N(0, 0.1) noise added and every LayerNorm weight becomes 1 + N(0, 0.1).
* gpt2 config.json writes `"tie_word_embeddings": true` explicitly (asked for); real
  save_pretrained omits it because it equals the default - importers must default it to true.
  `n_ctx` is written like the hub's GPT-2 configs.
* bert_base's config.json is bert_cls's with `"architectures": ["BertModel"]`, so it keeps
  id2label/label2id/problem_type (harmless for BertModel).
* gpt2_lm's model.safetensors has no `lm_head.weight` (tied to `transformer.wte.weight`), and
  no model stores the non-persistent buffers (`position_ids`, `token_type_ids`, `attn.bias`,
  `attn.masked_bias`), as in transformers >= 4.31.  safetensors layout: tensors sorted by name
  (all F32), header `{"__metadata__":{"format":"pt"}, name:{"dtype","shape","data_offsets"}...}`
  compact JSON space-padded to a multiple of 8.
* The modules implement only the inference path used here: no past_key_values / use_cache
  outputs, head_mask, token_type_ids/position_ids inputs, cross-attention, loss or
  ModelOutput objects (forward returns tuples, as with return_dict=False).  Eval mode, so all
  dropouts are identities.
* The masks follow transformers exactly: additive `(1 - mask) * finfo(float32).min`; GPT-2
  applies the causal mask first with `torch.where(causal, scores, finfo.min)`, so a key that is
  both in the future and padded gets min + min = -inf in float32.  The softmax must accept -inf
  (no row here is fully masked, so no NaN).
* Size: the weights alone are 98-129 KB per folder; model.onnx repeats them plus ~85 KB of
  shape-plumbing nodes in GPT-2, so gpt2_*/model.onnx are 194-231 KB (every other file is well
  under 200 KB; folder totals 250-380 KB).
"""


def readme_text(ops_lines, all_sizes):
    files = sorted({f for v in all_sizes.values() for f in v})
    s = README_HEAD + "| fixture | " + " | ".join(files) + " |\n" + "| --- " * (len(files) + 1) + "|\n"
    for name, sizes in all_sizes.items():
        s += "| %s | " % name + " | ".join(str(sizes.get(f, "-")) for f in files) + " |\n"
    s += README_OPS + "\n".join(ops_lines) + "\n" + README_NOTES
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_ROOT)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    import onnx
    from onnx import numpy_helper

    fails = Failures()
    models = build_all()
    ids, mask = make_inputs(SEED)
    ids2, mask2 = make_inputs(SEED + 7, batch=3, seq=9, pad_tail=3)  # dynamic-shape check
    ops_lines = []
    results = {}
    all_sizes = collections.OrderedDict()
    for name, (model, cfg, out_names, dyn_out) in models.items():
        if args.only and name not in args.only:
            continue
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        print("[%s] %s" % (name, type(model).__name__))

        with open(os.path.join(d, "config.json"), "w") as f:
            f.write(cfg.to_json_string())
        sd = save_state_dict_like_hf(model)
        st_path = os.path.join(d, "model.safetensors")
        write_safetensors(st_path, sd, {"format": "pt"})

        with torch.no_grad():
            outs = [o.numpy().astype(np.float32) for o in model(torch.from_numpy(ids), torch.from_numpy(mask))]
            outs2 = [o.numpy().astype(np.float32) for o in model(torch.from_numpy(ids2), torch.from_numpy(mask2))]
        results[name] = outs
        np.save(os.path.join(d, "input_ids.npy"), ids)
        np.save(os.path.join(d, "attention_mask.npy"), mask)
        for i, (arr, nm) in enumerate(((ids, "input_ids"), (mask, "attention_mask"))):
            with open(os.path.join(d, "input_%d.pb" % i), "wb") as f:
                f.write(numpy_helper.from_array(arr, name=nm).SerializeToString())
        for i, o in enumerate(outs):
            np.save(os.path.join(d, "expected_output_%d.npy" % i), o)

        onnx_path = os.path.join(d, "model.onnx")
        export_onnx(model, onnx_path, ids, mask, out_names, dyn_out)
        mp = onnx.load(onnx_path)
        onnx.checker.check_model(mp)
        ops = op_types(mp)
        ops_lines.append("- %s (%s, opset %d, %d nodes): %s" % (
            name, type(model).__name__, OPSET, len(mp.graph.node), ", ".join(ops)))

        # ---- checks
        meta, W = read_safetensors(st_path)
        fails.check(meta == {"format": "pt"}, "%s: safetensors metadata" % name)
        same = set(W) == set(sd) and all(np.array_equal(W[k], sd[k].numpy()) for k in sd)
        fails.check(same, "%s: safetensors round trip (%d tensors)" % (name, len(W)))
        ref = numpy_reference(name, W, cfg, ids, mask)
        for i, (r, o) in enumerate(zip(ref, outs)):
            fails.check(r.shape == o.shape and maxdiff(r, o) < 1e-4,
                        "%s: numpy-from-safetensors vs torch output %d %s maxdiff %.2e"
                        % (name, i, o.shape, maxdiff(r, o)))
        for feeds_ids, feeds_mask, expect, tag in ((ids, mask, outs, "fixture shape"),
                                                   (ids2, mask2, outs2, "shape %s" % (ids2.shape,))):
            got = run_onnx_numpy(mp, {"input_ids": feeds_ids, "attention_mask": feeds_mask})
            for i, (g_, e) in enumerate(zip(got, expect)):
                fails.check(g_.shape == e.shape and maxdiff(g_, e) < 1e-4,
                            "%s: ONNX (numpy eval, %s) vs torch output %d maxdiff %.2e"
                            % (name, tag, i, maxdiff(g_, e)))
        sizes = {fn: os.path.getsize(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}
        all_sizes[name] = sizes
        print("  files: " + ", ".join("%s=%d" % kv for kv in sizes.items()))

    if {"bert_cls", "bert_base"} <= set(results):
        bc = models["bert_cls"][0]
        with torch.no_grad():
            lg = bc.classifier(torch.from_numpy(results["bert_base"][1])).numpy()
        fails.check(maxdiff(lg, results["bert_cls"][0]) < 1e-6, "bert_base pooler -> classifier == bert_cls logits")
    if {"gpt2_lm", "gpt2_base"} <= set(results):
        wte = models["gpt2_lm"][0].transformer.wte.weight.detach().numpy()
        fails.check(maxdiff(results["gpt2_base"][0] @ wte.T, results["gpt2_lm"][0]) < 1e-5,
                    "gpt2_base last_hidden @ wte^T == gpt2_lm logits")

    print("\nONNX op types:")
    print("\n".join(ops_lines))
    if not args.only:
        with open(os.path.join(args.out, "README.md"), "w") as f:
            f.write(readme_text(ops_lines, all_sizes))
    if fails:
        print("\n%d check(s) FAILED" % len(fails))
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
