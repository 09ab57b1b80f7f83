"""How ``mazearena bench``'s report reads: the Markdown tables (:data:`TABLES`, one row per measurement with its
ratio to the peer) and the scaling plot."""

from __future__ import annotations

from pathlib import Path

from mazearena.apps.bench.common import machine_line


def plot_scaling(report: dict, path: Path) -> Path | None:
    """Steps per second against the batch size: maze env-steps/s and arena agent-steps/s (per mode), and PPO
    train-steps/s, log-log, each peer as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report["rows"] if r.get("num_envs") and r["env_steps_per_s"]]
    series: dict[str, list] = {}
    for r in rows:
        if r["key"].startswith("vector-"):
            series.setdefault("maze env-steps/s", []).append(r)
        elif r["key"].startswith("arena-vector-"):
            series.setdefault(f"arena {r['key'].split('-')[2]} agent-steps/s", []).append(r)
        elif r["key"].startswith("ppo-"):
            series.setdefault("PPO train-steps/s", []).append(r)
    if not series:
        return None
    by_key = {r["key"]: r for r in report["rows"]}
    sb3 = next((k for k in by_key if k.startswith("sb3-ppo-")), None)
    peers = {"MiniGrid": "minigrid", "MAgent2 (162 agents)": "magent2-45", "SB3 PPO": sb3}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, points in series.items():
        points.sort(key=lambda r: r["num_envs"])
        ax.plot([r["num_envs"] for r in points], [r["env_steps_per_s"] for r in points], marker="o", label=label)
    for label, key in peers.items():
        if key in by_key and by_key[key]["env_steps_per_s"]:
            ax.axhline(by_key[key]["env_steps_per_s"], ls="--", lw=1, color="grey")
            ax.text(1, by_key[key]["env_steps_per_s"] * 1.08, label, fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("games in the batch")
    ax.set_ylabel("steps per second")
    m = report["machine"]
    ax.set_title(f"Scaling on {m.get('gpu', str(m['cpus']) + ' CPUs')} (dashed: peers)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


TABLES = {
    "maze": ("env-steps/s (median)", "× peer (MiniGrid)"),
    "arena": ("agent-steps/s (median)", "× peer (MAgent2 / MPE2)"),
    "trainer": ("train-steps/s (median)", "× peer (SB3 / SuperSuit + SB3)"),
}


def markdown(report: dict) -> str:
    lines = [machine_line(report["machine"])]
    for table, (unit, versus) in TABLES.items():
        rows = [r for r in report["rows"] if r["table"] == table]
        if not rows:
            continue
        lines += ["", f"| what | {unit} | {versus} |", "|---|---:|---:|"]
        lines += ["| " + " | ".join(format_row(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def format_row(row: dict) -> tuple[str, str, str]:
    """(what, steps/s, ratio against its peer) of a report row as printed in every table."""
    rate = f"{row['env_steps_per_s']:,.0f}" if row["env_steps_per_s"] else row["note"]
    ratio = f"{row['ratio']:,.1f}×" if row["ratio"] else "–"
    memory = row.get("bytes_per_env")
    name = row["name"] + (f"; {memory / 1024:,.1f} KiB/game" if memory else "")
    return name, rate, ratio
