"""The planning world's planner is optimal and its tasks have the plan length asked for; the experts (BFS here,
the BabyAI bot there) solve their tasks through our text actions; plans, fidelity and observation sizes."""
import ast
import itertools
import json
from collections import Counter
from pathlib import Path

import gymnasium as gym
import pytest

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import planning
from agentic_lab.envs import INVALID_PENALTY
from agentic_lab.planning import (BABYAI_ACTIONS, BABYAI_LEVELS, PlanGridEnv, World, demonstration, executed_plan,
                                  plan_fidelity, sample_worlds, solve, teacher_forced_moves)
from agentic_lab.rollout import rollout
from agentic_lab.tasks import MOVES, task_split
from agentic_lab.tokenizer import build_tokenizer

CONTEXT = 1024  # max_position_embeddings in data/tiny-agent/config.json


def walk(world: World, moves: str):
    state = (world.start, False)
    for move in moves:
        state, _ = world.move(state, move)
    return state


@pytest.mark.parametrize("rows, start, plan", [
    (("...", "...", "..G"), (0, 0), "DDRR"),                 # open floor: Manhattan distance, U D L R order
    ((".#G", ".#.", "..."), (0, 0), "DDRRUU"),               # around a wall
    (("K#G", ".D.", ".#."), (2, 0), "UUDRRU"),               # fetch the key, back, through the door
    (("..#G", "..#.", "...."), (0, 0), "DDRRRUU"),           # the door-less way round
    (("..#G", "..D.", "K.#."), (0, 0), "DDURRRU"),           # down to the key, then the door
])
def test_bfs_finds_an_optimal_plan_on_hand_made_grids(rows, start, plan):
    world = World(rows, start)
    assert solve(world) == plan
    assert world.cell(*walk(world, plan)[0]) == "G"


def test_bfs_is_optimal_against_exhaustive_search():
    """No shorter move sequence reaches G, on sampled worlds with and without a key."""
    worlds = sample_worlds(6, seed=1, lengths=(1, 6)) + sample_worlds(6, seed=1, lengths=(3, 6), key_door=True)
    for world in worlds:
        plan = solve(world)
        assert world.cell(*walk(world, plan)[0]) == "G"
        shorter = itertools.chain.from_iterable(itertools.product(MOVES, repeat=n) for n in range(len(plan)))
        assert not any(world.cell(*walk(world, moves)[0]) == "G" for moves in shorter)


def test_unreachable_goal_has_no_plan():
    assert solve(World((".#G", "##.", "..."), (0, 0))) is None
    assert solve(World(("#D#", ".#G"), (1, 0))) is None    # a door, and no key anywhere


def test_the_locked_door_needs_the_key():
    world = World(("K#G", ".D.", ".#."), (1, 0))
    assert world.move(((1, 0), False), "R") == (((1, 0), False), "Locked.")
    assert world.move(((1, 0), True), "R") == (((1, 1), True), "")


@pytest.mark.parametrize("lengths, key_door", [((1, 6), False), ((8, 12), False), ((3, 6), True), ((8, 12), True)])
def test_sampled_worlds_have_the_optimal_plan_length_asked_for(lengths, key_door):
    worlds = sample_worlds(40, seed=0, split="test", lengths=lengths, key_door=key_door)
    counts = Counter(len(solve(w)) for w in worlds)
    assert set(counts) == set(range(lengths[0], lengths[1] + 1))   # every length, and no other
    assert all(bool(w.find("K")) == key_door for w in worlds)


def test_lengths_a_world_cannot_offer_are_refused(monkeypatch):
    monkeypatch.setattr(planning, "MAX_TRIES", 200)
    with pytest.raises(ValueError, match="1 moves"):
        sample_worlds(1, lengths=(1, 1), key_door=True)    # key, door and goal take at least 3 moves


