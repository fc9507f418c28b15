"""The memory bank (Memory-R1) and the rewritten state (MEM1): operations, errors, baselines, splits, lengths."""
import json
import random

import gymnasium as gym
import pytest

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import memory
from agentic_lab.actions import parse_action
from agentic_lab.envs import INVALID_PENALTY
from agentic_lab.memory import Bank, InvalidOperation, answer_from, apply
from agentic_lab.tasks import sample_tasks, task_split
from agentic_lab.tokenizer import build_tokenizer
from agentic_lab.tools import call_tool

BANK = Bank(("Keso job miner", None, "Zibo lives Dradabu", None), (1, -1, 2, -1))


def test_operations_change_the_bank_as_documented():
    assert apply(BANK, parse_action("<mem_add>Dradabu capital Kalabu</mem>"), 3) == \
        Bank(("Keso job miner", "Dradabu capital Kalabu", "Zibo lives Dradabu", None), (1, 3, 2, -1))
    assert apply(BANK, parse_action("<mem_update>1 Keso job  baker</mem>"), 3) == \
        Bank(("Keso job baker", None, "Zibo lives Dradabu", None), (3, -1, 2, -1))
    assert apply(BANK, parse_action("<mem_delete>3</mem>"), 3) == Bank(("Keso job miner", None, None, None), (1, -1, -1, -1))
    assert apply(BANK, parse_action("<mem_noop></mem>"), 3) == BANK


@pytest.mark.parametrize("operation, reason", [
    ("<mem_update>99 Keso job baker</mem>", "no slot 99"),
    ("<mem_delete>2</mem>", "slot 2 is empty"),
    ("<mem_update>4 Keso job baker</mem>", "slot 4 is empty"),
    ("<mem_update>1 " + "x" * (memory.MAX_ENTRY_CHARS + 1) + "</mem>", f"at most {memory.MAX_ENTRY_CHARS}"),
])
def test_an_impossible_operation_raises(operation, reason):
    with pytest.raises(InvalidOperation, match=reason):
        apply(BANK, parse_action(operation), 3)
    with pytest.raises(InvalidOperation, match="full"):
        apply(Bank(("a",) * 4, (1, 2, 3, 4)), parse_action("<mem_add>Keso job baker</mem>"), 5)


def test_the_answerer_reads_the_newest_slot_that_states_the_fact():
    bank = Bank(("Keso job miner", "keso JOB baker", "Keso lives Dradabu", "Keso job"), (5, 2, 7, 9))
    assert answer_from(bank, "Keso", "job") == "miner"        # written at 5, after "baker" at 2
    assert answer_from(bank, "Keso", "lives") == "Dradabu"
    assert answer_from(bank, "Zibo", "job") is None


@pytest.mark.parametrize("operation", [
    "<mem_update>99 Keso job baker</mem>",   # no such slot
    "<mem_delete>3</mem>",                   # an empty slot
    "<mem_add>Keso job baker</mem>",         # a full bank (below)
    "<mem_merge>1</mem>",                    # an unknown operation
    "<mem_update>0</mem>",                   # slots count from 1
    "<answer>miner</answer>",                # not a memory operation
    "<mem_noop></mem><mem_noop></mem>",      # two
])
def test_a_malformed_or_impossible_operation_is_an_error_that_changes_nothing(operation):
    env = gym.make("agentic_lab/MemoryBank-v0").unwrapped
    env.reset(seed=0)
    env.bank = Bank(("a b c", "d e f", None, None) if "delete" in operation else ("a b c",) * 4, (1, 2, -1, -1))
    before, position = env.bank, env.position
    observation, reward, terminated, truncated, info = env.step(operation)
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and info["invalid"] and not terminated
    assert env.bank == before and env.position == position and observation.endswith(env.view())


