"""What a policy reacts to: occlusion saliency over the cells of its view, and a transformer's attention.

**Occlusion** (the method ``watch --explain`` uses): every cell of the view is changed in turn, a cell that
shows a tile (wall, goal, key, door, lava...) to empty floor, and an empty cell to wall, and the change of the
policy's action distribution is measured as the total variation distance from the unchanged one (the share
of probability that moves to other actions: bounded, so one cell that makes the goal unreachable does not drown
all others, as an unbounded KL divergence would). A cell scores high when seeing it differently would change
what the agent does. It needs no gradient (one batched forward pass over
all the changed views), works for any network and any one-hot view, and, unlike gradient × input, scores empty
cells too: on one-hot planes an empty floor cell is all zeros, so its gradient × input is always 0, yet the free
corridor to the goal is what a good policy looks at.

**Attention**: the transformer backbone's attention from its summary (CLS) token to each token, averaged over
heads, in the last block: which cells (or entities) it reads most.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def cell_changes(obs: torch.Tensor, tile_planes: int, wall_plane: int) -> torch.Tensor:
    """``[B, H * W, C, H, W]``: for each view ``obs [B, C, H, W]`` (one-hot planes, the first ``tile_planes`` of
    them the tiles'), the view with one cell read differently, cell by cell: a tile becomes floor (its planes
    cleared), floor becomes wall. The agent's own planes are never touched. What occlusion measures and what
    observation attacks (:mod:`~mazearena.agents.attacks`) choose from."""
    b, c, h, w = obs.shape
    cells = torch.arange(h * w, device=obs.device)
    ys, xs = cells // w, cells % w
    shows = obs[:, :tile_planes].bool().any(1)  # [B, H, W]: the cell shows a tile
    changed = obs[:, None].repeat(1, h * w, 1, 1, 1)
    wall = torch.zeros(tile_planes, dtype=obs.dtype, device=obs.device)
    wall[wall_plane] = 1
    flipped = torch.where(shows[:, ys, xs, None], torch.zeros_like(wall), wall)  # [B, H * W, tile_planes]
    changed[:, cells, :tile_planes, ys, xs] = flipped.transpose(0, 1)  # advanced indices first: [H * W, B, ...]
    return changed


def action_shift(logits: torch.Tensor) -> torch.Tensor:
    """``[N]``: how much of the action distribution moves from the first row of ``logits [1 + N, actions]`` (the
    unchanged input) to each other row (a changed one): the total variation distance."""
    p = torch.softmax(logits.float(), -1)
    return 0.5 * (p[1:] - p[0]).abs().sum(-1)


def occlusion_saliency(
    scores: Callable[[torch.Tensor], torch.Tensor], obs: torch.Tensor, tile_planes: int, wall_plane: int
) -> torch.Tensor:
    """``[H, W]`` saliency of the cells of one view ``obs [C, H, W]`` (one-hot planes, the first ``tile_planes``
    of them the tiles'), summing to 1 (all 0 when no cell changes anything). ``scores(batch [B, C, H, W])``
    returns the policy's logits ``[B, actions]``."""
    c, h, w = obs.shape
    base = obs.float()
    changed = cell_changes(base[None], tile_planes, wall_plane)[0]
    with torch.no_grad():
        moved = action_shift(scores(torch.cat([base[None], changed]).to(obs.dtype)))
    total = moved.sum()
    return (moved / total if total > 0 else moved).view(h, w)


def cls_attention(transformer: torch.nn.Module, obs) -> torch.Tensor:
    """``[B, K]`` attention of the CLS token to each of the ``K`` tokens (cells or entities) in the last block of
    a :class:`~mazearena.agents.backbones.Transformer`, averaged over heads."""
    block = transformer.blocks.layers[-1]
    seen: dict[str, torch.Tensor] = {}

    def keep(module, args, kwargs):
        seen["x"], seen["mask"] = args[0], kwargs.get("key_padding_mask")

    hook = block.self_attn.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.no_grad():
            transformer(obs)
            x, mask = seen["x"], seen["mask"]
            _, weights = block.self_attn(x, x, x, key_padding_mask=mask, need_weights=True, average_attn_weights=True)
    finally:
        hook.remove()
    return weights[:, 0, 1:]  # from CLS, to every token but itself