def test_train_and_test_worlds_are_disjoint_and_reproducible():
    train, test = sample_worlds(150, seed=0, split="train"), sample_worlds(150, seed=0, split="test")
    assert {w.text() for w in train}.isdisjoint(w.text() for w in test)
    assert all(task_split((w.text(),)) == "test" for w in test)
    assert sample_worlds(5, seed=3) == sample_worlds(5, seed=3) != sample_worlds(5, seed=4)


def test_search_imagines_each_held_out_world_again_and_only_that_world():
    """planning.imagined_successes plays each world `copies` times in a row: every copy of a world must be that
    world (the search is in a copy of the world to be played), of the asked length and held out; and the worlds
    must be play_by_length's, with which the search's success is paired."""
    def worlds(envs, seeds):
        for env, seed in zip(envs, seeds):
            env.reset(seed=seed)
        return [env.unwrapped.world for env in envs]
    copied = worlds(*planning.worlds_by_length(False, [8, 12], per_length=3, copies=4))
    assert [len(solve(w)) for w in copied] == [8] * 12 + [12] * 12
    assert all(len(set(copied[k:k + 4])) == 1 for k in range(0, 24, 4)) and len(set(copied)) == 6
    assert all(task_split((w.text(),)) == "test" for w in copied)
    assert worlds(*planning.worlds_by_length(False, [8, 12], per_length=3)) == copied[::4]


@pytest.mark.parametrize("lengths, split, key_door", [((1, 6), "train", False), ((8, 12), "test", False),
                                                      ((3, 6), "train", True), ((8, 12), "test", True)])
def test_the_planner_solves_every_task_through_the_environment(lengths, split, key_door):
    env = gym.make("agentic_lab/PlanGrid-v0", max_turns=12)
    for world in sample_worlds(25, seed=2, split=split, lengths=lengths, key_door=key_door):
        messages = demonstration(env, options={"world": world})
        assert env.unwrapped.success and env.unwrapped.executed == list(solve(world))
        assert [m["content"] for m in messages if m["role"] == "assistant"] == \
            [f"<answer>{move}</answer>" for move in solve(world)]


def test_plan_first_mode_records_the_plan_and_its_fidelity():
    world = World(("....", ".##.", "...G"), (0, 0))    # optimal: RRRDD
    env = PlanGridEnv(plan_first=True)
    env.reset(options={"world": world})
    observation, reward, *_, info = env.step("<answer>R</answer>")            # a first move with no plan
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and env.state[0] == (0, 0)
    *_, info = env.step("<plan>R R R D D</plan><answer>R</answer>")
    assert info["plan"] == "R R R D D" and info["plan_fidelity"] == pytest.approx(0.2)
    *_, info = env.step("<plan>LLL</plan><answer>D</answer>")                # a later plan is not recorded
    assert info["plan"] == "R R R D D" and info["plan_fidelity"] == pytest.approx(0.2)
    assert info["executed"] == ["R", "D"]


def test_plan_first_demonstrations_carry_the_whole_plan():
    env = gym.make("agentic_lab/PlanGrid-v0", plan_first=True)
    messages = demonstration(env, seed=0)
    plan = env.unwrapped.optimal
    assert messages[1]["content"] == f"<plan>{plan}</plan><answer>{plan[0]}</answer>"
    assert env.unwrapped.info()["plan_fidelity"] == 1.0 and env.unwrapped.success


@pytest.mark.parametrize("plan, executed, fidelity", [
    ("RRDD", "RRDD", 1.0),
    ("RRDD", "RRDL", 0.75),         # abandoned at the last step
    ("RRDD", "RDRD", 0.25),         # a deviation ends it, even if the plan is picked up again
    ("RRDD", "DRRDD", 0.0),
    ("RR", "RRLL", 1.0),            # what comes after the plan does not count
    ("RRDD", "RR", 0.5),            # the episode ended half-way
    ("", "RR", 0.0),
    (["forward", "left", "toggle"], ["forward", "left", "forward"], 2 / 3),
])
def test_plan_fidelity_on_hand_made_cases(plan, executed, fidelity):
    assert plan_fidelity(plan, executed) == pytest.approx(fidelity)