def test_an_episode_ends_with_the_share_of_questions_the_bank_answers():
    env = gym.make("agentic_lab/MemoryBank-v0").unwrapped
    observation, info = env.reset(seed=3)
    assert observation == env.task.prompt and info["show"]["bank"] == "1 -\n2 -\n3 -\n4 -"
    for message in env.task.solution[::2]:
        observation, reward, terminated, truncated, info = env.step(message["content"])
    assert terminated and reward == 1.0 and info["success"] and info["show"]["bank"] == env.bank.show()
    assert observation.count("right") == 2


@pytest.mark.parametrize("manager", ["oracle", "FIFO", "random"])
def test_paid_by_the_turn_the_operations_add_up_to_the_share_answered(manager):
    """turn_rewards pays each operation what it changed in the answers the bank would give now; over a stream the
    payments telescope to the episode's own reward, so the objective is the same, only its credit moves."""
    import random
    manage = {"oracle": memory.oracle_manager, "FIFO": memory.fifo_manager,
              "random": memory.random_manager(random.Random(0))}[manager]
    for task in sample_tasks("memory_bank", 30, seed=1, stream_length=10, bank_size=3):
        env, paid = memory.MemoryBankEnv(bank_size=3, turn_rewards=True), []
        env.reset(options={"task": task})
        while True:
            _, reward, terminated, truncated, _ = env.step(manage(env.bank, env.stream[env.position], env.kept))
            paid.append(reward)
            if terminated or truncated:
                break
        assert terminated and sum(paid) == pytest.approx(env.right)


def test_paid_by_the_turn_a_distractor_written_over_a_kept_fact_costs_that_fact_at_once():
    env = memory.MemoryBankEnv(bank_size=1, turn_rewards=True)
    task = sample_tasks("memory_bank", 1, seed=0, stream_length=6, bank_size=1, questions=1)[0]
    env.reset(options={"task": task})
    kinds = memory.fact_kinds(env.stream, env.kept)
    while kinds[env.position] != "new":          # distractors before the kept name's first fact: skipped, paid 0
        assert env.step("<mem_noop></mem>")[1] == 0.0
    assert env.step("<mem_add></mem>")[1] == 1.0          # the one question is now answerable
    while kinds[env.position] != "distractor":
        env.step("<mem_update>1</mem>")                   # its change, in place
    assert env.step("<mem_update>1</mem>")[1] == -1.0     # a distractor over it: the answer is lost, at this turn


def test_the_oracles_demonstration_is_what_the_environment_shows():
    env = memory.MemoryBankEnv()
    task = sample_tasks("memory_bank", 1, seed=4, stream_length=10)[0]
    env.reset(options={"task": task})
    for message, shown in zip(task.solution[::2], task.solution[1::2]):
        assert env.step(message["content"])[0] == shown["content"]


@pytest.mark.parametrize("stream_length", [4, 16])
def test_the_oracle_scores_one_and_fifo_less_once_the_stream_outgrows_the_bank(stream_length):
    tasks = sample_tasks("memory_bank", 40, seed=0, stream_length=stream_length, bank_size=4)
    fifo = sum(memory.play(memory.fifo_manager, tasks)) / len(tasks)
    assert memory.play(memory.oracle_manager, tasks) == [1.0] * len(tasks)
    assert fifo == 1.0 if stream_length <= 4 else fifo < 0.8
    assert sum(memory.play(memory.random_manager(random.Random(0)), tasks)) / len(tasks) < 0.6


