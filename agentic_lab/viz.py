"""Showing what an agent did: plain-text episodes and success bar charts."""
from __future__ import annotations

from agentic_lab.rollout import Episode

_ROLE_LABEL = {"user": "user", "assistant": "model", "tool": "observation", "system": "system"}


def format_episode(episode: Episode) -> str:
    """The conversation, one labelled line per message, and the verdict."""
    lines = [f"[{episode.task.family}] tools: {', '.join(episode.task.tools) or 'none'}"]
    for message in episode.messages:
        body = message["content"].replace("\n", "\n" + " " * 13)
        lines.append(f"{_ROLE_LABEL[message['role']]:>11}: {body}")
    verdict = "correct" if episode.success else f"wrong (gold: {episode.task.answer})"
    lines.append(f"{'answer':>11}: {episode.answer!r} -> {verdict}")
    return "\n".join(lines)


def plot_success(results: dict[str, dict[str, dict]], ax=None, title: str = "held-out success"):
    """Grouped bars: one group per family, one bar per setting, with ±1 standard error."""
    import matplotlib.pyplot as plt
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    settings = list(results)
    families = list(results[settings[0]])
    width = 0.8 / len(settings)
    for k, setting in enumerate(settings):
        xs = [i + k * width for i in range(len(families))]
        ys = [results[setting][f]["success"] for f in families]
        errs = [results[setting][f]["stderr"] for f in families]
        ax.bar(xs, ys, width, yerr=errs, label=setting, capsize=3)
    ax.set_xticks([i + width * (len(settings) - 1) / 2 for i in range(len(families))], families)
    ax.set_ylim(0, 1)
    ax.set_ylabel("success")
    ax.set_title(title)
    ax.legend()
    return ax
