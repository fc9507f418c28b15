"""Agentic RL Lab: the helper package behind the notebooks.

One module per concept, read in this order:
    tokenizer  the tiny model's character tokenizer and chat template
    models     the tiny model's config and `load_model` (tiny, Hub id, or local folder)
    vision     the tiny model reading images: patches projected into placeholder tokens (LLaVA's recipe) (13)
    tools      tools an agent can call (calc, search, lookup), declared once; a failing tool is an observation
    world      the fictional world the search tool looks things up in
    tasks      task families: seeded generators of problems, solutions and checkers
    actions    parse model text into a tool call, an answer, or an invalid action
    envs       Gymnasium text environments (agentic_lab/Calculator-v0, KeyDoor-v0, ...)
    planning   a grid world whose optimal plan length is a dial, BabyAI levels as text, plan fidelity (07)
    tool_use   tasks that need no tool, calc, or lookup, and ToolChoice-v0 (08)
    search     the search agent: a 7,200-document corpus of the world, BM25, questions, SearchAgent-v0 (10)
    long_horizon  the coin collector whose route follows the turn budget, and TextWorld's own (09)
    memory     a memory bank managed by ADD / UPDATE / DELETE / NOOP (Memory-R1), a rewritten state (MEM1) (11)
    reflection two attempts at a task, with or without feedback between them; SCoRe's rewards (12)
    perception a scene seen first as a glance, crop and erase as tools, the rewards that teach looking (13)
    sandbox    running model-written Python where it cannot hurt anything: namespaces, limits, a timeout (14)
    coding     small functions from one line and three examples, hidden tests, hard-coding caught, Code-v0 (14)
    support    expressions in forms the calculator family never shows: outside what the model samples (18)
    trajectory what an agent did, token by token; saved and loaded atomically
    rollout    the batched multi-turn engine: N environments in lock-step, token in and token out
    sft        supervised fine-tuning from scratch
    eval       held-out success per task family, pass@k, distinct@k, copying an unseen string
    policy_gradient  the log-derivative trick, REINFORCE and a baseline; log-probs, clipped ratio, KL estimators,
               batching trajectories: what PPO, the GRPO family and DPO share (02-06)
    reward_model  a hidden gold preference, noisy pairs, Bradley–Terry reward models (notebook 01)
    preference the DPO family: DPO, IPO, SimPO, KTO, ORPO, Step-DPO pairs, and their training loop (03)
    ppo        RLHF with PPO: GAE, clipped objective, KL estimators, value head, the PPO loop (02)
    algorithms the GRPO family's losses and advantages: GRPO, Dr. GRPO, DAPO, GSPO, RLOO (04)
    rl         the GRPO-family training loop over any environment, with its diagnostics (04, 05, 06...)
    rewards    verifiable rewards: outcome and format (05)
    exercises  the exercises' auto-checkers
    viz        printing trajectories, plots, and the interactive trajectory viewer
    runmode    quick mode (tests) versus full mode (learners)
"""
from agentic_lab.runmode import announce, is_quick, pick, report_time  # first: its clock starts before torch loads
from agentic_lab.models import ModelLoadError, load_model  # noqa: E402,I001

__all__ = ["load_model", "ModelLoadError", "is_quick", "pick", "announce", "report_time"]
__version__ = "0.1.0"
