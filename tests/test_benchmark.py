"""The speed benchmark runs end to end on a tiny configuration; its FLOP count is exact.

No timing is asserted here: speed targets are checked by the benchmark itself, on a
quiet machine, never by unit tests.
"""

import json
import math
import subprocess
import sys

import pytest

from keras_vcd import benchmark

# A tiny model and few iterations: the whole run (a to f) costs about a minute of CPU
# time in all (about 95 s of wall time on a 2-core machine at load average 4.5).
TINY = dict(
    input_dim=20, hidden_units=[8], latent_dim=2, batch_size=10, num_steps=2,
    num_leapfrog_steps=3,
    baseline_iterations=2, baseline_repeats=1, eager_iterations=1, eager_repeats=1,
    matmul_size=128, matmul_repeats=2,
    # Each new scaling point compiles a model: one per parameter but latent_dim (the
    # same code path) is enough here.
    scaling_batch_sizes=[10, 20], scaling_num_steps=[0, 2], scaling_latent_dims=[2],
    scaling_max_examples=400,
    eval_num_examples=5, eval_num_samples=50, eval_repeats=1,
    eval_num_burnin_steps=3, eval_num_kept_steps=3,
    memory_probes=[
        {"kind": "train", "control_variate": "local", "num_train_examples": 1000,
         "steps": 10},
        {"kind": "evaluate", "method": "iwae", "num_examples": 5, "num_samples": 200},
    ],
    memory_probe_workers=2,
    overlap_memory_probes=True,  # the timings are meaningless here anyway
)


def _numbers(tree):
    """Every int or float leaf of a nested dict/list (booleans excluded)."""
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _numbers(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _numbers(value)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield tree


def _skip_without_tfp():
    # Called by the fixture, not at import: the FLOP and settings tests need no TFP.
    try:
        import tensorflow_probability  # noqa: F401
    except ImportError as error:
        pytest.skip("the run includes the tfp.mcmc baseline, and tensorflow_probability "
                    f"is not importable ({error}); pip install 'keras-vcd[bench]'")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    _skip_without_tfp()
    output = tmp_path_factory.mktemp("bench") / "benchmark.json"
    returned = benchmark.run(quick=True, output=str(output), verbose=0, config=TINY,
                             iterations=10, repeats=1)
    return returned, output


def test_writes_json_with_every_section(results):
    returned, output = results
    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(returned))
    for key in (*benchmark.SECTIONS, "machine", "settings", "ratios", "started_at",
                "finished_at"):
        assert key in written, key
    for key in ("cpu_count", "platform", "tensorflow", "keras"):
        assert written["machine"][key]
    assert written["settings"]["batch_size"] == 10


def test_section_numbers_are_positive_and_finite(results):
    returned, _ = results
    for section in benchmark.SECTIONS:
        numbers = list(_numbers(returned[section]))
        assert numbers, section
        # num_steps = 0 in the scaling table is a setting, not a measurement.
        assert all(math.isfinite(n) and n >= 0 for n in numbers), section
    timings = [
        *returned["training"].values(), *returned["tfp_baseline"].values(),
        *(row for rows in returned["scaling"].values() for row in rows),
    ]
    for record in timings:
        assert record["seconds_per_iteration"] > 0
        assert record["seconds_per_example"] > 0
        assert record["ratio_to_limit"] > 0
    for record in returned["evaluation"].values():
        assert record["samples_per_second"] > 0 and record["fraction_of_matmul_rate"] > 0
    assert 0 < returned["evaluation"]["hmc_is"]["proposal_flop_share"] < 1
    for record in returned["memory"]:
        assert record["max_rss_bytes"] > 0
    assert returned["machine_limit"]["matmul"]["flops_per_second"] > 0


