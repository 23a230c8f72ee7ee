"""keras_vcd.distribute and VCDModel under tf.distribute strategies.

TensorFlow fixes its devices when it first initialises them, so the distributed runs
happen in subprocesses that run this very file as a script:

- `python tests/test_distribute.py mirrored OUT`: MirroredStrategy over 2 logical CPU
  devices; writes its measurements to OUT/mirrored.json (and a saved model).
- `python tests/test_distribute.py worker OUT` with TF_CONFIG set: one worker of a
  MultiWorkerMirroredStrategy; the test starts two on 127.0.0.1.

The pytest process only reads what they wrote (and loads their saved models on its
single device). Every subprocess runs under a timeout and is killed in `finally`.
"""

import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

THIS_FILE = pathlib.Path(__file__).resolve()
# Generous for 2 loaded cores: the mirrored script takes about a minute there.
SUBPROCESS_TIMEOUT_S = 240
INPUT_DIM, LATENT_DIM = 20, 2
GLOBAL_BATCH = 16


def _tiny_model(control_variate, **kwargs):
    """helpers.tiny_model at this file's sizes.

    Imported here, not at the top: helpers imports keras_vcd (so TensorFlow), and the
    subprocesses must configure their devices first.
    """
    from helpers import tiny_model

    return tiny_model("vcd", control_variate, input_dim=INPUT_DIM, latent_dim=LATENT_DIM,
                      **kwargs)


def _binary_data(num_examples, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((num_examples, INPUT_DIM)) < 0.3).astype("float32")


# ============================================================ subprocess: mirrored


def _per_replica(strategy, variable):
    """The value of a (Keras) variable on every replica, as numpy arrays."""
    value = getattr(variable, "value", variable)
    return [np.asarray(v) for v in strategy.experimental_local_results(value)]


def _replica_spread(strategy, variables):
    """Largest difference of any variable between replicas."""
    spread = 0.0
    for variable in variables:
        values = _per_replica(strategy, variable)
        for other in values[1:]:
            spread = max(spread, float(np.max(np.abs(other.astype("float64") - values[0]))))
    return spread


def _replica_step_is_one_xla_loop(model, x):
    """Whether each replica's step (encoder, HMC chain, losses, gradients) is one XLA
    computation with the chain as a while loop inside it. Lowering to HLO fails for
    anything XLA cannot compile, such as a cross-replica reduction."""
    import tensorflow as tf

    hlo = model._replica_step.experimental_get_compiler_ir(
        tf.constant(x[:8]), None, tf.constant([0, 1], tf.int64))(stage="hlo")
    return "while" in hlo


def _mirrored_fit(strategy, out, results):
    """fit under the strategy; replicas agree; the model saves."""
    with strategy.scope():
        model = _tiny_model("global")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.compile()
    results["compile_warnings"] = [str(w.message) for w in caught]
    results["compiled_with"] = [model.steps_per_execution, model.jit_compile]
    x = _binary_data(64, seed=1)
    history = model.fit(x, batch_size=GLOBAL_BATCH, epochs=2, verbose=0,
                        validation_data=x[:GLOBAL_BATCH])
    results["fit_history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    results["fit_steps_per_execution"] = model.steps_per_execution
    results["replica_step_hlo_has_while"] = _replica_step_is_one_xla_loop(model, x)
    optimizer_variables = [
        v for opt, _ in model.parameter_groups().values() for v in opt.variables
    ]
    results["fit"] = {
        "step_size": [float(v) for v in _per_replica(strategy, model.refiner.step_size)],
        "control_variate": [
            float(v) for v in _per_replica(strategy, model.control_variate_layer.value)
        ],
        "rng_counter": [int(v) for v in _per_replica(strategy, model.rng_counter)],
        "iterations": int(model.decoder_optimizer.iterations.numpy()),
        "weights_spread": _replica_spread(strategy, model.weights),
        "optimizer_spread": _replica_spread(strategy, optimizer_variables),
    }
    model.save(out / "mirrored.keras")
    np.save(out / "mirrored_x.npy", x[:10])
    np.save(out / "mirrored_predictions.npy", model.predict(x[:10], verbose=0))


def _mirrored_control_variates(strategy, results):
    """The deterministic part: control-variate updates with known f and indices."""
    import tensorflow as tf
    from keras_vcd.models.control_variates import GlobalControlVariate, LocalControlVariate

    # Unequal replica batches (a last partial batch) and indices in no order.
    f = [np.array([1.0, 2.0, 3.0], "float32"), np.array([10.0, 20.0], "float32")]
    index = [np.array([0, 5, 7], "int64"), np.array([2, 9], "int64")]
    with strategy.scope():
        global_cv = GlobalControlVariate()
        global_cv.build()
        local_cv = LocalControlVariate(num_examples=10, warmup_steps=1)
        local_cv.build()

    def per_replica(arrays):
        return strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(arrays[context.replica_id_in_sync_group])
        )

    f_dist, index_dist = per_replica(f), per_replica(index)

    @tf.function
    def update(f_values, indices):
        def step(f_values, indices):
            global_cv.update(f_values, indices)
            local_cv.update(f_values, indices)

        strategy.run(step, args=(f_values, indices))

    history = []
    for _ in range(2):  # the first update follows the global rule (warm-up), then local
        update(f_dist, index_dist)
        history.append({
            "global": [float(v) for v in _per_replica(strategy, global_cv.value)],
            "local": [v.tolist() for v in _per_replica(strategy, local_cv.values)],
        })
    results["control_variates"] = {
        "f": [v.tolist() for v in f], "index": [v.tolist() for v in index],
        "history": history,
    }


