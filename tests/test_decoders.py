"""Every likelihood against an independent closed form (scipy), its samples against its
mean, its data checks, and the estimators against an exact marginal."""

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf

import keras_vcd as kv

LATENT, D = 3, 6


def _softplus(v):
    return np.logaddexp(0.0, v)


def _randomised(decoder, seed=0):
    """The decoder built, with random weights (biases included) drawn from `seed`."""
    if not decoder.built:
        decoder.build((None, LATENT))
    rng = np.random.default_rng(seed)
    for variable in decoder.trainable_variables:
        variable.assign(rng.normal(0.0, 0.7, variable.shape).astype("float32"))
    return decoder


def _closed_forms():
    """(decoder, data, log p(x | outputs) by scipy) for each built-in likelihood."""
    rng = np.random.default_rng(1)
    binary = (rng.random((5, D)) < 0.4).astype("float32")
    real = rng.normal(0.0, 1.0, (5, D)).astype("float32")
    counts = rng.poisson(2.0, (5, D)).astype("float32")
    return [
        (kv.BernoulliDecoder(output_dim=D, hidden_units=(8,)), binary,
         lambda x, out: scipy.stats.bernoulli.logpmf(x, scipy.special.expit(out))),
        (kv.GaussianDecoder(output_dim=D, hidden_units=(8,), scale=0.3), real,
         lambda x, out: scipy.stats.norm.logpdf(x, out, 0.3)),
        (kv.GaussianDecoder(output_dim=D, hidden_units=(), scale="learned"), real,
         None),  # its scale is a weight: checked below once it is known
        (kv.GaussianDecoder(output_dim=D, hidden_units=(8,), scale="learned_shared"), real,
         None),
        (kv.PoissonDecoder(output_dim=D, hidden_units=(8,)), counts,
         lambda x, out: scipy.stats.poisson.logpmf(x, _softplus(out) + 1e-4)),
    ]