def test_ratios_match_the_times(results):
    returned, _ = results
    ours = returned["training"]["global"]["seconds_per_iteration"]
    baseline = returned["tfp_baseline"]
    ratios = returned["ratios"]
    assert ratios["speedup_vs_tfp_tf_function"] == pytest.approx(
        baseline["tf_function"]["seconds_per_iteration"] / ours)
    assert ratios["speedup_vs_tfp_eager"] == pytest.approx(
        baseline["eager"]["seconds_per_iteration"] / ours)
    limit = returned["machine_limit"]
    assert limit["limit_seconds_per_iteration"] == pytest.approx(
        limit["flops_per_iteration"]["total"] / limit["matmul"]["flops_per_second"])
    assert ratios["ratio_to_limit"] == pytest.approx(ours / limit["limit_seconds_per_iteration"])
    shape_rate = limit["gradient_matmuls"]["flops_per_second"]
    assert shape_rate > 0
    assert limit["ratio_to_shape_limit"] == pytest.approx(
        ours / (limit["flops_per_iteration"]["total"] / shape_rate))
    assert limit["our_gflops_per_second"] == pytest.approx(
        limit["flops_per_iteration"]["total"] / ours / 1e9)
    record = returned["training"]["global"]
    assert record["seconds_per_example"] == pytest.approx(record["seconds_per_iteration"] / 10)
    evaluation = returned["evaluation"]["iwae"]
    assert evaluation["samples_per_second"] == pytest.approx(
        evaluation["num_examples"] * evaluation["num_samples"] / evaluation["seconds"])


def test_scaling_varies_one_parameter(results):
    returned, _ = results
    scaling = returned["scaling"]
    assert [row["value"] for row in scaling["batch_size"]] == [10, 20]
    assert [row["value"] for row in scaling["num_steps"]] == [0, 2]
    assert [row["value"] for row in scaling["latent_dim"]] == [2]
    assert scaling["latent_dim"][0]["same_as"] == "training.global"
    assert [row["batch_size"] for row in scaling["batch_size"]] == [10, 20]


def test_format_table_has_every_section(results):
    returned, _ = results
    table = benchmark.format_table(returned)
    for section in benchmark.SECTIONS:
        assert benchmark.SECTION_TITLES[section] in table
    assert table.count("| --- ") == 0 and "|---|" in table


def test_iteration_flops_by_hand():
    # batch 2, D = 3, one hidden layer of 4, latent 1, T = 1 transition of L = 2 steps.
    # Decoder 1 -> 4 -> 3: forward 2*2*(1*4 + 4*3) = 64.
    # Encoder, two nets 3 -> 4 -> 1: forward 2 * 2*2*(3*4 + 4*1) = 128.
    # HMC: (1 + 1*2) * (64 forward + 64 input gradient) = 384.
    # Encoder: forward 128 + weight gradients 128 + input gradients of the second
    # layers 2 * 2*2*(4*1) = 32 -> 288.
    # Decoder at z0: forward 64 + input gradient 64 = 128.
    # Decoder at z_T: forward 64 + weight gradients 64 + input gradient of the
    # second layer 2*2*(4*3) = 48 -> 176.
    flops = benchmark.iteration_flops(batch_size=2, input_dim=3, hidden_units=(4,),
                                      latent_dim=1, num_steps=1, num_leapfrog_steps=2)
    assert flops == {"hmc": 384, "encoder": 288, "decoder_z0": 128, "decoder_zt": 176,
                     "total": 976}
    # No HMC transitions: no HMC work at all.
    assert benchmark.iteration_flops(2, 3, (4,), 1, num_steps=0)["hmc"] == 0
    # The paper's configuration: decoder forward 2*100*(10*200 + 200*200 + 200*784).
    decoder = 2 * 100 * (10 * 200 + 200 * 200 + 200 * 784)
    assert benchmark.iteration_flops()["hmc"] == 41 * 2 * decoder


