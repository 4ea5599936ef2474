"""The poll schedule and the duration model (pure)."""

import pytest

from shared.config.loader import parse_settings
from shared.config.exceptions import ConfigError
from shared.config.models import PollPolicy
from shared.runs.durations import add_sample, estimate
from shared.runs.schedule import MonitorView, PollPlan, next_poll_delay, plan_next_poll, sparse_step, window_step

P = PollPolicy()


def walk(policy, est, until, status="Running"):
    t, n, times = 0.0, 0, []
    while t < until:
        t += plan_next_poll(policy, MonitorView(t, n, status, est)).delay
        n += 1
        times.append(round(t, 3))
    return times


def test_adaptive_grows_geometrically_and_finalizing_snaps_back():
    assert [next_poll_delay(P, n, "Running") for n in range(3)] == [15, 22.5, 33.75]
    assert next_poll_delay(P, 20, "Running") == 120
    assert next_poll_delay(P, 20, "Finalizing") == 15
    assert plan_next_poll(P, MonitorView(0, 2, "Running")).mode == "adaptive"


def test_duration_aware_sparse_then_window_then_overrun():
    est = {"expected": 3600, "low": 3400, "high": 3800}
    times = walk(P, est, 4000)
    assert sparse_step(P, 3600) == 900 and window_step(P, 3400, 3800) == 30
    first_dense = times.index(3430)                   # low + one dense step
    assert times[:2] == [900, 1800]                   # sparse: a quarter of the expected duration
    sparse = [b - a for a, b in zip([0] + times, times[:first_dense + 1])]
    assert sparse == sorted(sparse, reverse=True) and min(sparse) >= 30   # closing in on the window
    dense = [b - a for a, b in zip(times[first_dense:], times[first_dense + 1:]) if b <= 3800]
    assert dense[:-1] == [30] * (len(dense) - 1) and dense[-1] <= 30 and 3800 in times
    after = [b - a for a, b in zip(times, times[1:]) if a >= 3800]
    assert after and all(10 <= gap <= 120 for gap in after) and after == sorted(after)


def test_short_window_is_split_in_two():
    assert walk(P, {"expected": 120, "low": 108, "high": 132}, 132) == [120, 132]


def test_finalizing_recheck_and_events():
    est = {"expected": 3600, "low": 3400, "high": 3800}
    assert plan_next_poll(P, MonitorView(100, 1, "Finalizing", est)).delay == P.near_seconds
    assert plan_next_poll(P, MonitorView(100, 1, "Running", est, recheck=True)).mode == "recheck"
    ev = PollPolicy(events=True)
    assert plan_next_poll(ev, MonitorView(100, 1, "Running")).delay == 1800      # 2 x event_fallback_seconds
    assert plan_next_poll(ev, MonitorView(100, 1, "Finalizing", est)).delay == 120
    assert plan_next_poll(ev, MonitorView(3000, 1, "Running", est)).delay == 610   # at the expected end
    assert plan_next_poll(ev, MonitorView(3700, 1, "Running", est)).delay == 110   # at the window's end
    assert plan_next_poll(ev, MonitorView(5000, 1, "Running", est)).delay == 20000  # then 4 x the job's age


def test_two_channels_stretch_the_safety_poll():
    both = PollPolicy(events=True, output_events=True)
    assert plan_next_poll(both, MonitorView(100, 1, "Running")) == PollPlan(3600, "fallback")
    assert plan_next_poll(both, MonitorView(3600, 1, "Running")).delay == 4 * 3600
    out_only = PollPolicy(events=False, output_events=True)
    assert plan_next_poll(out_only, MonitorView(100, 1, "Running")) == PollPlan(1800, "fallback")


def test_an_output_hint_brings_a_close_watch():
    out_only = PollPolicy(events=False, output_events=True)
    assert plan_next_poll(out_only, MonitorView(900, 1, "Running", since_output=0)) == PollPlan(5, "close")
    assert [plan_next_poll(out_only, MonitorView(900, 1, "Finalizing", since_output=s)).delay
            for s in (5, 10, 20)] == [5, 10, 20]                      # doubling with the hint's age
    assert plan_next_poll(out_only, MonitorView(900, 1, "Finalizing", since_output=700)).mode == "near"


def test_estimate_median_and_window():
    e = estimate([{"seconds": s} for s in (90, 100, 110)])
    assert e["expected"] == 100 and e["basis"] == "median"
    two_sd = 2 * (200 / 3) ** 0.5 / 100               # 2 × population sd of the ratios 0.9, 1.0, 1.1
    assert e["low"] == pytest.approx(100 * (1 - two_sd), abs=0.01)
    assert e["high"] == pytest.approx(100 * (1 + two_sd), abs=0.01)
    assert estimate([{"seconds": 100}] * 2) is None