@pytest.mark.parametrize("index", range(5))
def test_log_likelihood_equals_the_closed_form(index):
    decoder, x, closed_form = _closed_forms()[index]
    decoder = _randomised(decoder, seed=index)
    if closed_form is None:
        scale = _softplus(decoder.raw_scale.numpy()) + decoder.min_scale
        closed_form = lambda x, out: scipy.stats.norm.logpdf(x, out, scale)  # noqa: E731
    z = np.random.default_rng(2).normal(size=(4, 5, LATENT)).astype("float32")  # 4 samples
    outputs = decoder(z.reshape(-1, LATENT)).numpy().reshape(4, 5, D).astype("float64")
    expected = closed_form(x.astype("float64"), outputs).sum(-1)
    # float32 arithmetic on values of order 10: 1e-4 relative is far above its rounding.
    np.testing.assert_allclose(decoder.log_likelihood(x, z).numpy(), expected, rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("index", range(5))
def test_sample_moments_agree_with_the_mean(index):
    decoder, _, _ = _closed_forms()[index]
    decoder = _randomised(decoder, seed=index)
    n = 20_000
    z = np.repeat(np.random.default_rng(3).normal(size=(1, LATENT)), n, 0).astype("float32")
    samples = decoder.sample(z, seed=[0, index]).numpy()
    mean = decoder.mean(z[:1]).numpy()[0]
    # Five standard errors of a mean of n independent draws, per feature: with the
    # fixed seed the check is deterministic, and a wrong mean or sampler (e.g. logits
    # instead of probabilities) misses by far more.
    stderr = samples.std(0) / np.sqrt(n)
    assert np.all(np.abs(samples.mean(0) - mean) <= 5 * stderr + 1e-6)


def test_a_poisson_rate_below_its_floor_still_has_a_gradient():
    # softplus(-12) = 6e-6 is under the 1e-4 floor. A count of 3 there must pull the
    # rate up: d/db [3 log(softplus(b) + 1e-4) - softplus(b)] = (3 / rate - 1) sigmoid(b)
    # = 0.17; a hard floor (max) would make it exactly 0 and the feature could never recover.
    decoder = kv.PoissonDecoder(output_dim=1, hidden_units=())
    decoder.build((None, 1))
    kernel, bias = decoder.trainable_variables
    kernel.assign(np.zeros((1, 1), "float32"))
    bias.assign(np.full((1,), -12.0, "float32"))
    with tf.GradientTape() as tape:
        log_p = decoder.log_likelihood(np.array([[3.0]], "float32"), np.zeros((1, 1), "float32"))
    rate = _softplus(-12.0) + 1e-4
    expected = (3.0 / rate - 1.0) * scipy.special.expit(-12.0)
    np.testing.assert_allclose(tape.gradient(log_p, bias).numpy(), [expected], rtol=1e-3)


@pytest.mark.parametrize("decoder, bad, match", [
    (kv.PoissonDecoder(output_dim=3), [[1.0, 2.5, 3.0]], r"2\.5 at \(0, 1\).*non-negative integer"),
    (kv.PoissonDecoder(output_dim=3), [[1.0, -2.0, 3.0]], r"-2\.0 at \(0, 1\)"),
    (kv.GaussianDecoder(output_dim=3, scale=1.0), [[1.0, np.nan, 3.0]], r"non-finite value nan"),
    (kv.GaussianDecoder(output_dim=3, scale=1.0), [[1.0, 2.0]], r"2 features.*expects 3"),
    (kv.BernoulliDecoder(output_shape=(2, 2, 1)), np.zeros((4, 4)),
     r"shape \(num_examples, 2, 2, 1\)"),
    (kv.BernoulliDecoder(output_dim=2), [[0.0, 1.5]], r"1\.5 at \(0, 1\).*\[0, 1\]"),
])
def test_check_data_names_the_bad_value_and_the_support(decoder, bad, match):
    with pytest.raises(ValueError, match=match):
        decoder.check_data(np.asarray(bad, "float32"))


def test_a_shared_learned_scale_is_one_floored_weight_saved_with_the_model(tmp_path):
    model = kv.VCDModel(kv.GaussianEncoder(2, ()),
                        kv.GaussianDecoder(output_dim=D, hidden_units=(), scale="learned_shared",
                                           min_scale=1e-3))
    model.build()
    decoder = model.decoder
    assert decoder.raw_scale.shape == () and decoder.raw_scale in decoder.trainable_variables
    decoder.raw_scale.assign(-100.0)  # softplus(-100) = 4e-44: the floor is what is left
    assert float(decoder.scale_values()) == pytest.approx(1e-3)
    decoder.raw_scale.assign(0.3)
    model.save(tmp_path / "ppca.keras")
    restored = keras.models.load_model(tmp_path / "ppca.keras")
    assert restored.decoder.get_config() == decoder.get_config()
    assert float(restored.decoder.scale_values()) == pytest.approx(
        float(decoder.scale_values()))


def test_bernoulli_refuses_fractional_data_for_a_log_likelihood_only():
    decoder = kv.BernoulliDecoder(output_dim=2)
    decoder.check_data(np.array([[0.5, 1.0]]))  # a training target: accepted
    with pytest.raises(ValueError, match="binary"):
        decoder.check_data(np.array([[0.5, 1.0]]), exact=True)


@pytest.mark.parametrize("make, match", [
    (lambda: kv.GaussianDecoder(output_dim=3, scale=0.0), "scale"),
    (lambda: kv.GaussianDecoder(output_dim=3, scale="fixed"), "scale"),
    (lambda: kv.PoissonDecoder(output_dim=3, min_rate=0), "min_rate"),
    (lambda: kv.BernoulliDecoder(output_shape=(28, 0)), "output_shape"),
    (lambda: kv.BernoulliDecoder(output_dim=3, output_shape=(3,)), "exactly one"),
    (lambda: kv.BernoulliDecoder(output_dim=3, hidden_units=(4,),
                                 network=keras.layers.Dense(3)), "not both"),
    (lambda: kv.BernoulliDecoder(output_dim=3, network="dense"), "Keras layer"),
    (lambda: kv.GaussianDecoder(output_dim=3, scale=True), "scale"),
    (lambda: kv.GaussianDecoder(output_dim=3, min_scale=0.0), "min_scale"),
    (lambda: kv.GaussianEncoder(2, mean_network=keras.layers.Dense(2)), "both"),
    (lambda: kv.GaussianEncoder(2, hidden_units=(0,)), r"hidden_units\[0\]"),
    (lambda: kv.BernoulliDecoder(), "size of one example"),
    (lambda: kv.GaussianEncoder(), "latent_dim"),
])
def test_bad_arguments_name_the_value(make, match):
    # A missing required size is a TypeError, as for keras.layers.Dense().
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_numpy_ints_and_a_single_hidden_layer_are_accepted():
    encoder = kv.GaussianEncoder(latent_dim=np.int64(4), hidden_units=200)
    decoder = kv.BernoulliDecoder(output_dim=np.int32(9), hidden_units=np.int64(16))
    assert (encoder.latent_dim, encoder.hidden_units) == (4, (200,))
    assert (decoder.event_shape, decoder.hidden_units) == ((9,), (16,))
    hmc = kv.HMCRefine(num_steps=np.int64(3), num_leapfrog_steps=np.int32(2))
    assert (hmc.num_steps, hmc.num_leapfrog_steps) == (3, 2)
    assert type(hmc.get_config()["num_steps"]) is int  # JSON-serialisable


def test_a_network_with_the_wrong_output_shape_is_named():
    decoder = kv.BernoulliDecoder(output_shape=(4,), network=keras.layers.Dense(5))
    with pytest.raises(ValueError, match=r"returned shape \(2, 5\).*event shape is \(4,\)"):
        decoder(np.zeros((2, 3), "float32"))


def _gaussian_mf_with_exact_posterior(sigma=0.5, seed=0):
    """A linear Gaussian model whose diagonal-Gaussian encoder is the exact posterior.

    W has orthogonal columns, so the posterior covariance (I + W^T W / s^2)^-1 is
    diagonal and a linear encoder represents the posterior exactly.
    """
    rng = np.random.default_rng(seed)
    w = np.linalg.qr(rng.normal(size=(D, 2)))[0] * np.array([1.5, 0.8])  # (D, 2)
    b = rng.normal(size=D)
    model = kv.VCDModel(
        encoder=kv.GaussianEncoder(latent_dim=2, hidden_units=()),
        decoder=kv.GaussianDecoder(output_dim=D, hidden_units=(), scale=sigma),
        refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=5, initial_step_size=0.3),
        seed=seed,
    )
    model.build()
    dense = model.decoder.network.layers[-1]
    dense.set_weights([w.T.astype("float32"), b.astype("float32")])
    precision = 1.0 + (w**2).sum(0) / sigma**2  # diagonal
    post_std = 1.0 / np.sqrt(precision)
    mean_kernel = (w / sigma**2 / precision)  # mu = (x - b) @ mean_kernel
    model.encoder.mean_network.layers[-1].set_weights(
        [mean_kernel.astype("float32"), (-b @ mean_kernel).astype("float32")])
    raw = np.log(np.expm1(post_std - model.encoder.min_std))  # softplus^-1
    model.encoder.std_network.layers[-1].set_weights(
        [np.zeros((D, 2), "float32"), raw.astype("float32")])
    covariance = w @ w.T + sigma**2 * np.eye(D)
    x = rng.multivariate_normal(b, covariance, size=40).astype("float32")
    exact = scipy.stats.multivariate_normal(b, covariance).logpdf(x)
    return model, x, exact