def test_evaluation_flops_by_hand():
    iwae = benchmark.evaluation_flops(3, (4,), 1, "iwae", num_samples=10)
    assert iwae["per_sample"] == 2 * (1 * 4 + 4 * 3)
    assert iwae["proposal"] == 2 * 2 * (3 * 4 + 4 * 1)
    assert iwae["total"] == iwae["proposal"] + 10 * 32
    hmc = benchmark.evaluation_flops(3, (4,), 1, "hmc_is", num_samples=10,
                                     num_burnin_steps=2, num_kept_steps=3,
                                     num_leapfrog_steps=2)
    assert hmc["proposal"] == 64 + (1 + 5 * 2) * 2 * 32
    assert hmc["proposal_share"] == pytest.approx(hmc["proposal"] / hmc["total"])


def test_unknown_setting_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="Unknown benchmark settings"):
        benchmark.run(quick=True, output=str(tmp_path / "b.json"), verbose=0,
                      config={"batch_sise": 10})


def test_other_load_is_a_fraction_and_a_busy_machine_is_flagged(results):
    returned, _ = results
    for key in ("other_load_start", "other_load_end"):
        assert 0.0 <= returned[key] <= 1.0, key
    quiet = dict(returned, other_load_start=0.0, other_load_end=0.0)
    busy = dict(returned, other_load_start=0.0, other_load_end=0.6)
    assert "Warning" not in benchmark.format_table(quiet)
    assert "Warning: other work used more than 10%" in benchmark.format_table(busy)


def test_importing_the_benchmark_does_not_import_tfp():
    code = ("import sys, keras_vcd.benchmark; "
            "print('tensorflow_probability' in sys.modules, 'tf_keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_without_tfp_the_run_stops_before_measuring_and_names_the_extra(tmp_path,
                                                                        monkeypatch):
    # None in sys.modules makes `import tensorflow_probability` fail, as if not installed.
    monkeypatch.setitem(sys.modules, "tensorflow_probability", None)
    output = tmp_path / "b.json"
    with pytest.raises(ImportError, match=r"pip install 'keras-vcd\[bench\]'"):
        benchmark.run(quick=True, output=str(output), verbose=0, config=TINY)
    assert not output.exists()


def test_distributed_benchmark_runs_its_three_setups_and_the_workers_agree(tmp_path):
    import os

    from keras_vcd.benchmark import distributed

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the distributed benchmark pins two workers to two cores")
    tiny = {key: TINY[key] for key in ("input_dim", "hidden_units", "latent_dim",
                                       "batch_size", "num_steps", "num_leapfrog_steps")}
    output = tmp_path / "distributed.json"
    results = distributed.run_distributed(iterations=20, repeats=1, output=str(output),
                                          verbose=0, config=tiny, timeout=600)
    setups = results["setups"]
    assert sorted(setups) == ["a", "b", "c"]
    assert [setups[name]["num_replicas"] for name in "abc"] == [1, 1, 2]
    assert setups["c"]["global_batch"] == 2 * setups["a"]["global_batch"] == 20
    assert all(len(setup["cores"]) == 1 for setup in setups.values())  # pinned
    # The two workers of c end bitwise equal: initial values broadcast, gradients
    # all-reduced, the step size and control variates updated from all-reduced values.
    assert results["workers_weights_max_difference"] == 0.0
    rate = {name: setup["examples_per_second"] for name, setup in setups.items()}
    assert results["ratios"]["c_over_a"] == pytest.approx(rate["c"] / rate["a"])
    assert json.loads(output.read_text())["ratios"] == results["ratios"]
    report = distributed.format_distributed(results)
    assert "identical" in report and "c / a" in report


def test_small_data_benchmark_times_both_input_paths():
    from keras_vcd.benchmark.small_data import format_small_data, run_small_data

    results = run_small_data(sizes=(20, 40), iterations=8, repeats=1, verbose=0)
    for path in ("keras_pipeline", "endless_batches"):
        times = results["ms_per_iteration"][path]
        assert set(times) == {"20", "40"} and all(t > 0 for t in times.values())
        assert results["ratio"][path] == pytest.approx(times["20"] / times["40"])
    assert "endless batches" in format_small_data(results)
