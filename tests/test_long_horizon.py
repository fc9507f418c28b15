"""Notebook 09's pieces: the coin collector whose horizon is a dial, GiGPO's turn-level advantages checked against a
hand-computed batch from the paper's definitions, and the one training loop's three ways to assign credit over turns."""
import math
import random
import statistics
from types import SimpleNamespace

import gymnasium as gym
import pytest
import torch

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.actions import Action
from agentic_lab.algorithms import discounted_returns, gigpo_advantages
from agentic_lab.long_horizon import DIRECTIONS, OPPOSITE, demonstration, route_length, sample_rooms
from agentic_lab.policy_gradient import collate_trajectories
from agentic_lab.rl import RLConfig, TurnCritic, grpo_train, spread_over_tokens, turn_advantages
from agentic_lab.rollout import rollout
from agentic_lab.trajectory import Trajectory, Turn, turn_spans


# --- GiGPO, by hand -------------------------------------------------------------------------------------------------
# One group of three episodes, γ = 1/2. States s0..s3; s0 is every episode's first (the task), s1 and s2 lie on the
# way to the coin, s3 is a detour. Episode 0 goes straight (reward 1 on its third turn), episode 1 detours through s3
# first (reward on its fourth), episode 2 detours and writes a malformed action (-0.1).
ANCHORS = [["s0", "s1", "s2"], ["s0", "s3", "s1", "s2"], ["s0", "s3"]]
TURN_REWARDS = [[0, 0, 1], [0, 0, 0, 1], [0, -0.1]]
EPISODE_REWARDS = [1, 1, -0.1]


def test_discounted_returns_by_hand():
    assert discounted_returns([0, 0, 1], 0.5) == [0.25, 0.5, 1.0]
    assert discounted_returns([0, -0.1], 0.5) == [-0.05, -0.1]


def test_gigpo_advantages_equal_the_papers_definitions_by_hand():
    # Episode level (Eq. 3, F_norm = 1): mean R = (1 + 1 - 0.1) / 3 = 0.63333.
    episode = [1 - 1.9 / 3, 1 - 1.9 / 3, -0.1 - 1.9 / 3]
    # Step level (Eqs. 5-7): s0 holds returns 0.25, 0.125, -0.05 (mean 0.108333); s3 holds 0.25 and -0.1 (mean
    # 0.075); s1 (0.5, 0.5) and s2 (1, 1) agree, so their step advantages are 0.
    s0 = [0.25 - 0.325 / 3, 0.125 - 0.325 / 3, -0.05 - 0.325 / 3]
    expected = [[episode[0] + s0[0], episode[0], episode[0]],
                [episode[1] + s0[1], episode[1] + 0.175, episode[1], episode[1]],
                [episode[2] + s0[2], episode[2] - 0.175]]
    got = gigpo_advantages(EPISODE_REWARDS, TURN_REWARDS, ANCHORS, group_size=3, gamma=0.5, scale="none")
    for row, want in zip(got, expected):
        assert row == pytest.approx(want, abs=1e-9)
    # ω scales the step term only; with F_norm = std the two turns in s3 get ±0.175 / std(0.25, -0.1) = ±1/√2.
    half = gigpo_advantages(EPISODE_REWARDS, TURN_REWARDS, ANCHORS, 3, gamma=0.5, step_weight=0.5, scale="none")
    assert half[1][1] == pytest.approx(episode[1] + 0.0875)
    scaled = gigpo_advantages(EPISODE_REWARDS, TURN_REWARDS, ANCHORS, 3, gamma=0.5, scale="group")
    episode_std = torch.tensor(EPISODE_REWARDS, dtype=torch.float64).std().item()
    assert scaled[2][1] == pytest.approx(episode[2] / (episode_std + 1e-6) - 1 / math.sqrt(2), abs=1e-5)


