"""Trajectories load back identically, and an interrupted save leaves the previous file intact."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from agentic_lab.actions import parse_action
from agentic_lab.trajectory import Trajectory, Turn, load_trajectories, save_trajectories


def example(seed: int) -> Trajectory:
    texts = ['<tool_call>{"name": "calc", "arguments": {"expr": "2*3"}}</tool_call>', "<answer>6</answer>"]
    turns = [Turn("What is 2*3?", texts[0], parse_action(texts[0]), "6", 0.0, False),
             Turn("6", texts[1], parse_action(texts[1]), None, 1.0, True)]
    return Trajectory("agentic_lab/Calculator-v0", seed, turns, token_ids=[4, 5, 6, 7], loss_mask=[0, 1, 1, 0],
                      logprobs=[0.0, -0.25, -1e-7, 0.0], info={"success": True, "group": seed // 2, "note": "é✓"})


def test_save_then_load_gives_identical_objects(tmp_path):
    trajectories = [example(s) for s in range(5)]
    path = save_trajectories(trajectories, tmp_path / "runs" / "a.jsonl")
    assert load_trajectories(path) == trajectories
    assert load_trajectories(path)[0].total_reward == 1.0 and load_trajectories(path)[0].success


def test_a_save_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_trajectories([example(0)], tmp_path / "a.jsonl")
    before = path.read_bytes()
    calls = []

    def failing_dumps(obj, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return json.JSONEncoder(**kwargs).encode(obj)
    monkeypatch.setattr("agentic_lab.trajectory.json.dumps", failing_dumps)
    with pytest.raises(RuntimeError):
        save_trajectories([example(s) for s in range(5)], path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["a.jsonl"]


def test_a_process_killed_while_saving_leaves_the_previous_file(tmp_path):
    path = save_trajectories([example(0)], tmp_path / "a.jsonl")
    before = path.read_bytes()
    slow_writer = (
        "import sys, time, agentic_lab.trajectory as T\n"
        "from tests.test_trajectory import example\n"
        "class Slow(list):\n"
        "    def __iter__(self):\n"
        "        for x in list.__iter__(self):\n"
        "            time.sleep(0.05); yield x\n"
        "print('writing', flush=True)\n"
        f"T.save_trajectories(Slow(example(s) for s in range(1000)), {str(path)!r})\n")
    root = os.path.dirname(os.path.dirname(__file__))
    proc = subprocess.Popen([sys.executable, "-c", slow_writer], cwd=root, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.read_bytes() == before
    assert load_trajectories(path) == [example(0)]