@pytest.mark.parametrize("action", ["<answer>X</answer>", "<answer>up</answer>", "R",
                                    '<tool_call>{"name": "move", "arguments": {"direction": "R"}}</tool_call>'])
def test_unknown_or_malformed_actions_cost_the_penalty(action):
    env = gym.make("agentic_lab/PlanGrid-v0")
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and info["invalid"] and not terminated
    assert info["executed"] == []


def test_babyai_action_words_are_minigrids_actions_in_order():
    from minigrid.core.actions import Actions
    assert BABYAI_ACTIONS == tuple(action.name for action in Actions)


@pytest.mark.parametrize("level", sorted(BABYAI_LEVELS))
def test_babyai_bot_demonstrations_solve_the_level_replayed_as_text(level):
    for seed in range(4):
        expert_env = gym.make(f"agentic_lab/{level}")
        expert_env.reset(seed=seed)
        actions = expert_env.unwrapped.expert_actions()
        env = gym.make(f"agentic_lab/{level}")      # a fresh environment, the same seed: the same level
        env.reset(seed=seed)
        rewards = [env.step(f"<answer>{action}</answer>")[1] for action in actions]
        assert rewards[-1] == 1.0 and sum(rewards) == 1.0 and env.unwrapped.success, (level, seed)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def tokens(tokenizer, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids) == text   # the vocabulary has every character
    return ids


def test_plan_grid_observations_are_short_in_the_tiny_tokenizer(tokenizer):
    """The map once (under 90 tokens), then 3x3 windows (under 16); a whole expert episode with its plan, at the
    longest test length and with a key, stays within a third of the context."""
    env = gym.make("agentic_lab/PlanGrid-v0", plan_first=True, key_door=True)
    for world in sample_worlds(10, seed=0, split="test", lengths=(12, 12), key_door=True):
        messages = demonstration(env, options={"world": world})
        assert len(tokens(tokenizer, messages[0]["content"])) < 90
        assert all(len(tokens(tokenizer, m["content"])) < 16 for m in messages if m["role"] == "tool")
        assert len(tokenizer.apply_chat_template(messages, return_dict=False)) < CONTEXT / 3


@pytest.mark.parametrize("level", sorted(BABYAI_LEVELS))
def test_babyai_observations_are_text_the_tiny_tokenizer_reads(level, tokenizer):
    env = gym.make(f"agentic_lab/{level}")
    messages = demonstration(env, seed=0)
    assert messages[0]["content"].startswith(f"Mission: {env.unwrapped.level.mission}\n")
    assert all(len(tokens(tokenizer, m["content"])) < 200 for m in messages if m["role"] != "assistant")


def test_every_wrapped_babyai_level_is_registered():
    registered = {name.removeprefix("agentic_lab/") for name in gym.registry if name.startswith("agentic_lab/BabyAI")}
    assert registered == set(planning.BABYAI_LEVELS)


def test_teacher_forcing_scores_every_move_of_the_plan_and_of_the_answers(tiny):
    model, tokenizer = tiny
    env = gym.make("agentic_lab/PlanGrid-v0", lengths=(4, 4), plan_first=True)
    conversation = demonstration(env, seed=0)
    records = teacher_forced_moves(model, tokenizer, [conversation])
    assert [(r["where"], r["index"]) for r in records] == [("plan", k) for k in (1, 2, 3, 4)] + \
        [("answer", k) for k in (1, 2, 3, 4)]
    ids = tokenizer.apply_chat_template(conversation, return_dict=False)
    plan = conversation[1]["content"][len("<plan>"):][:4]
    assert [tokenizer.decode([ids[r["position"]]]) for r in records] == list(plan) * 2  # the expert follows its plan