def test_asked_about_jobs_the_manager_is_told_nothing_and_only_the_jobs_matter():
    """asked="jobs": no `Keep:` line, every question a person's job, no distractor a job; so FIFO that skips every
    other fact scores what the oracle scores, and plain FIFO less once the stream outgrows the bank. (That the
    default streams did not change with the option is memory-warm's recipe test: its demonstrations' fingerprint.)"""
    jobs = sample_tasks("memory_bank", 40, seed=0, stream_length=12, bank_size=3, asked="jobs")
    for task in jobs:
        assert "Keep:" not in task.prompt and all("Keep:" not in m["content"] for m in task.solution)
        assert [field for _, field in task.info["questions"]] == ["job", "job"]
        kinds = memory.fact_kinds([memory.Fact(*f.split()) for f in task.info["stream"]], tuple(task.info["kept"]))
        assert all((f.split()[1] == "job") == (kind != "distractor") for f, kind in zip(task.info["stream"], kinds))

    def skip_all_but_jobs(bank, fact, kept):
        return "<mem_noop></mem>" if fact.field != "job" else memory.fifo_manager(bank, fact, kept)
    assert memory.play(skip_all_but_jobs, jobs) == memory.play(memory.oracle_manager, jobs) == [1.0] * len(jobs)
    assert sum(memory.play(memory.fifo_manager, jobs)) / len(jobs) < 0.8
    names = sample_tasks("memory_bank", 5, seed=0, stream_length=12, bank_size=3)
    assert all(t.prompt.startswith("You will be asked about the kept names.") and "Keep:" in t.prompt for t in names)
    with pytest.raises(ValueError, match="asked"):
        sample_tasks("memory_bank", 1, asked="dates")


def test_the_oracle_overwrites_a_slot_no_question_would_read_when_someone_else_filled_the_bank():
    # slot 1: a distractor; slot 2: Keso's old job, replaced by slot 3's; a new kept name arrives
    bank = Bank(("Dufe job weaver", "Keso job miner", "Keso job baker"), (2, 1, 3))
    assert memory.stale_slots(bank, ("Keso", "Moda")) == [1, 2]
    assert memory.oracle_manager(bank, memory.Fact("Moda", "lives", "Gono"), ("Keso", "Moda")) == \
        "<mem_update>2</mem>"                                      # the older of the two stale slots


def test_fact_kinds_and_what_the_viewer_shows_of_each_operation():
    env = memory.MemoryBankEnv(stream_length=8, bank_size=3)
    env.reset(seed=5)
    kinds = memory.fact_kinds(env.stream, env.kept)
    assert kinds.count("new") == 2 and kinds.count("contradiction") == 2 and kinds.count("distractor") == 4
    _, _, _, _, info = env.step("<mem_delete>1</mem>")            # refused: the bank is empty
    assert "kind" not in info["show"]
    _, _, _, _, info = env.step("<mem_noop></mem>")
    assert info["show"]["handled"] == env.stream[0].text and info["show"]["kind"] == kinds[0]


@pytest.mark.parametrize("fifo_share", [0.0, 0.5, 1.0])
def test_the_warm_starts_demonstrations_are_operations_the_bank_takes(fifo_share):
    """Single-turn conversations, one per fact, none refused; with no FIFO share they are the oracle's solution."""
    rng = random.Random(0)
    for seed in range(30):
        length = 4 + seed % 13
        demos = memory.demonstrations(length, seed, rng, fifo_share)
        assert len(demos) == length and all(parse_action(d[1]["content"]).kind == "memory" for d in demos)
        if fifo_share == 0.0:
            env = memory.MemoryBankEnv(stream_length=length, bank_size=memory.BANK_SIZE)
            env.reset(seed=seed)
            assert [d[1]["content"] for d in demos] == [m["content"] for m in env.task.solution[::2]]
            assert demos[0][0]["content"] == env.task.prompt