def test_both_estimators_match_the_exact_marginal_of_a_gaussian_model():
    model, x, exact = _gaussian_mf_with_exact_posterior()
    iwae = kv.evaluation.log_likelihood(model, x, "iwae", num_samples=50, verbose=0)
    # With the exact posterior as proposal every importance weight equals p(x): the
    # estimate is exact up to float32 rounding of terms of order 10.
    np.testing.assert_allclose(iwae, exact, atol=2e-3)
    # hmc_is proposes from a Gaussian 1.2x wider than the posterior as its chain
    # estimated it from 300 correlated states. Where that estimate came out narrow,
    # rare large weights are missed (the estimate falls short, a lower bound in
    # expectation) or one is hit (it overshoots). Measured at S = 1000, seeds 0 and 1:
    # the mean error within 0.02 and the median |error| within 0.012 under both
    # adaptations; the largest overshoot 0.06 under the reference's shared rule, but
    # under dual averaging per chain 0.17 (TF 2.21) and 0.94 (TF 2.18) on one example:
    # its tail is an open problem (docs/algorithm.md), so only the reference's is bounded.
    for adaptation in ("dual_averaging", "reference"):
        error = kv.evaluation.log_likelihood(model, x, "hmc_is", num_samples=1000,
                                             verbose=0, adaptation=adaptation) - exact
        assert abs(error.mean()) < 0.05, adaptation
        assert np.median(np.abs(error)) < 0.03, adaptation
    assert error.max() < 0.1


def test_a_continuous_log_density_can_be_positive_and_tf_data_is_accepted():
    model, x, exact = _gaussian_mf_with_exact_posterior(sigma=0.05)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(16)
    values = kv.evaluation.log_likelihood(model, dataset, "iwae", num_samples=20, verbose=0)
    np.testing.assert_allclose(values, exact, atol=2e-3)
    assert (exact > 0).any()  # a density, not a probability


def test_the_exact_marginal_by_woodbury_equals_scipys():
    model, x, exact = _gaussian_mf_with_exact_posterior()
    # The model holds W in float32 and the reference builds it in float64: they agree
    # to about 1e-7 relative; the learned-scale case below reads the same weights back.
    np.testing.assert_allclose(kv.evaluation.exact_log_likelihood(model, x), exact, rtol=1e-6)
    for scale in ("learned", "learned_shared"):
        learned = kv.VCDModel(kv.GaussianEncoder(LATENT, ()),
                              kv.GaussianDecoder(output_dim=D, hidden_units=(), scale=scale))
        learned.build()
        decoder = _randomised(learned.decoder)
        w, b, s = kv.evaluation.exact.linear_gaussian_parameters(decoder)
        assert len(set(s)) == (1 if scale == "learned_shared" else D)
        covariance = w @ w.T + np.diag(s**2)
        np.testing.assert_allclose(kv.evaluation.exact_log_likelihood(learned, x),
                                   scipy.stats.multivariate_normal(b, covariance).logpdf(x),
                                   rtol=1e-9)
    with pytest.raises(ValueError, match="linear Gaussian model"):
        kv.evaluation.exact_log_likelihood(kv.zoo.load("vcd_mnist", load_weights=False), x)
