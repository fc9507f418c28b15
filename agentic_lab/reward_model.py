"""Reward models: learn a scalar r_φ(x, y) from which of two answers people preferred.

LLM-RL is a one-step MDP (a contextual bandit): the state is a prompt x, the action is a whole answer y,
a reward r(x, y) arrives and the episode ends. RLHF does not know r; it asks people to compare two
answers and fits a Bradley–Terry model,

    P(y_c ≻ y_r | x) = σ(r_φ(x, y_c) - r_φ(x, y_r))        L(φ) = -log σ(r_φ(x, y_c) - r_φ(x, y_r))

Here the "people" are a hidden *gold* preference, a program (`gold_reward`): a correct answer beats a
wrong one, then a well-formed one beats a malformed one, then a shorter one beats a longer one. Labels
are drawn from it with noise, as human labels are. Because gold is known, we can measure what a learned
reward gets right and wrong, and (notebook 02) what a policy does when it optimises the learned one.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification

from agentic_lab.eval import play_tasks
from agentic_lab.models import load_model
from agentic_lab.preference import bradley_terry_loss
from agentic_lab.tasks import Task, sample_tasks

_WELL_FORMED = re.compile(r"(<think>[^<]*</think>)?<answer>[^<]+</answer>")
CORRECT, WELL_FORMED, PER_CHARACTER = 1.0, 0.5, 0.005  # the gold program's weights: correct dominates


def gold_parts(task: Task, response: str) -> dict:
    """What the gold labeller looks at: is the answer correct, is the message well-formed, how long is it."""
    answer = re.search(r"<answer>([^<]*)</answer>", response)
    return {"correct": answer is not None and task.check(answer.group(1)),
            "well_formed": bool(_WELL_FORMED.fullmatch(response)), "length": len(response)}


def gold_reward(task: Task, response: str) -> float:
    """Correct first, then well-formed, then concise:

        r*(x, y) = 1.0·correct(y) + 0.5·well_formed(y) - 0.005·len(y)

    (a 100-character answer loses 0.5, so length never outweighs correctness)."""
    parts = gold_parts(task, response)
    return CORRECT * parts["correct"] + WELL_FORMED * parts["well_formed"] - PER_CHARACTER * parts["length"]


@dataclass(frozen=True)
class Pair:
    task: Task
    chosen: str
    rejected: str
    gold_margin: float  # r*(x, chosen) - r*(x, rejected): negative when the noisy label went against gold


# Hotter than the policy samples, so pairs differ in form and length, not only in correctness, which a reward model
# this small cannot judge. Measured on the shipped checkpoint (notebook 01's recipe): at 1.3 half the pairs were gold
# ties and the trained reward model agreed with gold on 0.52 of the rest; at 1.6, 0.64; at 2.0, 0.61.
LABEL_TEMPERATURE = 1.6


def sample_responses(model, tokenizer, tasks: list[Task], n: int = 2, temperature: float = 1.0,
                     seed: int = 0) -> list[list[str]]:
    """n sampled answers to each task (one message each, no tools); `labelled_pairs` samples at LABEL_TEMPERATURE."""
    played = play_tasks(model, tokenizer, [t for t in tasks for _ in range(n)], temperature=temperature,
                        seed=seed, max_turns=1)
    texts = [t.turns[0].text for t in played]
    return [texts[i * n:(i + 1) * n] for i in range(len(tasks))]


def preference_pairs(tasks: list[Task], responses: list[list[str]], tau: float = 0.1, seed: int = 0) -> list[Pair]:
    """One labelled pair per task from its first two distinct answers. The label is noisy, as a human's:

        P(a ≻ b) = σ((r*(x, a) - r*(x, b)) / τ)

    so near-ties are coin flips and clear differences are almost always labelled right."""
    rng = random.Random(seed)
    pairs = []
    for task, answers in zip(tasks, responses):
        distinct = list(dict.fromkeys(answers))
        if len(distinct) < 2:
            continue  # identical answers carry no preference
        a, b = distinct[:2]
        margin = gold_reward(task, a) - gold_reward(task, b)
        a_wins = rng.random() < 1 / (1 + math.exp(-margin / tau))
        chosen, rejected = (a, b) if a_wins else (b, a)
        pairs.append(Pair(task, chosen, rejected, margin if a_wins else -margin))
    return pairs


def labelled_pairs(model, tokenizer, tasks: list[Task], seed: int = 0) -> list[Pair]:
    """Notebook 01's preference data: two answers to each task, sampled at LABEL_TEMPERATURE so that they differ in
    form and length, not only in correctness, then one noisy gold label per pair (`preference_pairs`)."""
    answers = sample_responses(model, tokenizer, tasks, n=2, temperature=LABEL_TEMPERATURE, seed=seed)
    return preference_pairs(tasks, answers, seed=seed)


def right_wrong_pairs(model, tokenizer, tasks: list[Task], n: int = 4, seed: int = 0) -> list[Pair]:
    """On-policy pairs that correctness alone decides: n answers to each task at T = 1, the temperature the policy
    samples at; where some are right and some wrong, the first right answer is chosen over the first wrong one.
    Gold would label every such pair the same way (correct outweighs form and length), so there is no label noise
    and no tie, and both answers are ones the policy itself gives."""
    pairs = []
    for task, answers in zip(tasks, sample_responses(model, tokenizer, tasks, n=n, seed=seed)):
        correct = [gold_parts(task, a)["correct"] for a in answers]
        if any(correct) and not all(correct):
            right, wrong = answers[correct.index(True)], answers[correct.index(False)]
            pairs.append(Pair(task, right, wrong, gold_reward(task, right) - gold_reward(task, wrong)))
    return pairs


def conversation(task: Task, response: str) -> list[dict]:
    return [{"role": "user", "content": task.prompt}, {"role": "assistant", "content": response}]


def pairs_dataset(pairs: list[Pair]):
    """The pairs in TRL's conversational preference format (`chosen`/`rejected` message lists, with the
    shared `prompt` split off), which `RewardTrainer` and `DPOTrainer` read."""
    from datasets import Dataset
    return Dataset.from_list([{"prompt": [{"role": "user", "content": p.task.prompt}],
                               "chosen": [{"role": "assistant", "content": p.chosen}],
                               "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs])


def load_reward_model(name_or_path=None, seed: int = 0):
    """The language model's body with a fresh linear head that outputs one number: r_φ(x, y) is read at the
    last token of the conversation (`AutoModelForSequenceClassification` with one label)."""
    torch.manual_seed(seed)  # the new head's initial weights
    return load_model(name_or_path, auto_class=AutoModelForSequenceClassification, num_labels=1)


def _encode(tokenizer, task: Task, response: str) -> list[int]:
    return tokenizer.apply_chat_template(conversation(task, response), return_dict=False)


def _batch(tokenizer, sequences: list[list[int]]) -> dict[str, torch.Tensor]:
    """Left-pad, so that the last position of every row is its last real token."""
    width = max(map(len, sequences))
    ids = torch.full((len(sequences), width), tokenizer.pad_token_id)
    attention = torch.zeros_like(ids)
    for i, seq in enumerate(sequences):
        ids[i, width - len(seq):], attention[i, width - len(seq):] = torch.tensor(seq), 1
    return {"input_ids": ids, "attention_mask": attention}


def rewards(reward_model, tokenizer, tasks: list[Task], responses: list[str], batch_size: int = 128) -> torch.Tensor:
    """r_φ(x, y) for each (task, response): shape (n,)."""
    out = []
    with torch.no_grad():
        for start in range(0, len(tasks), batch_size):
            seqs = [_encode(tokenizer, t, r) for t, r in zip(tasks[start:start + batch_size],
                                                             responses[start:start + batch_size])]
            out.append(reward_model(**_batch(tokenizer, seqs)).logits[:, 0])
    return torch.cat(out) if out else torch.zeros(0)


def pairwise_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Fraction of pairs the reward ranks the chosen answer strictly above the rejected one."""
    return (r_chosen > r_rejected).double().mean()


