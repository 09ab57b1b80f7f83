"""The perturbations ``mazearena eval`` plays, as wrappers reusable on their own: see
:mod:`mazearena.agents.perturbations` (where they live, below training, which trains under them too)."""

from mazearena.agents.perturbations import (
    OBS_ATTACKS,
    PERTURBATIONS,
    Perturbation,
    PerturbationInfo,
    PerturbedEnv,
    PerturbedParallelEnv,
    PerturbedVectorEnv,
    check_perturbation,
)

__all__ = [
    "OBS_ATTACKS",
    "PERTURBATIONS",
    "Perturbation",
    "PerturbationInfo",
    "PerturbedEnv",
    "PerturbedParallelEnv",
    "PerturbedVectorEnv",
    "check_perturbation",
]
