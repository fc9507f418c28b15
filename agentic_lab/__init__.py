"""Agentic RL Lab: the helper package behind the notebooks.

One module per concept, read in this order:
    tokenizer  the tiny model's character tokenizer and chat template
    models     the tiny model's config and `load_model` (tiny, Hub id, or local folder)
    tools      tools an agent can call (calc, search), declared once
    world      the fictional world the search tool looks things up in
    tasks      task families: seeded generators of problems, solutions and checkers
    actions    parse model text into a tool call, an answer, or an invalid action
    rollout    run a model on tasks, turn by turn, token in and token out
    sft        supervised fine-tuning from scratch
    eval       held-out success per task family
    runmode    quick mode (tests) versus full mode (learners)
"""
from agentic_lab.models import ModelLoadError, load_model
from agentic_lab.runmode import announce, is_quick, pick, report_time

__all__ = ["load_model", "ModelLoadError", "is_quick", "pick", "announce", "report_time"]
__version__ = "0.1.0"