def test_gigpo_step_term_ranks_actions_when_every_episode_succeeded():
    # Both episodes reach the coin: GRPO's advantage is 0 everywhere; GiGPO's still prefers the shorter way from s0.
    got = gigpo_advantages([1, 1], [[0, 1], [0, 0, 1]], [["s0", "s1"], ["s0", "s3", "s1"]], 2, gamma=0.9, scale="none")
    assert got[0][0] > 0 > got[1][0]
    assert got[1][1] == 0 and got[0][1] == 0                # s3 seen once; s1 both times with return 1


def test_groups_do_not_mix():
    # The same state names in two groups are two tasks' states: the second group's steps are compared only among it.
    one = gigpo_advantages(EPISODE_REWARDS, TURN_REWARDS, ANCHORS, 3, gamma=0.5)
    two = gigpo_advantages(EPISODE_REWARDS * 2, TURN_REWARDS * 2, ANCHORS * 2, 3, gamma=0.5)
    assert two == one + one


# --- the coin collector ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("horizon", [5, 10, 20])
def test_worlds_are_consistent_chains_with_dead_ends(horizon):
    for world in sample_rooms(20, seed=horizon, horizon=horizon):
        assert len(world.route) == route_length(horizon) and len(set(world.names)) == len(world.names)
        for room, exits in enumerate(world.exits):          # every door leads back the way it came
            for direction, other in exits.items():
                assert world.exits[other][OPPOSITE[direction]] == room
        dead_ends = range(world.coin_room + 1, len(world.names))
        assert len(dead_ends) >= 1 and all(len(world.exits[r]) == 1 for r in dead_ends)


