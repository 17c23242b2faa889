"""Fast exact patching sweeps and attribution patching on one batch of pairs.

`activation_patching.patched_logit_diffs` runs every patch as its own forward pass of
the whole model (the reference loop, the same work as TransformerLens's
`transformer_lens.patching` functions). This module gives the same numbers with less
work, and a gradient-based estimate with far less.

Fast exact sweep (`fast_patched_logit_diffs`). Denoising, as in the reference: the
corrupted prompt runs with one clean activation patched in, and the logit difference
logit[answer] - logit[wrong_answer] is read at the last position. Three savings, all
exact up to floating-point rounding:

1. Start at the patched layer. One forward pass of the corrupted prompts records the
   residual stream entering each block, the residual stream between attention and MLP,
   each head's output (hook_z) and every block's keys and values. The keys and values
   come from TransformerLens's own key-value cache, so they are exactly what its
   attention appends. A patch at block L leaves blocks 0..L-1 unchanged, so the patched run
   starts from the recorded residual stream at block L.
2. Compute only the positions that can change. Attention is causal, so a patch at
   position p changes nothing before p. The patched run feeds only positions p..T-1
   through the blocks, and their attention reads the keys and values of positions
   0..p-1 from the corrupted run (a frozen key-value cache entry per block). In the
   last block only the last position's query and MLP are computed (the metric reads
   nothing else), and instead of the full unembedding only the answer's and the wrong
   answer's logits are computed.
3. Batch many patches into one pass. Every patch is rewritten as "this residual stream
   enters block s at positions p..T-1". A resid_pre patch at (L, p) enters block L. An
   attn_out or mlp_out patch at (L, p) changes only row p of block L's output, which
   enters block L+1. An all-position or head_out patch at layer L enters block L+1 at
   every position after block L's MLP has run on it; for head_out, block L's output
   projection is applied to hook_z with one head's clean value. Patches that enter at
   the same position p are stacked on the batch axis and join the pass at their own
   block, so one pass over the blocks serves many patches.

Each block is still computed by TransformerLens's own modules (`model.blocks[l]`,
`attn`, `ln2`, `mlp`, `ln_final`), so the arithmetic is the reference's; values differ
from the reference only by rounding (batch shapes change the order of float sums), well
below 1e-5 on the normalised effect in the tests.

Supported models: a `HookedTransformer` on one device with causal attention, standard
or rotary positional embeddings, attention then MLP in sequence (or attention only),
and no hooks attached. `fast_path_unsupported` names the first thing that rules a
model out (for example split Q/K/V inputs, shortformer or ALiBi position embeddings,
parallel attention and MLP, local attention, QK normalisation applied outside
`calculate_qkv_matrices`); the caller then runs the reference loop. Prompts that
TransformerLens would give an attention mask (pad tokens with a left-padding
tokenizer) also go to the reference loop (`prompts_need_attention_mask`).

Attribution patching (`attribution_logit_diffs`, Nanda 2023, "Attribution Patching:
Activation Patching At Industrial Scale"; Syed, Rager & Conmy 2023, "Attribution
Patching Outperforms Automated Circuit Discovery"). The patched logit difference is
estimated to first order around the corrupted run:

    patched_i ~ corrupted_i + sum over the patched entries of (clean_act - corrupted_act) * d logit_diff_i / d act

with the gradient taken on the corrupted prompt. One forward pass with a backward pass
gives the gradient at every site; the clean activations come from the caller. The
estimate is exact for a site whose effect on the logit difference is linear, and can be
far off where attention patterns or layer norms saturate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

POSITIONAL_SITES = ("resid_pre", "attn_out", "mlp_out")
ALL_POSITION_SITES = ("attn_out_all_pos", "mlp_out_all_pos")
HEAD_SITES = ("head_out",)
SITES = POSITIONAL_SITES + ALL_POSITION_SITES + HEAD_SITES
MLP_SITES = ("mlp_out", "mlp_out_all_pos")
# TransformerLens hook names of the patched activations.
SITE_HOOKS = {
    "resid_pre": "blocks.{layer}.hook_resid_pre",
    "attn_out": "blocks.{layer}.hook_attn_out",
    "mlp_out": "blocks.{layer}.hook_mlp_out",
    "attn_out_all_pos": "blocks.{layer}.hook_attn_out",
    "mlp_out_all_pos": "blocks.{layer}.hook_mlp_out",
    "head_out": "blocks.{layer}.attn.hook_z",
}
# Rows x positions per pass of a block: groups of patches are cut to stay under it, which
# bounds memory (the MLP's hidden layer is 4x this many d_model vectors) while keeping the
# matrix products large.
DEFAULT_TOKENS_PER_PASS = 16_384
# Architectures whose blocks TransformerLens computes in a different order.
_OTHER_BLOCK_ORDER = ("Olmo2ForCausalLM", "Olmo3ForCausalLM", "OlmoeForCausalLM")


@dataclass
class WorkCount:
    """Block work done by a sweep, in position evaluations: one position through one block.

    `block_positions` counts each position that goes through a block's attention query
    and MLP (a full block), or through the MLP alone (the rest of the patched block of an
    attn_out or head_out patch). `key_positions` counts positions of the last block
    whose keys and values alone are computed. `passes` counts block calls, and
    `per_site` the rows (patch x example) evaluated per site. The reference loop does
    cells x batch x positions x layers block positions.
    """

    block_positions: int = 0
    key_positions: int = 0
    passes: int = 0
    per_site: dict[str, int] = field(default_factory=dict)


def reference_block_positions(n_cells: int, batch: int, n_positions: int, n_layers: int) -> int:
    """Return the block positions of the reference loop, where every patch is a full forward pass."""
    return n_cells * batch * n_positions * n_layers


def fast_path_unsupported(model: Any) -> str | None:
    """Return why the fast exact sweep cannot run on this model, or None when it can.

    NOTE: rotary embeddings were tested in their standard form only. The NTK-by-parts and
    YaRN variants go through the same TransformerLens code (positions from the cache
    offset) but have no test here.
    """
    try:
        from transformer_lens import HookedTransformer
    except ImportError:  # pragma: no cover - the runtime needs transformer_lens anyway
        return "transformer_lens is not importable"
    if not isinstance(model, HookedTransformer):
        return f"the model is a {type(model).__name__}, not a transformer_lens HookedTransformer"
    cfg = model.cfg
    checks = [
        (getattr(cfg, "n_devices", 1) != 1, f"the model is split over {getattr(cfg, 'n_devices', 1)} devices"),
        (cfg.attention_dir != "causal", f"attention_dir is {cfg.attention_dir!r}: later positions change earlier ones"),
        (
            cfg.positional_embedding_type not in ("standard", "rotary"),
            f"positional_embedding_type {cfg.positional_embedding_type!r} is not handled (standard and rotary are)",
        ),
        (bool(cfg.use_split_qkv_input), "use_split_qkv_input gives each head its own attention input"),
        (bool(cfg.use_attn_in), "use_attn_in gives each head its own attention input"),
        (bool(cfg.parallel_attn_mlp), "parallel_attn_mlp: attention and MLP read the same residual stream"),
        (bool(cfg.use_normalization_before_and_after), "use_normalization_before_and_after adds norms after attention and MLP"),
        (bool(cfg.use_local_attn), "use_local_attn: local attention windows"),
        (cfg.original_architecture in _OTHER_BLOCK_ORDER, f"{cfg.original_architecture} blocks normalise after attention"),
        (bool(getattr(cfg, "load_in_4bit", False)), "4-bit weights"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    for name, point in model.hook_dict.items():
        if point.fwd_hooks or point.bwd_hooks or point._forward_hooks or point._forward_pre_hooks:
            return f"a hook is attached to {name}, and the fast sweep skips hook points it does not compute"
    return None


def prompts_need_attention_mask(model: Any, tokens: torch.Tensor) -> bool:
    """Return True when TransformerLens would mask some of these tokens (leading pad tokens, left-padding tokenizer).

    A forward pass on token ids builds an attention mask only when the tokenizer pads on
    the left, and that mask is all ones unless a prompt starts with pad tokens. The fast
    sweep applies no such mask, so these prompts go to the reference loop.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or getattr(tokenizer, "padding_side", "right") != "left" or tokenizer.pad_token_id is None:
        return False
    from transformer_lens.utilities.tokenize_utils import get_attention_mask

    mask = get_attention_mask(tokenizer, tokens, bool(model.cfg.default_prepend_bos))
    return not bool(mask.bool().all())