def test_the_report_counts_what_each_kind_of_fact_got():
    """bank_report on episodes played by FIFO: every new and changed fact added, every distractor added, rewards
    as the environment gave them."""
    from agentic_lab.trajectory import Trajectory, Turn
    trajectories = []
    for seed in range(6):
        env = memory.MemoryBankEnv(stream_length=8, bank_size=3)
        observation, info = env.reset(seed=seed)
        t = Trajectory("agentic_lab/MemoryBank-v0", seed, info=dict(info["hidden"]))
        while True:
            text = memory.fifo_manager(env.bank, env.stream[env.position], env.kept)
            result, reward, done, _, info = env.step(text)
            t.turns.append(Turn(observation, text, info["action"], result, reward, done, info["show"]))
            observation = result
            if done:
                t.info["success"] = info["success"]
                break
        trajectories.append(t)
    row = memory.bank_report(trajectories)["8"]
    assert row["n"] == 6 and row["invalid"] == 0.0
    assert row["reward"] == pytest.approx(sum(t.turns[-1].reward for t in trajectories) / 6)
    assert row["distractor_noop"] == 0.0 and row["new_add"] + row["new_update"] == 1.0


def test_same_seed_same_stream():
    assert sample_tasks("memory_bank", 3, seed=1) == sample_tasks("memory_bank", 3, seed=1)
    assert sample_tasks("memory_bank", 3, seed=1) != sample_tasks("memory_bank", 3, seed=2)


@pytest.mark.parametrize("name,params", [("memory_bank", {"stream_length": 8}), ("memory_bank", {"stream_length": 32}),
                                         ("memory_bank", {"stream_length": 16, "asked": "jobs"}),
                                         ("memory_state", {"objectives": 2}), ("memory_state", {"objectives": 8})])
def test_every_name_a_test_task_shows_is_held_out_and_no_train_task_shows_one(name, params):
    """Every entity a fact is about (kept or distractor) or a person to look up, read from the task, not from its
    split_keys: a split by "any name held out" let a test task of eight people show six or seven training names.
    (Values, such as the country a person lives in, may be of either split, as in search_qa.)"""
    for split in ("train", "test"):
        for task in sample_tasks(name, 40, split=split, **params):
            shown = ({fact.split()[0] for fact in task.info["stream"]} if name == "memory_bank"
                     else set(task.info["objectives"]))
            assert all(n in task.prompt + " ".join(m["content"] for m in task.solution) for n in shown)
            assert {task_split((n,)) for n in shown} == {split}, (split, sorted(shown))


def test_the_state_is_kept_and_repeated_and_answers_score_their_share():
    env = gym.make("agentic_lab/MemoryState-v0", objectives=2).unwrapped
    env.reset(seed=0)
    call = '<state>so far</state><tool_call>{"name": "lookup", "arguments": {"objective": 2}}</tool_call>'
    observation, reward, *_ = env.step(call)
    second = env.task.answer.split("; ")[1]
    assert observation == f"Result: {second}\nState: so far\n" + memory.find_line(env.task.info["objectives"])
    assert reward == 0
    for bad in ('{"objective": 3}', '{"objective": 0}', '{"objective": "1"}', '{"name": "Keso", "field": "job"}'):
        observation, reward, *_ = env.step(f'<tool_call>{{"name": "lookup", "arguments": {bad}}}</tool_call>')
        assert observation.startswith("Error:") and observation.endswith(env.view()) and reward == -INVALID_PENALTY
    assert env.state == ""  # a message without a state keeps none
    first = env.task.answer.split("; ")[0]
    observation, reward, terminated, truncated, info = env.step(f"<answer>{first}; wrong</answer>")
    assert terminated and reward == 0.5 and not info["success"]
    bare = gym.make("agentic_lab/MemoryState-v0", self_contained=False).unwrapped
    bare.reset(seed=0)
    assert bare.step(call)[0] == f"Result: {second}"


def test_lookup_by_number_needs_an_episode():
    """The family's tool alone (what a task's schema shows) refuses; each environment binds its own."""
    assert call_tool("lookup", {"objective": 1}, {"lookup": memory.OBJECTIVE_LOOKUP}).startswith("Error:")
    a, b = memory.MemoryStateEnv(), memory.MemoryStateEnv()
    a.reset(seed=1), b.reset(seed=2)
    assert a.look_up(1) == a.task.answer.split("; ")[0] and b.look_up(1) == b.task.answer.split("; ")[0]