def evaluate_pairs(reward_model, tokenizer, pairs: list[Pair]) -> dict:
    """Accuracy against the noisy labels, and against gold itself (pairs whose gold margin is not zero).
    `gold_agrees` lists, for each of those pairs in order, 1.0 if the reward model ranks them as gold does, else 0.0:
    two reward models evaluated on the same pairs give lists ready for a paired comparison (`eval.paired_gain`)."""
    tasks = [p.task for p in pairs]
    r_c = rewards(reward_model, tokenizer, tasks, [p.chosen for p in pairs])
    r_r = rewards(reward_model, tokenizer, tasks, [p.rejected for p in pairs])
    margin = torch.tensor([p.gold_margin for p in pairs])
    agrees = ((r_c - r_r) * margin.sign() > 0)[margin != 0].double()
    return {"label_accuracy": pairwise_accuracy(r_c, r_r).item(), "gold_accuracy": agrees.mean().item(),
            "gold_agrees": agrees.tolist()}


def train_reward_model(reward_model, tokenizer, pairs: list[Pair], epochs: int = 2, batch_size: int = 32,
                       lr: float = 1e-4, seed: int = 0, progress: bool = True) -> list[float]:
    """Minimise the Bradley–Terry loss over the pairs; returns the loss of every step."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(reward_model.parameters(), lr=lr)
    encoded = [(_encode(tokenizer, p.task, p.chosen), _encode(tokenizer, p.task, p.rejected)) for p in pairs]
    order = [i for _ in range(epochs) for i in rng.sample(range(len(encoded)), len(encoded))]
    losses = []
    reward_model.train()
    for start in tqdm(range(0, len(order), batch_size), desc="reward model", disable=not progress):
        chunk = [encoded[i] for i in order[start:start + batch_size]]
        # chosen and rejected answers in one forward pass: rows [0, n) chosen, [n, 2n) rejected
        r = reward_model(**_batch(tokenizer, [c for c, _ in chunk] + [r for _, r in chunk])).logits[:, 0]
        loss = bradley_terry_loss(r[:len(chunk)], r[len(chunk):]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    reward_model.eval()
    return losses


def gold_win_rate(tasks: list[Task], answers: list[list[str]], reference_answers: list[list[str]]) -> tuple:
    """How often a policy's answers beat the reference's under gold, ties counting half: (rate, standard error).

    answers, reference_answers: n answers to each task from each model, sampled with the same seeds
    (`sample_responses(model, ..., n=n, seed=s)`); answer k of one meets answer k of the other. A task's score is
    the mean of its n duels; the standard error is over tasks (duels on one prompt are not independent), so more
    samples per prompt narrow it only as far as prompts differ."""
    def duel(task, a, b):  # 1 if a wins, 0.5 on a tie
        r_a, r_b = gold_reward(task, a), gold_reward(task, b)
        return float(r_a > r_b) + 0.5 * (r_a == r_b)
    scores = torch.tensor([sum(duel(t, a, b) for a, b in zip(a_n, b_n)) / len(a_n)
                           for t, a_n, b_n in zip(tasks, answers, reference_answers)])
    return scores.mean().item(), (scores.std() / len(scores) ** 0.5).item()


def correct_share(tasks: list[Task], answers: list[list[str]]) -> list[float]:
    """Per task, the share of its answers that gold counts correct: per-prompt accuracy, ready for `paired_gain`."""
    return [sum(gold_parts(t, a)["correct"] for a in a_n) / len(a_n) for t, a_n in zip(tasks, answers)]


def standardised(score_fn, policy, tokenizer, tasks: list[Task], seed: int = 0):
    """`score_fn(tasks, responses)` rescaled to mean 0 and std 1 over `policy`'s answers to `tasks`. A reward model is
    defined only up to a shift and a scale; standardising puts a proxy and gold on one scale for PPO (notebook 02)."""
    answers = [r[0] for r in sample_responses(policy, tokenizer, tasks, n=1, seed=seed)]  # T = 1, as PPO samples
    scores = torch.as_tensor(score_fn(tasks, answers), dtype=torch.float)
    mu, sd = scores.mean().item(), scores.std().item()
    return lambda tasks, responses: (torch.as_tensor(score_fn(tasks, responses), dtype=torch.float) - mu) / sd


def proxy_reward(policy, tokenizer, n_tasks: int = 1200, seed: int = 0):
    """The RLHF proxy of notebook 02: a reward model trained on noisy gold labels of `policy`'s own answer pairs
    to `n_tasks` word problems (the recipe of notebook 01), standardised on the policy's answers."""
    tasks = sample_tasks("word_problem", n_tasks, seed=seed + 1, split="train")
    pairs = labelled_pairs(policy, tokenizer, tasks, seed=seed)
    reward_model, _ = load_reward_model(seed=seed)
    train_reward_model(reward_model, tokenizer, pairs, epochs=2, lr=1e-4, seed=seed, progress=False)
    score = lambda tasks, responses: rewards(reward_model, tokenizer, tasks, responses)
    return standardised(score, policy, tokenizer, sample_tasks("word_problem", 200, seed=seed + 9, split="train"),
                        seed=seed + 9)