def test_executed_plan_reads_the_plan_and_the_accepted_moves():
    """On the plan-first warm start, which writes plans and makes moves (some refused, sampling at T = 1.5)."""
    from agentic_lab import load_model
    model, tokenizer = load_model(planning.WARM_STARTS["plan-first"])
    envs = [gym.make("agentic_lab/PlanGrid-v0", lengths=(3, 6), plan_first=True) for _ in range(16)]
    episodes = rollout(model, tokenizer, envs, seeds=list(range(16)), temperature=1.5, max_new_tokens=32)
    for env, episode in zip(envs, episodes):
        plan, moves = executed_plan(episode)
        assert moves == env.unwrapped.executed and plan == env.unwrapped.plan_steps(env.unwrapped.plan or "")
    assert sum(bool(executed_plan(e)[0]) for e in episodes) >= 8 and sum(len(executed_plan(e)[1]) for e in episodes) >= 32
    assert any(turn.reward < 0 for e in episodes for turn in e.turns)  # a refused action is left out


@pytest.mark.slow
def test_a_plan_first_does_not_help_and_positions_do_not_break_long_routes():
    """Notebook 07's headline claims at its own scale (24 held-out worlds per plan length, greedy), on the shipped warm
    starts: writing the plan first does not help inside the training lengths (on the same worlds); past them the
    plan-first arm stays under 10% and behind act-only by two standard errors; and under teacher forcing the
    plan-first arm writes plan steps 7-12 far worse than steps 1-6, while the act-only arm's moves past its longest
    training episode are no worse than those within it (positions are not what breaks long routes)."""
    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain
    models = {arm: load_model(planning.WARM_STARTS[arm]) for arm in ("act-only", "plan-first")}
    lengths = [*range(1, 7), *range(8, 13)]
    played = {arm: planning.play_by_length(model, tokenizer, arm == "plan-first", lengths, 24)
              for arm, (model, tokenizer) in models.items()}
    def success(arm, inside):
        return [t.success for t in played[arm] if (t.info["optimal_length"] <= 6) == inside]
    gap, stderr = paired_gain(success("act-only", True), success("plan-first", True))  # plan-first minus act-only
    assert gap + 2 * stderr < 0.05  # the plan does not help: at most a few points, at two standard errors
    assert sum(success("plan-first", False)) / len(success("plan-first", False)) < 0.1
    gap, stderr = paired_gain(success("act-only", False), success("plan-first", False))
    assert gap + 2 * stderr < 0

    def accuracy(records):
        return sum(r["correct"] for r in records) / len(records)
    forced = {}
    for arm, (model, tokenizer) in models.items():
        env = gym.make("agentic_lab/PlanGrid-v0", lengths=(8, 12), split="test", plan_first=arm == "plan-first")
        forced[arm] = planning.teacher_forced_moves(model, tokenizer, [demonstration(env, seed=s) for s in range(200)])
    plan = [r for r in forced["plan-first"] if r["where"] == "plan"]
    assert accuracy([r for r in plan if r["index"] > 6]) < 0.5 * accuracy([r for r in plan if r["index"] <= 6])
    longest = json.loads((planning.WARM_STARTS["act-only"] / "build_stats.json").read_text())[
        "longest_train_episode_tokens"]                      # the act-only arm's own, not the plan-first arm's
    moves = [r for r in forced["act-only"] if r["where"] == "answer"]
    within, beyond = (accuracy([r for r in moves if (r["position"] > longest) == past]) for past in (False, True))
    assert beyond > within - 0.05


@pytest.mark.slow
def test_searching_in_a_copy_of_the_world_reaches_routes_past_the_training_lengths():
    """Notebook 07's planning-as-search headline at its scale (8 held-out worlds per plan length 8 to 12, 16
    imagined episodes each), on the act-only warm start: searching 16 imagined episodes reaches G more often than
    acting greedily on the same worlds, and more often than the plan-first arm's written plan, each by two standard
    errors paired by world."""
    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain, pass_at_k
    lengths, per_length, budget = range(8, 13), 8, 16
    models = {arm: load_model(planning.WARM_STARTS[arm]) for arm in ("act-only", "plan-first")}
    greedy = {arm: [float(t.success) for t in planning.play_by_length(model, tokenizer, arm == "plan-first", lengths,
                                                                      per_length)]
              for arm, (model, tokenizer) in models.items()}
    found = planning.imagined_successes(*models["act-only"], False, lengths, per_length, budget)
    searched = [pass_at_k(budget, c, budget) for c in found]
    for arm in greedy:
        gain, stderr = paired_gain(greedy[arm], searched)
        assert gain > 2 * stderr, (arm, gain, stderr)