def test_estimate_scales_with_input_size():
    samples = [{"seconds": 60 + 10 * f, "files": f} for f in (10, 20, 40, 80)]
    e = estimate(samples, files=30)
    assert e["basis"] == "files" and e["expected"] == pytest.approx(360)
    assert estimate(samples, files=None)["basis"] == "median"


def test_add_sample_keeps_newest_and_replaces_same_job():
    s = []
    for i in range(5):
        s = add_sample(s, {"seconds": i, "job_name": f"j{i}"}, keep=3)
    s = add_sample(s, {"seconds": 9, "job_name": "j4"}, keep=3)
    assert [x["job_name"] for x in s] == ["j2", "j3", "j4"] and s[-1]["seconds"] == 9


def doc(poll):
    return {"datastores": {"out": {"account_url": "https://a.blob.core.windows.net", "container": "c"}},
            "routes": [{"name": "r", "match": {"container": "landing"}, "endpoint": {"scoring_uri": "https://e/jobs"},
                        "output": {"datastore": "out", "path": "x/{run_id}.csv"}, "poll": poll}]}


def test_poll_section_parses_new_fields():
    route = parse_settings(doc({"events": True, "event_fallback_seconds": 1200, "near_seconds": 5,
                                "dense_seconds": 20, "min_history": 4, "history_runs": 10}), {}).routes[0]
    assert route.poll.events and route.poll.event_fallback_seconds == 1200 and route.poll.min_history == 4


@pytest.mark.parametrize("poll,message", [
    ({"near_seconds": 40}, "route 'r': poll.near_seconds: must not be larger than poll.dense_seconds (30), got 40"),
    ({"dense_seconds": 200}, "route 'r': poll.dense_seconds: must not be larger than poll.max_seconds (120), got 200"),
    ({"min_history": 30}, "route 'r': poll.min_history: must not be larger than poll.history_runs (20), got 30"),
    ({"events": True, "event_fallback_seconds": 100},
     "route 'r': poll.event_fallback_seconds: must not be smaller than poll.max_seconds (120) when poll.events is"
     " true (the fallback widens polling), got 100"),
    ({"events": "yes"}, "route 'r': poll.events: must be true or false, got 'yes'"),
    ({"sparse_fraction": 0}, "route 'r': poll.sparse_fraction: must be at least 0.01 and at most 1, got 0"),
    ({"history_runs": 2.5}, "route 'r': poll.history_runs: must be an integer, got 2.5"),
    ({"bogus": 1}, "route 'r': poll.bogus: unknown field"),
])
def test_poll_section_messages(poll, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(doc(poll), {})
    assert any(str(p).startswith(message) for p in info.value.problems), info.value.problems


# --- issue 9 item 4: long runs ---------------------------------------------------------------------------

@pytest.mark.parametrize("polls", [1_749, 1_751, 10_000, 10 ** 9])
def test_adaptive_delay_stays_finite_however_many_polls(polls):
    """``growth ** polls`` overflowed after about 1,750 polls (1.5 ** 1751 > 1.8e308): clamped now."""
    assert next_poll_delay(P, polls, "Running") == P.max_seconds
    assert plan_next_poll(P, MonitorView(3600.0 * 24 * 90, polls, "Running")).delay == P.max_seconds


def test_capped_growth_edges():
    from shared.runs.schedule import capped_growth

    assert capped_growth(15, 1.5, 0, 120) == 15
    assert capped_growth(15, 1.5, 3, 120) == pytest.approx(50.625)
    assert capped_growth(15, 1.0, 10 ** 6, 120) == 15       # no growth
    assert capped_growth(200, 1.5, 5, 120) == 120           # already past the cap
    assert capped_growth(15, 1e300, 10 ** 6, 120) == 120    # huge factor: one step reaches the cap


def test_status_outage_backs_off_exponentially_to_a_cap():
    from shared.runs.schedule import outage_cap, outage_delay

    delays = [plan_next_poll(P, MonitorView(0, 5, "Running", status_errors=k)) for k in range(1, 12)]
    assert {d.mode for d in delays} == {"outage"}
    assert [d.delay for d in delays[:5]] == [15, 30, 60, 120, 240]
    assert delays[-1].delay == outage_cap(P) == 900
    assert outage_delay(P, 10 ** 9) == 900                  # never overflows
    events = PollPolicy(events=True)
    assert plan_next_poll(events, MonitorView(0, 1, "Running", status_errors=1)).delay == 15


def test_a_poll_a_hair_before_the_first_dense_poll_never_gets_a_sub_second_timer():
    est = {"expected": 581.714, "low": 466.718, "high": 696.71, "basis": "deployment:files"}
    for t in (556.7179, 556.718, 556.71799999):
        assert plan_next_poll(P, MonitorView(t, 5, "Running", est)).delay >= 1.0