def as_text(message: dict) -> str:
    """An assistant message of a task's solution as the model would write it."""
    calls = [c["function"] for c in message.get("tool_calls", [])]
    return message["content"] + "".join(f"<tool_call>{json.dumps(call)}</tool_call>" for call in calls)


def test_the_oracle_solves_the_state_task():
    env = memory.MemoryStateEnv(objectives=8)
    env.reset(seed=5)
    for message in env.task.solution[::2]:
        observation, reward, terminated, truncated, info = env.step(as_text(message))
    assert terminated and reward == 1.0 and info["success"]


def test_observations_fit_the_tiny_models_context_at_the_largest_settings():
    """The bank: the prompt, the longest observation (a full bank of the longest entries, after an error) and two
    messages of 96 tokens fit in the tiny model's 1024 positions, so a context that keeps only the prompt and the
    latest observation never runs out. MEM1 at 16 objectives: its longest observation (the longest state) and
    one message fit."""
    tokenizer = build_tokenizer()
    def length(text):
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    env = memory.MemoryBankEnv(stream_length=memory.MAX_STREAM, bank_size=memory.MAX_SLOTS, questions=memory.MAX_SLOTS)
    env.reset(seed=0)
    env.bank = Bank(("W" * memory.MAX_ENTRY_CHARS,) * memory.MAX_SLOTS, tuple(range(memory.MAX_SLOTS)))
    assert length(env.task.prompt) + length(env.error("x" * 80)) + 2 * 96 < 1024
    # MEM1 reads one observation a turn (rollout's keep_history=False): the longest, with the tools, and a message
    state = memory.MemoryStateEnv(objectives=max(memory.OBJECTIVES))
    state.reset(seed=0)
    state.state = "W" * memory.MAX_STATE_CHARS
    longest = max(state.task.prompt, state.error("x" * 80), key=length)
    context = tokenizer.apply_chat_template([{"role": "user", "content": longest}], tools=state.task.tool_schemas(),
                                            add_generation_prompt=True)
    assert len(context) + memory.STATE_MAX_NEW_TOKENS < 1024


@pytest.mark.slow
def test_rl_on_the_answers_alone_teaches_the_manager_to_update_a_changed_fact_in_place(training_threads):
    """Notebook 11's headline claim at its own scale (12 GRPO steps of 4 groups × 8 streams of 8 facts, a fresh
    context each turn, lr 2e-4, seed 0, from the shipped warm start; 100 held-out streams of 8 facts sampled at
    T = 1, the same for both): the trained manager answers a changed fact with UPDATE more often than the warm start
    does, by more than two standard errors of the difference."""
    import copy

    from agentic_lab import load_model, rl
    warm, tokenizer = load_model(memory.WARM_START)
    policy = copy.deepcopy(warm)
    config = rl.RLConfig(n_groups=4, group_size=8, lr=2e-4, max_new_tokens=memory.MAX_NEW_TOKENS, keep_history=False)
    rl.grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/MemoryBank-v0", stream_length=memory.TRAIN_LENGTH,
                                                      bank_size=memory.BANK_SIZE),
                  steps=12, config=config, seed=0, progress=False)
    streams = memory.held_out_streams(memory.TRAIN_LENGTH, 100)

    def updates(model) -> list[bool]:
        return [turn.action.operation == "UPDATE" for t in memory.play_model(model, tokenizer, streams)
                for turn in t.turns if turn.show.get("kind") == "contradiction"]
    before, after = updates(warm), updates(policy)
    p0, p1 = sum(before) / len(before), sum(after) / len(after)
    stderr = (p0 * (1 - p0) / len(before) + p1 * (1 - p1) / len(after)) ** 0.5
    assert p1 - p0 > 2 * stderr


