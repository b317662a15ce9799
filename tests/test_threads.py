"""Thread choice on a busy machine: a passive OpenMP wait policy and as many threads as free CPUs."""

from __future__ import annotations

import pytest

from proxymat import threads
from proxymat.threads import busy_cpus, choose_threads, configure
from test_robustness import OPT_FAST, run_cli


@pytest.mark.parametrize("loadavg,cpus,machine,busy", [
    ("0.05 0.10 0.20 1/230 999", 2, 2, 0.0),  # idle: only ourselves running
    ("2.10 1.90 1.00 3/230 999", 2, 2, 2.0),  # two other tasks running for a while
    ("2.10 1.90 1.00 1/230 999", 2, 2, 0.0),  # they just ended: the running count wins
    ("0.20 0.10 0.00 3/230 999", 2, 2, 0.2),  # they just started: the average wins (the wait policy copes)
    ("40.0 40.0 40.0 41/900 999", 2, 64, 1.25),  # a container's 2 CPUs on a busy 64-CPU host
    ("garbage", 2, 2, 0.0),
])
def test_busy_cpus_from_loadavg(loadavg, cpus, machine, busy):
    assert busy_cpus(cpus, loadavg, machine) == pytest.approx(busy)


@pytest.mark.parametrize("cpus,busy,ranks,want", [(2, 0.0, 1, 2), (2, 1.2, 1, 1), (2, 2.0, 1, 1), (16, 3.6, 1, 12),
                                                  (16, 0.0, 4, 4), (2, 0.0, 4, 1)])
def test_threads_are_the_free_cpus_per_rank_at_least_one(cpus, busy, ranks, want):
    assert choose_threads(cpus, busy, ranks) == want


def test_configure_sets_a_passive_wait_policy_unless_the_user_chose_one(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    env: dict[str, str] = {}
    choice = configure(None, env, loadavg="1.0 1.0 1.0 2/100 5")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and choice.policy_ours
    assert (choice.threads, choice.source) == (1, "free CPUs")
    assert choice.describe() == ("threads: 1 of 2 CPU(s), 1.0 busy with other work; "
                                 "OMP_WAIT_POLICY=PASSIVE (set by proxymat; export it to choose)")
    env = {"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "3"}
    choice = configure(None, env, loadavg="0 0 0 1/100 5")
    assert env["OMP_WAIT_POLICY"] == "ACTIVE" and not choice.policy_ours
    assert (choice.threads, choice.source) == (3, "OMP_NUM_THREADS")
    assert configure(4, env).describe() == "threads: 4 of 2 CPU(s), as --threads asks; OMP_WAIT_POLICY=ACTIVE"
    assert configure(None, {"LOCAL_WORLD_SIZE": "2"}, loadavg="0 0 0 1/100 5").threads == 1


def test_optimize_spins_only_with_several_threads_on_an_idle_machine(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    env: dict[str, str] = {}
    choice = configure(None, env, loadavg="0.1 0.1 0.1 1/100 5", spin_when_idle=True)
    assert (choice.threads, env["OMP_WAIT_POLICY"]) == (2, "ACTIVE") and choice.policy_ours
    env = {}
    assert configure(None, env, loadavg="1.0 1.0 1.0 2/100 5", spin_when_idle=True).threads == 1
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # other work: one thread, sleeping when idle
    env = {}
    configure(1, env, loadavg="0 0 0 1/100 5", spin_when_idle=True)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # one thread has nobody to wait for
    env = {}
    configure(None, env, loadavg="0 0 0 1/100 5")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # proxy train: never spins
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
    assert not configure(None, env, loadavg="0 0 0 1/100 5", spin_when_idle=True).policy_ours
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # the user's choice stands


def test_available_cpus_respects_a_cgroup_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.available_cpus(tmp_path) <= 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.available_cpus(tmp_path) >= 1


def test_optimize_logs_its_thread_choice(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    code, stdout, err = run_cli(["optimize", "leather", "-o", tmp_path / "out", *OPT_FAST], capsys)
    assert code == 0, err
    assert stdout.splitlines()[0] == ("threads: 1 of {} CPU(s), as --threads asks; OMP_WAIT_POLICY=PASSIVE "
                                      "(set by proxymat; export it to choose)").format(threads.available_cpus())