def test_the_plan_is_the_one_written_with_the_first_accepted_move():
    """The environment takes the plan from the first move it accepts: when the first turn is refused (a move with no
    plan, in the plan-first arm), the plan comes with the second."""
    from agentic_lab.actions import parse_action
    from agentic_lab.trajectory import Trajectory, Turn
    env = gym.make("agentic_lab/PlanGrid-v0", lengths=(3, 6), plan_first=True)
    env.reset(seed=0)
    expert = env.unwrapped.expert_actions()
    turns = []
    for text in (f"<answer>{expert[0]}</answer>",
                 f"<plan>{env.unwrapped.plan_text(expert)}</plan><answer>{expert[0]}</answer>"):
        observation, reward, terminated, _, _ = env.step(text)
        turns.append(Turn("", text, parse_action(text), observation, reward, terminated))
    assert turns[0].reward < 0 and turns[1].reward >= 0
    plan, moves = executed_plan(Trajectory("agentic_lab/PlanGrid-v0", 0, turns=turns))
    assert plan == env.unwrapped.plan_steps(env.unwrapped.plan) == expert and moves == env.unwrapped.executed


def test_babyai_held_out_missions_never_start_as_a_training_one_did():
    """BabyAI has no splits of its own: the warm start (data/build_babyai_model.py) trains on split="train" levels and
    is measured on split="test" ones, a level's split decided by a hash of its first observation. Each split keeps
    only its own, and no first observation is in both; split=None plays the levels it always played."""
    starts = {}
    for split in ("train", "test"):
        env = gym.make("agentic_lab/BabyAI-GoToLocal-v0", split=split)
        starts[split] = [env.reset(seed=seed)[0] for seed in range(200)]
        assert all(task_split((observation,)) == split for observation in starts[split])
    assert not set(starts["train"]) & set(starts["test"])
    level = gym.make("BabyAI-GoToLocal-v0", disable_env_checker=True).unwrapped
    level.reset(seed=int(gym.utils.seeding.np_random(7)[0].integers(2**31)))  # the one level split=None draws
    unsplit = gym.make("agentic_lab/BabyAI-GoToLocal-v0").unwrapped
    unsplit.reset(seed=7)
    assert unsplit.level.mission == level.mission and (unsplit.level.grid.encode() == level.grid.encode()).all()


def notebook_07_code() -> str:
    cells = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "07_planning.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_notebook_07_compares_each_arm_with_its_own_longest_training_episode():
    """The teacher-forced comparison splits each arm's answers at that arm's longest training episode: act-only's
    demonstrations are shorter than plan-first's, so one boundary for both put act-only's longer ones 'inside'."""
    line = next(l for l in notebook_07_code().splitlines() if l.startswith("longest_trained ="))
    stats = {"act-only": {"longest_train_episode_tokens": 163}, "plan-first": {"longest_train_episode_tokens": 171}}
    longest_trained = eval(line.split("=", 1)[1].split("#")[0], {}, {"stats": stats})
    assert longest_trained == {"act-only": 163, "plan-first": 171}


def test_notebook_07_trains_copies_and_measures_the_warm_starts_untouched():
    """RL trains copies: a warm start trained in place would be measured as 'before' when an earlier cell is
    re-run after training."""
    tree = ast.parse(notebook_07_code())
    loaded = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "load_model"
              for element in node.targets for target in ast.walk(element) if isinstance(target, ast.Name)}
    trained = [node.args[0] for node in ast.walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "attr", getattr(node.func, "id", "")) == "grpo_train"]
    assert trained and "models" in loaded
    for model in trained:
        name = model.value if isinstance(model, ast.Subscript) else model
        assert not (isinstance(name, ast.Name) and name.id in loaded - {"tokenizer"}), ast.unparse(model)