def _mirrored_one_step(strategy, results, jit_compile):
    """One distributed step against the same step computed on one device.

    With one HMC transition the halves of the batch do not interact before the
    update (the step size adapted on the global acceptance is used from the next
    transition on), so replica r's computation can be repeated on one device: its
    half of the batch, the seed folded with r, the losses and gradients, then the
    SUM of both halves' gradients applied once.
    """
    import tensorflow as tf
    from keras_vcd import mcmc
    from keras_vcd.models import objectives

    num_examples = 24
    rng = np.random.default_rng(2)
    x = _binary_data(GLOBAL_BATCH, seed=3)
    index = rng.permutation(num_examples)[:GLOBAL_BATCH].astype("int64")
    initial_cv = rng.normal(-15.0, 3.0, num_examples).astype("float32")

    def make():
        model = _tiny_model("local", num_steps=1, num_train_examples=num_examples,
                            local_warmup_steps=0)
        model.compile(steps_per_execution=1, jit_compile=jit_compile)
        model.build()
        return model

    with strategy.scope():
        distributed = make()
    single, averaged = make(), make()
    distributed.control_variate_layer.values.assign(initial_cv)
    for model in (single, averaged):
        model.set_weights(distributed.get_weights())
    step_size0 = float(single.refiner.step_size.numpy())
    weights0 = [v.numpy() for v in single.trainable_weights]

    distributed.fit({"x": x, "index": index}, batch_size=GLOBAL_BATCH, epochs=1,
                    shuffle=False, verbose=0)

    # The same step on one device, replica by replica.
    per_replica = GLOBAL_BATCH // strategy.num_replicas_in_sync
    step_seed = mcmc.fold_in([single.seed, 0], tf.constant(0, tf.int64))
    groups = single.parameter_groups()
    summed, f_all, accept = None, [], []
    for r in range(strategy.num_replicas_in_sync):
        rows = slice(r * per_replica, (r + 1) * per_replica)
        seed = mcmc.fold_in(step_seed, tf.constant(r, tf.int32))
        with tf.GradientTape(persistent=True) as tape:
            terms, info = single.forward(tf.constant(x[rows]), seed, training=False, tape=tape)
            losses = single.objective_losses(terms, tf.constant(index[rows]), per_replica)
        gradients = tape.gradient(losses.decoder, groups["decoder"][1]) + tape.gradient(
            losses.encoder, groups["encoder_mean"][1] + groups["encoder_std"][1]
        )
        summed = gradients if summed is None else [a + b for a, b in zip(summed, gradients)]
        f_all.append(objectives.f_of_z_t(terms).numpy())
        accept.append(float(info["accept_rate"]))

    def apply(model, gradients):
        start = 0
        for optimizer, variables in model.parameter_groups().values():
            optimizer.apply(gradients[start:start + len(variables)], variables)
            start += len(variables)

    apply(single, summed)
    apply(averaged, [g / strategy.num_replicas_in_sync for g in summed])

    expected_cv = initial_cv.copy()
    expected_cv[index] = 0.9 * initial_cv[index] + 0.1 * np.concatenate(f_all)
    mean_accept = float(np.mean(accept))
    expected_step = step_size0 + 0.01 * step_size0 * (mean_accept - 0.9) / 0.9

    def max_diff(a, b):
        return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))

    trainable = [v.numpy() for v in single.trainable_weights]
    replica_results = []
    for r in range(strategy.num_replicas_in_sync):
        weights = [_per_replica(strategy, v)[r] for v in distributed.trainable_weights]
        replica_results.append({
            "weights_vs_sum": max_diff(weights, trainable),
            "weights_vs_mean": max_diff(weights, [v.numpy() for v in averaged.trainable_weights]),
            "control_variate_diff": float(np.max(np.abs(
                _per_replica(strategy, distributed.control_variate_layer.values)[r] - expected_cv
            ))),
            "step_size": float(_per_replica(strategy, distributed.refiner.step_size)[r]),
        })
    results["one_step_xla" if jit_compile else "one_step"] = {
        "replicas": replica_results,
        "expected_step_size": expected_step,
        "step_size0": step_size0,
        "update_size": max_diff(trainable, weights0),  # how far the step moved them
        "untouched_unchanged": bool(np.array_equal(
            np.delete(_per_replica(strategy, distributed.control_variate_layer.values)[0], index),
            np.delete(initial_cv, index),
        )),
    }

    # Each replica's seed: the step seed folded with the replica id.
    @tf.function
    def seeds():
        return strategy.run(distributed.seeds.next_training_seed)

    results["replica_seeds" + ("_xla" if jit_compile else "")] = [
        np.asarray(s).tolist() for s in strategy.experimental_local_results(seeds())
    ]