def best_of_n(proxy: torch.Tensor, gold: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best-of-n, the simplest optimiser of a reward model: draw n answers, keep the one the proxy ranks first.

    proxy, gold: (P, M) scores of M sampled answers to each of P prompts. The M answers are cut into M // n disjoint
    groups of n and each group keeps the proxy's favourite, so every n is measured on the same answers. Returns the
    proxy and the gold score of the kept answers, each averaged over a prompt's groups: (P,), (P,)."""
    P, M = proxy.shape
    groups = M // n
    p, g = proxy[:, :groups * n].reshape(P, groups, n), gold[:, :groups * n].reshape(P, groups, n)
    best = p.argmax(dim=-1, keepdim=True)                                  # (P, groups, 1)
    return p.gather(-1, best).squeeze(-1).mean(1), g.gather(-1, best).squeeze(-1).mean(1)


def best_of_n_kl(n: int) -> float:
    """KL(π_BoN ‖ π) = log n - (n - 1)/n nats: how far keeping the best of n moves the answer distribution from the
    sampling policy (Stiennon et al. 2020, used by Gao et al. 2022; Beirami et al. 2024 show it is an upper bound)."""
    return math.log(n) - (n - 1) / n


def gold_scores(tasks: list[Task], responses: list[str]) -> torch.Tensor:
    """gold_reward over a batch: the same signature as a reward model's score."""
    return torch.tensor([gold_reward(t, r) for t, r in zip(tasks, responses)])