def fast_patched_logit_diffs(
    model: Any,
    corrupted_tokens: torch.Tensor,
    answer_ids: torch.Tensor,
    wrong_ids: torch.Tensor,
    clean_activations: Mapping[str, torch.Tensor],
    sites: Sequence[str],
    layers: Sequence[int],
    *,
    tokens_per_pass: int = DEFAULT_TOKENS_PER_PASS,
    work: WorkCount | None = None,
) -> dict[str, torch.Tensor]:
    """Compute the exact patched logit differences of one batch of pairs of one token length with the fast sweep.

    `clean_activations` maps TransformerLens hook names (`SITE_HOOKS` at `layers`) to the
    clean run's activations of the same batch. Returns, per site, a float64 CPU tensor
    [layer, cell..., example] as `activation_patching.patched_logit_diffs` does. Raises
    ValueError for a model that `fast_path_unsupported` rules out.
    """
    reason = fast_path_unsupported(model)
    if reason is not None:
        raise ValueError(f"the fast patching sweep does not support this model: {reason}")
    if tokens_per_pass < 1:
        raise ValueError(f"tokens_per_pass must be positive, got {tokens_per_pass}")
    with torch.no_grad():
        sweep = _FastSweep(model, corrupted_tokens, answer_ids, wrong_ids, clean_activations, list(layers), sites, work)
        return sweep.run(tokens_per_pass)