def _keras_multi_step_loop(strategy, results):
    """Whether plain Keras runs 5 steps per execution under `strategy` (keras#19246)."""
    import keras

    x = _binary_data(40, seed=0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
        model.compile("sgd", "mse", steps_per_execution=5, jit_compile=False)
    try:
        model.fit(x, x[:, :1], batch_size=10, epochs=1, verbose=0)
        results["keras_multi_step_error"] = None
    except Exception as error:  # noqa: BLE001 - recorded, the test reads it
        results["keras_multi_step_error"] = f"{type(error).__name__}: {str(error)[:200]}"


def _mirrored_main(out):
    from keras_vcd import distribute

    results = {"devices": distribute.configure_logical_cpus(2)}
    results["devices_again"] = distribute.configure_logical_cpus(2)  # harmless repeat
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    strategy = distribute.get_strategy("mirrored", devices=results["devices"])
    results["num_replicas"] = strategy.num_replicas_in_sync
    try:
        distribute.configure_logical_cpus(3)
        results["late_configure_error"] = None
    except RuntimeError as error:
        results["late_configure_error"] = str(error)
    _mirrored_control_variates(strategy, results)
    _mirrored_one_step(strategy, results, jit_compile=False)
    _mirrored_one_step(strategy, results, jit_compile=True)
    _mirrored_fit(strategy, out, results)
    _keras_multi_step_loop(strategy, results)
    (out / "mirrored.json").write_text(json.dumps(results))


# ============================================================ subprocess: worker


def _worker_main(out):
    from keras_vcd import distribute

    strategy = distribute.get_strategy("multi_worker")  # before any other TF op
    import tensorflow as tf
    from keras_vcd.distribute.replicas import replica_id

    chief = distribute.is_chief(strategy)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    # No shared Keras seed: equal weights at the end must come from the strategy
    # (initial values broadcast, gradients all-reduced).
    with strategy.scope():
        model = _tiny_model("local", num_train_examples=64, local_warmup_steps=2)
        model.compile()
    x = _binary_data(64, seed=4)  # the same data on both workers
    history = model.fit({"x": x, "index": np.arange(64)}, batch_size=GLOBAL_BATCH,
                        epochs=1, shuffle=False, verbose=0)
    replica_ids = strategy.run(tf.function(replica_id))
    optimizer_variables = [
        v for opt, _ in model.parameter_groups().values() for v in opt.variables
    ]
    np.savez(out / f"worker{task}.npz",
             *[np.asarray(v) for v in model.weights + optimizer_variables])
    with distribute.write_path(str(out / "chief.keras"), strategy) as path:
        model.save(path)
        wrote = path
    (out / f"worker{task}.json").write_text(json.dumps({
        "is_chief": chief,
        "num_replicas": strategy.num_replicas_in_sync,
        "replica_ids": [int(r) for r in strategy.experimental_local_results(replica_ids)],
        "wrote": wrote,
        "wrote_exists_after": os.path.exists(wrote),
        "iterations": int(model.decoder_optimizer.iterations.numpy()),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "replica_step_is_one_xla_loop": _replica_step_is_one_xla_loop(model, x),
    }))


# ============================================================ test-side helpers


def _subprocess_env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1", **extra)
    if "TF_CONFIG" not in extra:
        env.pop("TF_CONFIG", None)
    return env


def _tail(path, n=3000):
    text = pathlib.Path(path).read_text(errors="replace") if pathlib.Path(path).exists() else ""
    return text[-n:]


def _run_all(commands, out):
    """Starts every (name, argv, env) at once; waits for all within the timeout."""
    processes = []
    try:
        for name, argv, env in commands:
            log = open(out / f"{name}.log", "w")
            processes.append((name, subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=THIS_FILE.parent
            ), log))
        for name, process, _ in processes:
            try:
                code = process.wait(timeout=SUBPROCESS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} ran past {SUBPROCESS_TIMEOUT_S} s:\n"
                            f"{_tail(out / f'{name}.log')}")
            assert code == 0, f"{name} exited with {code}:\n{_tail(out / f'{name}.log')}"
    finally:
        for _, process, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored")
    _run_all([("mirrored", [sys.executable, str(THIS_FILE), "mirrored", str(out)],
               _subprocess_env())], out)
    return out, json.loads((out / "mirrored.json").read_text())


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_worker")
    from keras_vcd import distribute

    cluster = distribute.loopback_cluster(2)
    commands = [
        (f"worker{i}", [sys.executable, str(THIS_FILE), "worker", str(out)],
         _subprocess_env(TF_CONFIG=json.dumps(
             {"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)
    ]
    _run_all(commands, out)
    workers = [json.loads((out / f"worker{i}.json").read_text()) for i in range(2)]
    return out, workers


# ============================================================ MirroredStrategy


def test_logical_cpus_configured_before_and_refused_after_initialisation(mirrored):
    _, results = mirrored
    assert results["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    assert results["devices_again"] == results["devices"]
    assert results["num_replicas"] == 2
    assert "before TensorFlow initialises its devices" in results["late_configure_error"]


def test_mirrored_fit_runs_and_replicas_agree(mirrored):
    _, results = mirrored
    history = results["fit_history"]
    assert set(history) >= {"loss", "elbo", "hmc_step_size", "hmc_accept_rate", "val_loss"}
    assert all(np.isfinite(v).all() for v in history.values())
    # Execution settings that work under the strategy: Keras's own XLA off, each
    # replica's step XLA-compiled, and the default 10 steps per execution, run by
    # keras_vcd's loop as the largest divisor of the 4-step epoch.
    assert results["compiled_with"] == [10, False]
    assert not results["compile_warnings"]
    assert results["fit_steps_per_execution"] == 4
    assert results["replica_step_hlo_has_while"]
    fit = results["fit"]
    assert fit["iterations"] == 2 * 64 // GLOBAL_BATCH
    # Replicas hold copies of one state: every replica computes the same update from
    # all-reduced values, so the copies must be bitwise equal, not merely close.
    assert fit["weights_spread"] == 0.0 and fit["optimizer_spread"] == 0.0
    assert len(set(fit["step_size"])) == 1 and fit["step_size"][0] != 0.25  # adapted
    # The reported step size is the model's, not its sum over the replicas.
    assert history["hmc_step_size"][-1] == pytest.approx(fit["step_size"][0], rel=1e-6)
    assert len(set(fit["control_variate"])) == 1 and fit["control_variate"][0] != 0.0
    # One draw per training step; validation draws from its own stream.
    assert len(set(fit["rng_counter"])) == 1 and fit["rng_counter"][0] == fit["iterations"]


def test_keras_still_cannot_run_several_steps_per_execution_under_mirrored(mirrored):
    # Why keras_vcd runs its own multi-step loop under a strategy (keras_workarounds.
    # multi_replica_train_function) and evaluates one step per execution. When
    # this fails, Keras has fixed keras-team/keras#19246: drop that fallback.
    _, results = mirrored
    assert results["keras_multi_step_error"] is not None, "fixed upstream: see the comment"
    assert results["keras_multi_step_error"].startswith("InvalidArgumentError")


@pytest.mark.parametrize("execution", ["one_step", "one_step_xla"])
def test_mirrored_update_equals_one_device_update_on_the_global_batch(mirrored, execution):
    # Without XLA, and with each replica's step compiled by XLA (the default).
    _, results = mirrored
    step = results[execution]
    # float32 arithmetic in a different order (per-replica sums, then an all-reduce)
    # changes results by a few ulps of O(1) weights: 1e-6 is far below the size of
    # the update (checked below), so the test separates right from wrong.
    for replica in step["replicas"]:
        assert replica["weights_vs_sum"] < 1e-6, replica
        # The alternative (gradients averaged over replicas) is clearly rejected.
        assert replica["weights_vs_mean"] > 100 * max(replica["weights_vs_sum"], 1e-8)
        # log p(x, z) is O(10) here, so 1e-4 is a relative 1e-5.
        assert replica["control_variate_diff"] < 1e-4, replica
        assert replica["step_size"] == pytest.approx(step["expected_step_size"], abs=1e-7)
    assert step["update_size"] > 1e-5
    assert step["expected_step_size"] != step["step_size0"]
    assert step["untouched_unchanged"]


def test_mirrored_replicas_draw_different_noise(mirrored):
    _, results = mirrored
    seeds = results["replica_seeds"]
    assert len(seeds) == 2 and seeds[0] != seeds[1]


def test_mirrored_control_variate_updates_use_the_whole_global_batch(mirrored):
    _, results = mirrored
    cv = results["control_variates"]
    f_all = np.concatenate([np.array(v) for v in cv["f"]])
    index_all = np.concatenate([np.array(v) for v in cv["index"]])
    first, second = cv["history"]
    # Global: c <- 0.9 c + 0.1 mean(f over ALL examples of all replicas), on every replica.
    expected_c = 0.1 * f_all.mean()
    assert first["global"] == pytest.approx([expected_c] * 2, rel=1e-6)
    expected_c = 0.9 * expected_c + 0.1 * f_all.mean()
    assert second["global"] == pytest.approx([expected_c] * 2, rel=1e-6)
    # Local, warm-up update: every entry follows the global rule.
    expected = np.full(10, 0.1 * f_all.mean())
    for replica_values in first["local"]:
        np.testing.assert_allclose(replica_values, expected, rtol=1e-6)
    # Then each replica writes the indices of BOTH replicas: none is lost.
    expected[index_all] = 0.9 * expected[index_all] + 0.1 * f_all
    for replica_values in second["local"]:
        np.testing.assert_allclose(replica_values, expected, rtol=1e-6)


def test_mirrored_model_saves_and_loads_on_one_device(mirrored):
    import keras

    import keras_vcd as kv

    out, _ = mirrored
    model = keras.models.load_model(out / "mirrored.keras")
    assert isinstance(model, kv.VCDModel)
    x = np.load(out / "mirrored_x.npy")
    # Same weights, same ops on one device: agreement to float32 rounding.
    np.testing.assert_allclose(
        model.predict(x, verbose=0), np.load(out / "mirrored_predictions.npy"), atol=1e-5
    )
    # Reloaded without a strategy it compiles as asked: XLA and 10 steps per call.
    assert model.jit_compile is True and model.steps_per_execution == 10


# ============================================================ MultiWorkerMirroredStrategy


def test_multi_worker_workers_end_identical_and_only_chief_writes(multi_worker):
    import keras

    out, workers = multi_worker
    assert [w["is_chief"] for w in workers] == [True, False]
    assert all(w["num_replicas"] == 2 for w in workers)
    # Replica ids are global, so the two workers draw different noise.
    assert sorted(r for w in workers for r in w["replica_ids"]) == [0, 1]
    assert all(w["iterations"] == 64 // GLOBAL_BATCH for w in workers)
    assert all(w["replica_step_is_one_xla_loop"] for w in workers)
    first, second = (np.load(out / f"worker{i}.npz") for i in range(2))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:  # weights, step size, control variates, optimizer slots
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    # The chief's file is at the target; the other worker's went to a removed temp dir.
    assert workers[0]["wrote"] == str(out / "chief.keras") and workers[0]["wrote_exists_after"]
    assert workers[1]["wrote"] != workers[0]["wrote"]
    assert not os.path.exists(os.path.dirname(workers[1]["wrote"]))
    model = keras.models.load_model(out / "chief.keras")  # on this single device
    for i, variable in enumerate(model.weights):  # saved first, in this order
        np.testing.assert_array_equal(np.asarray(variable), first[f"arr_{i}"])


# ============================================================ get_strategy & helpers


def test_get_strategy_ipu_without_the_sdk_says_what_to_do():
    from keras_vcd import distribute

    if distribute.ipu_available():
        pytest.skip("Graphcore's TensorFlow is installed here.")
    with pytest.raises(distribute.IPUUnavailableError) as error:
        distribute.get_strategy("ipu")
    message = str(error.value)
    assert "Poplar SDK" in message and "'mirrored'" in message and "'default'" in message
    assert isinstance(error.value, RuntimeError)


def test_get_strategy_auto_falls_back_to_the_default_strategy_on_cpu():
    import tensorflow as tf

    from keras_vcd import distribute

    if distribute.ipu_available() or len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("This machine has an accelerator that 'auto' would choose.")
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()


def test_get_strategy_rejects_unknown_names_and_options():
    from keras_vcd import distribute

    with pytest.raises(ValueError, match="expected one of .*'multi_worker'"):
        distribute.get_strategy("tpu")
    with pytest.raises(ValueError, match=r"takes the options \['devices'"):
        distribute.get_strategy("mirrored", num_ipus=2)


@pytest.mark.parametrize("raw, expected", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{not json", "not valid JSON"),
    ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', '"cluster" must map'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}', '"task" must have'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "names no member"),
])
def test_multi_worker_needs_a_well_formed_tf_config(monkeypatch, raw, expected):
    from keras_vcd import distribute

    if raw is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ValueError, match="received") as error:
        distribute.get_strategy("multi_worker")
    assert expected in str(error.value)


@pytest.mark.parametrize("cluster, task, chief", [
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, True),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, False),
    ({"chief": ["c:1"], "worker": ["a:1"]}, {"type": "worker", "index": 0}, False),
    ({"chief": ["c:1"], "worker": ["a:1"]}, {"type": "chief", "index": 0}, True),
])
def test_is_chief_and_write_path_follow_tf_config(monkeypatch, tmp_path, cluster, task, chief):
    from keras_vcd import distribute

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert distribute.is_chief() is chief
    target = str(tmp_path / "ckpt.weights.h5")
    with distribute.write_path(target) as path:
        pathlib.Path(path).write_text("x")
    assert (path == target) is chief
    assert os.path.exists(target) is chief
    assert os.path.exists(path) is chief  # a non-chief's temporary file is gone


def test_configure_logical_cpus_checks_its_argument():
    from keras_vcd import distribute

    with pytest.raises(ValueError, match="received 0"):
        distribute.configure_logical_cpus(0)


if __name__ == "__main__":
    role, out_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    {"mirrored": _mirrored_main, "worker": _worker_main}[role](out_dir)
