"""The public contract (the names the design fixes), reachable from `import keras_vcd as kv`."""

import keras_tuner

import keras_vcd as kv


def test_contract_names_exist():
    for name in ("GaussianEncoder", "BernoulliDecoder", "HMCRefine", "VCDModel"):
        assert isinstance(getattr(kv, name), type)
    assert callable(kv.datasets.binarized_mnist.load_data)
    assert callable(kv.datasets.fashion_mnist.load_data)
    assert callable(kv.evaluation.log_likelihood)
    assert callable(kv.zoo.list_presets) and callable(kv.zoo.load)
    assert callable(kv.zoo.save_to_preset)
    assert callable(kv.VCDModel.from_preset)
    assert callable(kv.distribute.get_strategy)
    assert issubclass(kv.tuning.VCDHyperModel, keras_tuner.HyperModel)
    assert {"vcd_mnist", "vae_mnist", "hoffman_mnist"} <= set(kv.zoo.list_presets())


def test_model_exposes_its_layers():
    model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=10, hidden_units=(200, 200)),
                        decoder=kv.BernoulliDecoder(output_dim=784, hidden_units=(200, 200)),
                        refiner=kv.HMCRefine(num_steps=8, num_leapfrog_steps=5,
                                             target_accept_rate=0.9, adaptation_rate=0.01),
                        objective="vcd", control_variate="global")
    assert isinstance(model.encoder, kv.GaussianEncoder)
    assert isinstance(model.decoder, kv.BernoulliDecoder)
    assert isinstance(model.refiner, kv.HMCRefine)


def test_open_model_names_exist():
    for name in ("GaussianDecoder", "PoissonDecoder", "BernoulliDecoder"):
        assert issubclass(getattr(kv, name), kv.layers.Decoder)
    decoder = kv.BernoulliDecoder(output_shape=(28, 28, 1), hidden_units=(8,))
    assert decoder.event_shape == (28, 28, 1)
    for method in ("log_likelihood", "mean", "sample", "check_data"):
        assert callable(getattr(decoder, method))
    assert callable(kv.datasets.mnist.load_data)
    model = kv.VCDModel(kv.GaussianEncoder(latent_dim=2, hidden_units=(8,)), decoder)
    model.compile(optimizer="adam")
    model.build()
    assert model.event_shape == (28, 28, 1)