def test_slack_shortens_the_route_and_keeps_the_budget():
    """Notebook 09's generous budget: H = 16 with 10 turns to spare is a route of 5 moves that may take 16 turns."""
    assert route_length(16, slack=10) == 5 and route_length(16) == route_length(16, slack=16 // 4) == 11
    env = gym.make("agentic_lab/CoinRooms-v0", horizon=16, slack=10, split="test")
    _, info = env.reset(seed=0)
    assert len(env.unwrapped.world.route) == 5 and info["hidden"]["optimal_turns"] == 6
    for turn in range(16):                          # a wall every turn: the budget, not the route, ends the episode
        blocked = next(d for d in DIRECTIONS if d not in env.unwrapped.world.exits[0])
        *_, terminated, truncated, _ = env.step(f"<answer>{blocked}</answer>")
        assert not terminated and truncated == (turn == 15)


def test_where_turns_went_by_hand():
    """A route of two moves (rooms 0, 1, 2; the coin in 2), a dead end 3 off room 0: into the dead end, a wall there,
    back out, then the route and the take. Six turns where three would do."""
    from agentic_lab.long_horizon import wasted_turns, where_turns_went
    episode = SimpleNamespace(turns=[SimpleNamespace(state=s) for s in (0, 3, 3, 0, 1, 2)],
                              info={"route": ["E", "E"], "optimal_turns": 3})
    assert wasted_turns([episode]) == [3]
    assert where_turns_went([episode]) == {"on_route": 2 / 3, "out_of_dead_end": 1 / 2, "dead_end_turns": 2}


def test_expert_succeeds_in_the_fewest_turns_and_mistakes_cost_turns():
    env = gym.make("agentic_lab/CoinRooms-v0", horizon=10)
    messages = demonstration(env, seed=3, rng=random.Random(0), mistake_rate=0.0)
    assert env.unwrapped.success and len(messages) // 2 == route_length(10) + 1
    env.reset(seed=3)
    first = env.unwrapped.world.describe(0)
    blocked = next(d for d in DIRECTIONS if d not in env.unwrapped.world.exits[0])
    observation, reward, terminated, truncated, _ = env.step(f"<answer>{blocked}</answer>")
    assert observation == first and reward == 0 and not terminated     # same room, same text: a wasted turn
    observation, reward, *_ = env.step("<answer>take</answer>")
    assert observation == first and reward == 0
    observation, reward, terminated, *_ = env.step("<answer>jump</answer>")
    assert observation.startswith("Error") and reward < 0 and not terminated


def test_turn_budget_ends_the_episode():
    env = gym.make("agentic_lab/CoinRooms-v0", horizon=5)
    env.reset(seed=0)
    results = [env.step("<answer>take</answer>") for _ in range(5)]
    assert [r[3] for r in results] == [False] * 4 + [True] and not any(r[2] for r in results)


# --- the training loop's credit option ------------------------------------------------------------------------------
def test_turn_advantages_sit_on_their_turns_tokens(tiny):
    model, tokenizer = tiny
    envs = [gym.make("agentic_lab/CoinRooms-v0", horizon=5) for _ in range(2)]
    trajectories = rollout(model, tokenizer, envs, [0, 1], temperature=1.0, max_new_tokens=12)
    per_turn = [[float(k + 1) for k in range(len(t.turns))] for t in trajectories]
    width = max(len(t.token_ids) for t in trajectories) - 1
    advantages = spread_over_tokens(trajectories, per_turn, width)
    for i, t in enumerate(trajectories):
        spans = turn_spans(t.loss_mask)
        assert len(spans) == len(t.turns)
        for k, (start, end) in enumerate(spans):            # column j predicts token j + 1
            assert advantages[i, start - 1:end - 1].eq(k + 1).all()
        written = torch.tensor(t.loss_mask[1:], dtype=torch.bool)
        assert advantages[i, :len(written)][~written].eq(0).all()


# --- the turn critic's GAE over turns, by hand ---------------------------------------------------------------------
# A stand-in policy whose last hidden state at a token is that token's one-hot, so the critic's linear head holds one
# value per token; every observation ends with its room's token, the one the critic reads V(s_t) at. γ = 0.9, λ = 0.5,
# so a wrong discount (γ where GAE takes γλ = 0.45) shows. Episode 0 takes the coin on its third turn (terminated),
# episode 1 detours through s3 and runs out of its four turns beside the coin (truncated), episode 2 writes a
# malformed action (-0.1) and stays in s0 until its two turns are up (truncated).
ROOM_VALUES = {"s0": 0.5, "s1": 0.6, "s2": 0.8, "s3": 0.2}
ROOM_TOKENS = {room: k + 1 for k, room in enumerate(ROOM_VALUES)}    # 0 pads; 5 and 6 are what the agent writes
CRITIC_ROOMS = [["s0", "s1", "s2"], ["s0", "s3", "s1", "s2"], ["s0", "s0"]]
CRITIC_REWARDS = [[0, 0, 1], [0, 0, 0, 0], [-0.1, 0]]
VOCABULARY = 8


class OneHotPolicy:
    config = SimpleNamespace(get_text_config=lambda: SimpleNamespace(hidden_size=VOCABULARY))

    def __call__(self, input_ids, attention_mask, output_hidden_states):
        return SimpleNamespace(hidden_states=(torch.nn.functional.one_hot(input_ids, VOCABULARY).float(),))


def hand_episode(rooms: list[str], rewards: list[float]) -> Trajectory:
    """Each turn: an observation of two tokens ending with the room's, then a message of two written tokens."""
    trajectory = Trajectory("hand", None)
    for k, (room, reward) in enumerate(zip(rooms, rewards)):
        trajectory.token_ids += [7, ROOM_TOKENS[room], 5, 6]
        trajectory.loss_mask += [0, 0, 1, 1]
        trajectory.turns.append(Turn(room, "", Action("answer"), None, reward, k == len(rooms) - 1, state=room))
    return trajectory


def test_turn_critic_takes_gae_over_turns_by_hand():
    # δ_t = r_t + γ V(s_{t+1}) - V(s_t) with V = 0 after each episode's last turn, terminated or truncated alike;
    # A_t = δ_t + γλ A_{t+1} runs back over all the episode's turns, not one message's; R_t = A_t + V(s_t).
    # Episode 0, V = 0.5, 0.6, 0.8:      γ V(s_{t+1}) = 0.54, 0.72, 0;  δ = 0.04, 0.12, 0.2
    #                                    A = 0.04 + 0.45 · 0.21, 0.12 + 0.45 · 0.2, 0.2
    # Episode 1, V = 0.5, 0.2, 0.6, 0.8: γ V(s_{t+1}) = 0.18, 0.54, 0.72, 0;  δ = -0.32, 0.34, 0.12, -0.8
    #                                    A = -0.32 + 0.45 · 0.232, 0.34 + 0.45 · (-0.24), 0.12 + 0.45 · (-0.8), -0.8
    # Episode 2, V = 0.5, 0.5:           γ V(s_{t+1}) = 0.45, 0;  δ = -0.15, -0.5;  A = -0.15 + 0.45 · (-0.5), -0.5
    advantages = [[0.1345, 0.21, 0.2], [-0.2156, 0.232, -0.24, -0.8], [-0.375, -0.5]]
    returns = [[0.6345, 0.81, 1.0], [0.2844, 0.432, 0.36, 0.0], [0.125, 0.0]]   # a last turn's R is its reward alone
    flat_a, flat_r = sum(advantages, []), sum(returns, [])
    mean, std = statistics.fmean(flat_a), statistics.pstdev(flat_a)

    trajectories = [hand_episode(rooms, rewards) for rooms, rewards in zip(CRITIC_ROOMS, CRITIC_REWARDS)]
    config = RLConfig(group_size=3, credit="critic", gamma=0.9, gae_lambda=0.5, value_epochs=1)
    critic = TurnCritic(OneHotPolicy(), config.value_lr)
    with torch.no_grad():
        for room, value in ROOM_VALUES.items():
            critic.head.weight[0, ROOM_TOKENS[room]] = value
    # The episode rewards reward_fn gave are not the critic's: it learns from the environment's per-turn rewards.
    reward_fn_says = torch.tensor([5.0, -3.0, 7.0])
    batch = collate_trajectories(trajectories, pad_id=0)
    per_turn, record = turn_advantages(trajectories, reward_fn_says, config, critic, batch)
    for got, want in zip(per_turn, advantages):                      # whitened over the batch's turns, as PPO's
        assert got == pytest.approx([(a - mean) / std for a in want], abs=1e-5)
    # the head's loss ½ (V - R)² = ½ A² at its values before its step, and how much of R's variance V explains
    assert record["value_loss"] == pytest.approx(0.5 * statistics.fmean(a * a for a in flat_a))
    explained = 1 - statistics.pvariance(flat_a) / statistics.pvariance(flat_r)
    assert record["explained_variance"] == pytest.approx(explained)


def test_gigpo_anchors_on_the_room_not_on_an_error_every_room_shows(tiny):
    """Every room answers a refused message with the same error, and the start room is shown first as the task and
    later as a room: the observation text is no state. The environment names its room (info["state"]), the rollout
    records it with the turn that acted from it, and GiGPO's step groups follow it."""
    env = gym.make("agentic_lab/CoinRooms-v0", horizon=5)
    _, info = env.reset(seed=0)
    start = info["state"]
    refused_here, info = env.step("hello")[0], env.step("hello")[4]
    move = next(iter(env.unwrapped.world.exits[start]))
    info = env.step(f"<answer>{move}</answer>")[4]
    assert info["state"] != start and env.step("hello")[0] == refused_here  # two rooms, one error text

    model, tokenizer = tiny
    envs = [gym.make("agentic_lab/CoinRooms-v0", horizon=5) for _ in range(4)]
    trajectories = rollout(model, tokenizer, envs, [3] * 4, temperature=1.5, max_new_tokens=12)
    for t in trajectories:                                   # replay: each turn carries the room it acted from
        replay = gym.make("agentic_lab/CoinRooms-v0", horizon=5)
        info = replay.reset(seed=3)[1]
        for turn in t.turns:
            assert turn.state == info["state"]
            info = replay.step(turn.text)[4]

    config = RLConfig(group_size=4, credit="gigpo")
    rewards = torch.tensor([sum(turn.reward for turn in t.turns) for t in trajectories])
    per_turn, _ = turn_advantages(trajectories, rewards, config)
    by_room = gigpo_advantages(rewards.tolist(), [[turn.reward for turn in t.turns] for t in trajectories],
                               [[turn.state for turn in t.turns] for t in trajectories], 4, config.gamma,
                               config.step_weight, "group")
    assert per_turn == by_room


@pytest.mark.parametrize("credit", ["gigpo", "critic", "turn"])
def test_each_credit_trains_and_reports(tiny, credit):
    model, tokenizer = tiny
    trained = type(model)(model.config)
    trained.load_state_dict(model.state_dict())
    config = RLConfig(n_groups=2, group_size=3, max_new_tokens=12, credit=credit, lr=1e-4)
    history = grpo_train(trained, tokenizer, lambda: gym.make("agentic_lab/CoinRooms-v0", horizon=5), steps=2,
                         config=config, progress=False)
    assert all(math.isfinite(h["loss"]) for h in history)
    if credit == "critic":
        assert {"value_loss", "explained_variance"} <= history[-1].keys()
    moved = any(not torch.equal(a, b) for a, b in zip(trained.parameters(), model.parameters()))
    assert moved


def test_unknown_credit_is_refused(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="credit"):
        grpo_train(model, tokenizer, lambda: gym.make("agentic_lab/CoinRooms-v0"), steps=1,
                   config=RLConfig(credit="returns"), progress=False)


def test_textworld_game_reads_like_coin_rooms_and_its_walkthrough_wins():
    env = gym.make("agentic_lab/TextWorldCoin-v0", horizon=5)
    messages = demonstration(env, seed=0, rng=random.Random(0), mistake_rate=0.0)
    first = messages[0]["content"]
    assert first.startswith("Take the coin. Route: ") and first.count(",") == route_length(5)
    assert all(m["content"].split(". Exits: ")[1][-1] == "." for m in messages[2::2])   # "Name. Exits: N E."
    assert env.unwrapped.success and len(messages) // 2 == route_length(5) + 1


@pytest.mark.slow
def test_where_whole_groups_take_the_coin_gigpo_wastes_fewer_turns_than_episode_level_credit(training_threads):
    """Notebook 09's built regime, its headline at the notebook's scale: CoinRooms at H = 16 with 10 turns to spare
    (most groups take the coin whole, so episode-level credit gives their turns 0), 12 GRPO steps of 4 groups × 8 at
    lr 2e-4 from the shipped warm start, seed 0. On 100 held-out worlds at T = 1, the same worlds and sampling seed
    for every model, GiGPO's policy wastes fewer turns than the warm start and than episode-level GRPO's policy, each
    by two paired standard errors. The same lead over five seeds is experiments/09_credit.py's reference run 3."""
    import copy

    from agentic_lab import load_model, long_horizon, rl
    from agentic_lab.eval import paired_gain
    warm, tokenizer = load_model(long_horizon.WARM_START)
    world = {"horizon": 16, "slack": 10}
    config = rl.RLConfig(n_groups=4, group_size=8, lr=2e-4, max_new_tokens=long_horizon.MAX_NEW_TOKENS)

    def wasted(model):
        return [len(t.turns) - t.info["optimal_turns"] for t in long_horizon.play(model, tokenizer, n=100, **world)]

    waste = {"warm start": wasted(warm)}
    for credit in ("episode", "gigpo"):
        policy = copy.deepcopy(warm)
        rl.grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/CoinRooms-v0", **world), steps=12, seed=0,
                      config=rl.RLConfig(**{**vars(config), "credit": credit}), progress=False)
        waste[credit] = wasted(policy)
    for baseline in ("warm start", "episode"):
        saved, stderr = paired_gain(waste["gigpo"], waste[baseline])
        assert saved > 2 * stderr > 0, (baseline, saved, stderr)