@pytest.mark.slow
def test_mem1s_context_stays_small_where_the_full_context_agent_runs_out(training_threads):
    """Notebook 11's MEM1 claim at its own scale (the shipped mem1-warm, 30 held-out tasks of 8 objectives played
    both ways, sampled at T = 1, seed 0): MEM1's largest context stays under half the model's positions and no
    episode runs out, while the full-context agent's mean peak context is over twice MEM1's and at least a fifth of
    its episodes are stopped because the next message would not fit."""
    from agentic_lab import load_model
    model, tokenizer = load_model(memory.MEM1_WARM_START)
    mem1 = memory.state_report(memory.play_state(model, tokenizer, 8, 30, mem1=True))["8"]
    full = memory.state_report(memory.play_state(model, tokenizer, 8, 30, mem1=False))["8"]
    assert mem1["peak_context_max"] < model.config.max_position_embeddings / 2 and mem1["context_full"] == 0
    assert full["peak_context_mean"] > 2 * mem1["peak_context_mean"] and full["context_full"] >= 1 / 5


def test_state_demonstrations_show_the_same_messages_to_mem1_and_to_the_full_context_agent():
    """Alternately: MEM1's rows, each [self-contained observation, message], one per turn of a task; and a whole
    conversation whose observations are the bare results and whose last message answers what they said."""
    demos = memory.state_demonstrations(40, seed=1)
    assert demos == memory.state_demonstrations(40, seed=1) and all(tools for _, tools in demos)
    singles = [m for m, _ in demos if len(m) == 2]
    wholes = [m for m, _ in demos if len(m) > 2]
    assert singles and wholes
    assert all(m[0]["role"] == "user" and m[1]["role"] == "assistant" for m in singles)
    assert all(m[0]["content"].startswith("Result: ") and "\nState: " in m[0]["content"] for m in singles
               if not m[0]["content"].startswith("Find: "))
    for messages in wholes:
        assert all(m["content"].startswith("Result: ") and "\n" not in m["content"] for m in messages if m["role"] == "tool")
        objectives = messages[0]["content"].split(". Look up")[0][len("Find: "):].split("; ")
        results = [m["content"][len("Result: "):] for m in messages if m["role"] == "tool"]
        assert len(results) == len(objectives)  # one lookup per objective
        assert messages[-1]["content"] == f"<answer>{'; '.join(results)}</answer>"
    # the same coverage both ways: 1 to DEMO_OBJECTIVES people, so more is new to MEM1 and to the full context alike
    def people(first_user_message: str) -> int:
        return first_user_message.split("Find: ")[1].split(". Look up")[0].split("\n")[0].count(";") + 1
    assert {people(m[0]["content"]) for m in singles} == {people(m[0]["content"]) for m in wholes} == \
        set(range(1, memory.DEMO_OBJECTIVES + 1))


def test_the_state_report_scores_the_answer_and_measures_the_context():
    from agentic_lab.actions import parse_action
    from agentic_lab.trajectory import Trajectory, Turn
    def episode(reward, kind_text, ids, starts=()):
        turns = [Turn("o", "", parse_action("<answer>x</answer>"), None, -0.1, False),
                 Turn("o", "", parse_action(kind_text), None, reward, True)]
        return Trajectory("state", None, turns=turns, token_ids=list(range(ids)), loss_mask=[0] * ids,
                          info={"objectives": ["a", "b"]}, context_starts=list(starts))
    row = memory.state_report([episode(0.5, "<answer>x; y</answer>", 300), episode(1.0, "<answer>x; y</answer>", 500,
                                                                                   starts=(0, 200, 260))])["2"]
    assert row["reward"] == 0.75 and row["peak_context_max"] == 300 and row["peak_context_mean"] == 270
    assert memory.objectives_right(episode(0.0, "garbage", 10)) == 0.0
    ended = episode(1.0, "<answer>x; y</answer>", 300)
    ended.loss_mask[240:250] = [1] * 10  # its last message ends at 250; the 50 tokens after it were never read
    assert memory.peak_context(ended) == 250