@dataclass
class _Family:
    """Patches of one site and layer that enter the pass together: cells first_cell.. (n_cells of them), `batch` rows each.

    Cells are heads for head_out; the other sites have one cell per family.
    """

    site: str
    row: int  # index into the sweep's layers
    layer: int
    start: int  # the block the rows enter; n_layers means after the last block
    n_cells: int
    first_cell: int = 0


class _FastSweep:
    def __init__(
        self,
        model: Any,
        corrupted_tokens: torch.Tensor,
        answer_ids: torch.Tensor,
        wrong_ids: torch.Tensor,
        clean: Mapping[str, torch.Tensor],
        layers: list[int],
        sites: Sequence[str],
        work: WorkCount | None,
    ) -> None:
        from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache

        self.model = model
        self.cfg = model.cfg
        self.n_layers = self.cfg.n_layers
        device = self.cfg.device
        self.tokens = corrupted_tokens.to(device)
        self.batch, self.n_positions = self.tokens.shape
        self.answers = answer_ids.to(device)
        self.wrongs = wrong_ids.to(device)
        self.clean = clean
        self.layers = layers
        self.sites = [site for site in SITES if site in sites]
        self.work = work if work is not None else WorkCount()

        first = min(layers)
        last = self.n_layers - 1
        names = {f"blocks.{layer}.hook_resid_pre" for layer in range(first, self.n_layers)}
        names.add(f"blocks.{last}.hook_resid_post")
        if any(site in MLP_SITES for site in self.sites):
            names.update(f"blocks.{layer}.hook_resid_mid" for layer in layers)
        if "head_out" in self.sites:
            names.update(f"blocks.{layer}.attn.hook_z" for layer in layers)
        # The corrupted run fills TransformerLens's key-value cache, whose entries contain the
        # keys and values exactly as its attention appends them. The explicit all-ones mask
        # means "no padding", so TransformerLens does not build one from the tokenizer.
        self.kv = TransformerLensKeyValueCache.init_cache(self.cfg, device, self.batch)
        _, acts = model.run_with_cache(
            self.tokens,
            past_kv_cache=self.kv,
            attention_mask=torch.ones_like(self.tokens),
            names_filter=lambda name: name in names,
            stop_at_layer=self.n_layers,
            return_cache_object=False,
        )
        self.acts = acts
        self.work.passes += self.n_layers
        self.work.block_positions += self.batch * self.n_positions * self.n_layers

    # --- activations of the corrupted run --------------------------------------------

    def resid_pre(self, layer: int) -> torch.Tensor:
        """Return the corrupted residual stream entering block `layer` (layer n_layers: after the last block)."""
        if layer == self.n_layers:
            return self.acts[f"blocks.{self.n_layers - 1}.hook_resid_post"]
        return self.acts[f"blocks.{layer}.hook_resid_pre"]

    def clean_act(self, site: str, layer: int) -> torch.Tensor:
        return self.clean[SITE_HOOKS[site].format(layer=layer)].to(self.cfg.device)

    # --- pieces of a block ----------------------------------------------------------

    def mlp_rest(self, layer: int, resid_mid: torch.Tensor) -> torch.Tensor:
        """Run block `layer` after its attention: resid_mid + MLP(ln2(resid_mid)), as TransformerBlock.forward does."""
        self.work.block_positions += resid_mid.shape[0] * resid_mid.shape[1]
        if self.cfg.attn_only:
            return resid_mid
        block = self.model.blocks[layer]
        return resid_mid + block.apply_mlp(block.ln2(resid_mid))

    def output_projection(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Compute the attention output from hook_z values [rows, pos, head, d_head] with TransformerLens's arithmetic."""
        attn = self.model.blocks[layer].attn
        if self.cfg.use_attn_result:
            result = (z[..., None] * attn.W_O[None, None]).sum(-2)
            return result.sum(-2) + attn.b_O
        w = attn.W_O.permute(2, 0, 1).reshape(self.cfg.d_model, -1).contiguous()
        return F.linear(z.reshape(z.shape[0], z.shape[1], -1), w, attn.b_O)

    def prefix_entry(self, layer: int, position: int, reps: int, extra: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Build a frozen key-value cache entry with the corrupted keys and values of positions < `position`, per row."""
        from transformer_lens.cache.key_value_cache_entry import TransformerLensKeyValueCacheEntry

        entry = self.kv[layer]
        keys = entry.past_keys[:, :position].repeat(reps, 1, 1, 1)
        values = entry.past_values[:, :position].repeat(reps, 1, 1, 1)
        if extra is not None:
            keys = torch.cat([keys, extra[0]], dim=1)
            values = torch.cat([values, extra[1]], dim=1)
        return TransformerLensKeyValueCacheEntry(keys, values, frozen=True)

    def block(self, layer: int, state: torch.Tensor, position: int) -> torch.Tensor:
        """Run block `layer` on positions position..T-1 of every row; the last block returns the last position only."""
        rows, length = state.shape[:2]
        reps = rows // self.batch
        self.work.passes += 1
        if layer < self.n_layers - 1:
            self.work.block_positions += rows * length
            entry = self.prefix_entry(layer, position, reps) if position > 0 else None
            return self.model.blocks[layer](state, past_kv_cache_entry=entry)
        # Last block: every position's keys and values, but only the last position's query and MLP.
        block = self.model.blocks[layer]
        normalized = block.ln1(state)
        last = normalized[:, -1:]
        extra = None
        if length > 1:
            _, keys, values = block.attn.calculate_qkv_matrices(last, normalized[:, :-1], normalized[:, :-1])
            extra = (keys, values)
        self.work.key_positions += rows * (length - 1)
        entry = self.prefix_entry(layer, position, reps, extra)
        attn_out = block.attn(query_input=last, key_input=last, value_input=last, past_kv_cache_entry=entry)
        return self.mlp_rest(layer, state[:, -1:] + attn_out)

    def logit_diff_rows(self, final: torch.Tensor) -> torch.Tensor:
        """Return logit[answer] - logit[wrong_answer] of final residual streams [rows, d_model], rows grouped by cell."""
        reps = final.shape[0] // self.batch
        residual = final[:, None, :]
        if self.cfg.normalization_type is not None:
            residual = self.model.ln_final(residual)
        residual = residual[:, 0]
        unembed = self.model.unembed
        answers = self.answers.repeat(reps)
        wrongs = self.wrongs.repeat(reps)
        answer_logit = (residual * unembed.W_U[:, answers].T).sum(-1) + unembed.b_U[answers]
        wrong_logit = (residual * unembed.W_U[:, wrongs].T).sum(-1) + unembed.b_U[wrongs]
        cap = self.cfg.output_logits_soft_cap
        if cap > 0.0:
            answer_logit = cap * torch.tanh(answer_logit / cap)
            wrong_logit = cap * torch.tanh(wrong_logit / cap)
        return answer_logit - wrong_logit

    # --- the rows each patch feeds into its start block -------------------------------

    def families(self, position: int, tokens_per_pass: int) -> list[_Family]:
        found = []
        for row, layer in enumerate(self.layers):
            for site in self.sites:
                if site in POSITIONAL_SITES:
                    start = layer if site == "resid_pre" else layer + 1
                    found.append(_Family(site, row, layer, start, 1))
                elif site == "head_out" and position == 0:
                    # Heads in chunks that fit one pass, so a wide model's heads do not all stack at once.
                    length = self.n_positions if layer + 1 < self.n_layers else 1
                    chunk = max(1, tokens_per_pass // (self.batch * length))
                    for first in range(0, self.cfg.n_heads, chunk):
                        cells = min(chunk, self.cfg.n_heads - first)
                        found.append(_Family(site, row, layer, layer + 1, cells, first))
                elif position == 0:
                    found.append(_Family(site, row, layer, layer + 1, 1))
        return found

    def build(self, family: _Family, position: int) -> torch.Tensor:
        """Build the residual stream [cells x batch, positions, d_model] that `family` feeds into its start block.

        Positions are position..T-1, or only the last one when the rows enter after the last block.
        """
        layer, site = family.layer, family.site
        first = position if family.start < self.n_layers else self.n_positions - 1
        if site == "resid_pre":
            rows = self.resid_pre(layer)[:, first:].clone()
            rows[:, 0] = self.clean_act(site, layer)[:, position]
            return rows
        if site in ("attn_out", "mlp_out"):
            rows = self.resid_pre(layer + 1)[:, first:].clone()
            if position >= first:
                if site == "attn_out":
                    resid_mid = self.resid_pre(layer)[:, position] + self.clean_act(site, layer)[:, position]
                    changed = self.mlp_rest(layer, resid_mid[:, None])[:, 0]
                else:
                    changed = self.acts[f"blocks.{layer}.hook_resid_mid"][:, position] + self.clean_act(site, layer)[:, position]
                rows[:, position - first] = changed
            return rows
        if site == "mlp_out_all_pos":
            return self.acts[f"blocks.{layer}.hook_resid_mid"][:, first:] + self.clean_act(site, layer)[:, first:]
        if site == "attn_out_all_pos":
            attn_out = self.clean_act(site, layer)[:, first:]
        else:  # head_out: one cell per head, each with that head's clean hook_z at every position
            heads = range(family.first_cell, family.first_cell + family.n_cells)
            corrupted_z = self.acts[f"blocks.{layer}.attn.hook_z"][:, first:]
            clean_z = self.clean_act(site, layer)[:, first:]
            z = corrupted_z.unsqueeze(0).repeat(family.n_cells, 1, 1, 1, 1)
            for cell, head in enumerate(heads):
                z[cell, :, :, head] = clean_z[:, :, head]
            attn_out = self.output_projection(layer, z.reshape(family.n_cells * self.batch, *z.shape[2:]))
        resid_pre = self.resid_pre(layer)[:, first:]
        resid_pre = resid_pre.repeat(attn_out.shape[0] // self.batch, 1, 1)
        return self.mlp_rest(layer, resid_pre + attn_out)

    # --- the sweep ---------------------------------------------------------------------

    def run(self, tokens_per_pass: int) -> dict[str, torch.Tensor]:
        cells = {
            site: (self.n_positions,) if site in POSITIONAL_SITES else (self.cfg.n_heads,) if site == "head_out" else ()
            for site in self.sites
        }
        out = {site: torch.empty((len(self.layers), *cells[site], self.batch), dtype=torch.float64) for site in self.sites}
        corrupted_final = self.logit_diff_rows(self.resid_pre(self.n_layers)[:, -1]).double().cpu()
        for position in range(self.n_positions):
            families = []
            for family in self.families(position, tokens_per_pass):
                if family.start == self.n_layers and family.site in POSITIONAL_SITES and position < self.n_positions - 1:
                    # A patch of the last block's output before the last position changes no logit.
                    out[family.site][family.row, position] = corrupted_final
                else:
                    families.append(family)
            families.sort(key=lambda family: family.start)
            for group in self._groups(families, position, tokens_per_pass):
                self._run_group(group, position, out)
        return out

    def _groups(self, families: list[_Family], position: int, tokens_per_pass: int) -> list[list[_Family]]:
        groups: list[list[_Family]] = []
        size = 0
        for family in families:
            length = self.n_positions - position if family.start < self.n_layers else 1
            cost = family.n_cells * self.batch * length
            if groups and size + cost <= tokens_per_pass:
                groups[-1].append(family)
                size += cost
            else:
                groups.append([family])
                size = cost
        return groups

    def _run_group(self, group: list[_Family], position: int, out: dict[str, torch.Tensor]) -> None:
        members: list[_Family] = []
        state: torch.Tensor | None = None
        waiting = list(group)
        for layer in range(group[0].start, self.n_layers):
            entering = [family for family in waiting if family.start == layer]
            if entering:
                waiting = [family for family in waiting if family.start != layer]
                parts = ([state] if state is not None else []) + [self.build(family, position) for family in entering]
                state = torch.cat(parts, dim=0)
                members.extend(entering)
            if state is not None:
                state = self.block(layer, state, position)
        finals = []
        if state is not None:
            finals.append(state[:, -1])
        for family in waiting:  # Rows that enter after the last block.
            finals.append(self.build(family, position)[:, -1])
            members.append(family)
        values = self.logit_diff_rows(torch.cat(finals, dim=0)).double().cpu()
        offset = 0
        for family in members:
            size = family.n_cells * self.batch
            chunk = values[offset : offset + size]
            offset += size
            if family.site in POSITIONAL_SITES:
                out[family.site][family.row, position] = chunk
            elif family.site == "head_out":
                cells = slice(family.first_cell, family.first_cell + family.n_cells)
                out[family.site][family.row, cells] = chunk.view(family.n_cells, self.batch)
            else:
                out[family.site][family.row] = chunk
            self.work.per_site[family.site] = self.work.per_site.get(family.site, 0) + size


def attribution_logit_diffs(
    model: Any,
    corrupted_tokens: torch.Tensor,
    answer_ids: torch.Tensor,
    wrong_ids: torch.Tensor,
    clean_activations: Mapping[str, torch.Tensor],
    sites: Sequence[str],
    layers: Sequence[int],
) -> dict[str, torch.Tensor]:
    """Estimate the patched logit differences of one batch of one token length by attribution patching.

    One forward pass of the corrupted prompts with a backward pass of the summed logit
    difference gives d logit_diff_i / d act for every example i (examples do not
    interact). Each site's estimate is corrupted_i + sum((clean - corrupted) * gradient)
    over the entries the exact patch replaces: one position's vector for the positional
    sites, every position for the all-position sites, one head's hook_z at every position
    for head_out. Returns float64 CPU tensors shaped as `fast_patched_logit_diffs` does.
    """
    from .pairs import logit_diff

    device = model.cfg.device
    tokens = corrupted_tokens.to(device)
    sites = [site for site in SITES if site in sites]
    layers = list(layers)
    names = sorted({SITE_HOOKS[site].format(layer=layer) for site in sites for layer in layers})
    stored: dict[str, torch.Tensor] = {}

    def keep(activation: torch.Tensor, hook: Any) -> torch.Tensor:
        if not activation.requires_grad:
            # The first hooked activation becomes the leaf that the gradient flows back to;
            # with frozen weights nothing before it needs a gradient.
            activation = activation.detach().requires_grad_(True)
        stored[hook.name] = activation
        return activation

    hooks = [(name, keep) for name in dict.fromkeys(["blocks.0.hook_resid_pre", *names])]
    with torch.enable_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
        corrupted = logit_diff(logits, answer_ids.to(device), wrong_ids.to(device))
        gradients = torch.autograd.grad(corrupted.sum(), [stored[name] for name in names], allow_unused=True)
    gradient = dict(zip(names, gradients))
    base = corrupted.detach().double().cpu()
    batch, n_positions = tokens.shape
    out: dict[str, torch.Tensor] = {}
    for site in sites:
        per_layer = []
        for layer in layers:
            name = SITE_HOOKS[site].format(layer=layer)
            grad = gradient[name]
            difference = clean_activations[name].to(device) - stored[name].detach()
            if grad is None:  # The site does not reach the logits.
                grad = torch.zeros_like(difference)
            product = (difference * grad).double()
            if site in POSITIONAL_SITES:
                term = product.sum(-1).T  # [position, example]
            elif site == "head_out":
                term = product.sum(dim=(1, 3)).T  # [head, example]
            else:
                term = product.sum(dim=(1, 2))  # [example]
            per_layer.append(term.cpu() + base)
        out[site] = torch.stack(per_layer)
    return out
