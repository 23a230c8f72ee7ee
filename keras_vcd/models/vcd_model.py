"""`VCDModel`: a VAE whose latent samples are refined by HMC, trained by VCD."""

import keras
import numpy as np
import tensorflow as tf

from keras_vcd import mcmc, optimizers, validation
from keras_vcd.distribute import keras_workarounds
from keras_vcd.layers import Decoder, GaussianEncoder, HMCRefine
from keras_vcd.models import forward as forward_pass
from keras_vcd.models import gradients, inputs, metrics, objectives, step_updates
from keras_vcd.models import weights_format
from keras_vcd.models.control_variates import make_control_variate
from keras_vcd.models.seed_stream import SeedStream
from keras_vcd.models.unlabelled_model import UnlabelledModel

# Steps run per call into the compiled function: removes the per-step host round trip.
DEFAULT_STEPS_PER_EXECUTION = 10

# The constructor's arguments, each kept as the attribute of its name (`get_config`).
_LAYER_ARGUMENTS = ("encoder", "decoder", "refiner")
_PLAIN_ARGUMENTS = ("objective", "control_variate", "num_train_examples", "local_warmup_steps",
                    "control_variate_decay", "seed")


@keras.saving.register_keras_serializable(package="keras_vcd")
class VCDModel(UnlabelledModel):
    """A variational autoencoder trained with the Variational Contrastive Divergence.

    Per step: `(mean, std) = encoder(x)`, `z0 = mean + std * eps`, `z_T` = HMC from z0
    targeting p(z | x), then the objective's encoder and decoder losses, each applied
    to its own parameter group by its own optimizer (see `compile`).

    Args:
        encoder: a `GaussianEncoder`.
        decoder: any `keras_vcd.layers.Decoder` (Bernoulli, Gaussian, Poisson or your
            own subclass); the data are `(N, *decoder.event_shape)`.
        refiner: an `HMCRefine`; the paper's `HMCRefine()` if None.
        objective: `"vcd"` (default), `"elbo"` (a plain VAE, no HMC) or `"hoffman"`.
        control_variate: `"global"`, `"local"` (one value per training example; fit
            then needs indices, see `keras_vcd.datasets.with_indices`) or None. Used by
            `"vcd"` only. The attribute `control_variate` holds this value,
            `control_variate_layer` the layer with the values c (None without one).
        num_train_examples: the training-set size, required for `"local"`.
        local_warmup_steps: updates during which `"local"` follows the global rule.
        control_variate_decay: the 0.9 of `c <- 0.9 c + 0.1 f`.
        seed: int seed of the model's random stream (eps and HMC); drawn if None.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> x = (np.random.default_rng(0).random((64, 20)) < 0.3).astype("float32")
    >>> model = kv.VCDModel(
    ...     encoder=kv.GaussianEncoder(latent_dim=2, hidden_units=(16,)),
    ...     decoder=kv.BernoulliDecoder(output_dim=20, hidden_units=(16,)),
    ...     refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=3), seed=0)
    >>> model.compile()
    >>> history = model.fit(x, batch_size=32, epochs=1, verbose=0)
    >>> sorted(history.history)[:3]
    ['elbo', 'hmc_accept_rate', 'hmc_step_size']
    """

    def __init__(self, encoder, decoder, refiner=None, objective="vcd",
                 control_variate="global", num_train_examples=None,
                 local_warmup_steps=3000, control_variate_decay=0.9, seed=None, **kwargs):
        super().__init__(**kwargs)
        validation.check_choice(objective, "objective", objectives.OBJECTIVES)
        validation.check_instance(
            encoder, "encoder", GaussianEncoder, "keras_vcd.GaussianEncoder", "To use your own "
            "network, wrap it: GaussianEncoder(latent_dim=..., mean_network=my_net, "
            "std_network=my_other_net).")
        validation.check_instance(
            decoder, "decoder", Decoder, "keras_vcd.layers.Decoder", "Wrap your network in "
            "one (e.g. BernoulliDecoder(output_shape=..., network=my_net)) or subclass "
            "Decoder for another likelihood.")
        self.encoder = encoder
        self.decoder = decoder
        self.refiner = refiner if refiner is not None else HMCRefine()
        self.objective = objective
        self.control_variate = control_variate
        self.num_train_examples = num_train_examples
        self.local_warmup_steps = local_warmup_steps
        self.control_variate_decay = control_variate_decay
        self.seed = (int(np.random.randint(2**31 - 1)) if seed is None
                     else validation.check_int(seed, "seed", minimum=None))
        # The attribute name is the layer's path in weights files (see weights_format).
        layer = make_control_variate(control_variate, num_train_examples, local_warmup_steps,
                                     control_variate_decay)
        self.control_variate_layer = layer if objective == "vcd" else None
        self._trackers = metrics.training_metrics(objective)
        self.event_shape = decoder.event_shape
        self.input_dim = decoder.output_dim
        self.latent_dim = encoder.latent_dim
        self.seeds = SeedStream(self, self.seed)
        self.rng_counter = self.seeds.counter

    # ------------------------------------------------------------------ building

    def build(self, input_shape=None):
        sublayers = [
            (self.encoder, (None, *self.event_shape)),
            (self.decoder, (None, self.latent_dim)),
            (self.refiner, (None, self.latent_dim)),
            (self.control_variate_layer, None),
        ]
        # Deserialisation may have built some of them already.
        for layer, shape in sublayers:
            if layer is not None and not layer.built:
                layer.build(shape)
        self._build_optimizers()

    def get_build_config(self):
        return {"input_shape": [None, *self.event_shape]}

    def build_from_config(self, config):
        self.build()

    def parameter_groups(self):
        """{group: (optimizer, variables)} for "decoder", "encoder_mean", "encoder_std"."""
        return {
            "decoder": (self.decoder_optimizer, self.decoder.trainable_variables),
            "encoder_mean": (self.encoder_mean_optimizer,
                             self.encoder.mean_network.trainable_variables),
            "encoder_std": (self.encoder_std_optimizer,
                            self.encoder.std_network.trainable_variables),
        }

    def _build_optimizers(self):
        if (self.built or self.encoder.built) and hasattr(self, "decoder_optimizer"):
            optimizers.build_group_optimizers(self.parameter_groups())

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer=None, decoder_optimizer=None, encoder_mean_optimizer=None,
                encoder_std_optimizer=None, steps_per_execution=DEFAULT_STEPS_PER_EXECUTION,
                jit_compile=True, run_eagerly=False):
        """Configures training. The defaults are the paper's optimisation.

        Each parameter group ("decoder", "encoder_mean", "encoder_std") has its own
        optimizer; the defaults are `ReferenceRMSprop` with learning rates 5e-4
        (decoder), 5e-4 (encoder mean network) and 2.5e-4 (encoder std network), each
        multiplied by 0.9 every 15,000 steps. `model.optimizer` is the decoder's. On
        small data sets Adam is often faster: `compile(optimizer="adam")`.

        Args:
            optimizer: one optimizer for every group (a name such as `"adam"`, or an
                instance, copied per group), or a dict keyed by group name; groups
                left out get the paper's.
            decoder_optimizer, encoder_mean_optimizer, encoder_std_optimizer: the
                same per group, as keywords (what a saved model's config holds).
            steps_per_execution: training steps per call of the compiled function.
            jit_compile: compile the training step with XLA.
            run_eagerly: run `train_step` eagerly (debugging only; slow).

        Under a strategy with several replicas, `jit_compile` compiles each replica's
        share of the step, and the steps of one execution run in keras_vcd's own loop
        (`keras_workarounds.multi_replica_train_function`; evaluation runs one step
        per execution).
        """
        groups = optimizers.group_optimizers_of_compile(
            optimizer, decoder=decoder_optimizer, encoder_mean=encoder_mean_optimizer,
            encoder_std=encoder_std_optimizer)
        # The attribute names are the optimizers' paths in weights files.
        self.decoder_optimizer = groups["decoder"]
        self.encoder_mean_optimizer = groups["encoder_mean"]
        self.encoder_std_optimizer = groups["encoder_std"]
        execution, replica_jit = keras_workarounds.distributed_execution(
            self.distribute_strategy, steps_per_execution, jit_compile)
        super().compile(optimizer=self.decoder_optimizer, **execution,
                        run_eagerly=run_eagerly)
        self._replica_step = gradients.replica_step(self, replica_jit and not run_eagerly)
        # Several replicas: the step sums the gradients itself, in its one all-reduce.
        self._optimizers_take_summed_gradients = (
            self.distribute_strategy.num_replicas_in_sync > 1
            and keras_workarounds.let_caller_sum_gradients(list(groups.values())))
        self._vcd_compile_config = {**optimizers.compile_keywords(groups),
                                    "steps_per_execution": steps_per_execution,
                                    "jit_compile": jit_compile}
        self._build_optimizers()

    def get_compile_config(self):
        config = getattr(self, "_vcd_compile_config", None)
        return optimizers.serialize_compile_config(config) if config else None

    def compile_from_config(self, config):
        self.compile(**optimizers.deserialize_compile_config(config))

    def summary(self, *args, **kwargs):
        """`keras.Model.summary`, plus the parameters of all groups' optimizers.

        Keras knows one optimizer per model (`model.optimizer`, the decoder's), so
        its "Optimizer params" line counts that one only.
        """
        super().summary(*args, **kwargs)
        if getattr(self, "decoder_optimizer", None) is not None:
            (kwargs.get("print_fn") or print)(
                optimizers.describe_group_optimizers(self.parameter_groups()))

    @property
    def metrics(self):
        return list(self._trackers)

    # ------------------------------------------------------------------ the algorithm

    def log_joint(self, x, z):
        """log p(x, z) per example: the decoder's likelihood plus the standard normal prior."""
        return forward_pass.log_joint(self.decoder, x, z)

    def forward(self, x, seed, training=False, tape=None):
        """`forward_pass.forward` with this model's layers (no HMC under the ELBO)."""
        refiner = None if self.objective == "elbo" else self.refiner
        return forward_pass.forward(self.encoder, self.decoder, refiner, x, seed, training, tape)

    def objective_losses(self, terms, index, batch_size):
        """The objective's `Losses` for a forward pass, with each example's c."""
        layer = self.control_variate_layer
        values = tf.zeros([batch_size]) if layer is None else layer.lookup(index, batch_size)
        return objectives.LOSS_FUNCTIONS[self.objective](terms, values)

    def train_step(self, data):
        x, index = inputs.split_inputs(data)
        inputs.require_index(self, index)
        x = tf.cast(x, self.compute_dtype)
        batch_size = tf.shape(x)[0]
        terms, losses, info, grads = self._replica_step(
            x, index, self.seeds.next_training_seed())
        # What follows changes state and, under a strategy, needs the other replicas:
        # it stays outside the replica's compiled step (step_updates.py).
        values = step_updates.apply(self, terms, losses, info, grads, index, batch_size)
        return metrics.report(self._trackers, values, self._step_size_metric(info))

    def test_step(self, data):
        x, _ = inputs.split_inputs(data)
        x = tf.cast(x, self.compute_dtype)
        batch_size = tf.shape(x)[0]
        terms, info = self.forward(x, self.seeds.next_validation_seed(), training=False)
        # Validation examples have no training-set index: local control variates
        # report with their mean.
        losses = self.objective_losses(terms, None, batch_size)
        values = metrics.step_values(terms, losses, info, batch_size)
        logs = metrics.report(self._trackers, values, self._step_size_metric(info))
        return keras_workarounds.reducible_logs(logs)

    def _step_size_metric(self, info):
        return None if info is None else self.refiner.step_size

    def call(self, x, training=False):
        """The decoder's outputs (e.g. Bernoulli logits) at the encoder mean of `x`."""
        x, _ = inputs.split_inputs(x)
        mean, _ = self.encoder(x, training=training)
        return self.decoder(mean, training=training)

    def prepare_data(self, x, name, training=False):
        """Checks data by the decoder's support, and indices for local control variates."""
        return inputs.prepare(self, x, name, training)

    def start_evaluation(self):
        self.seeds.restart_validation()

    # ------------------------------------------------------------------ conveniences

    def encode(self, x):
        """`(mean, std)` of q(z | x)."""
        return self.encoder(inputs.checked_data(self, x))

    def decode(self, z):
        """E[x | z] (for Bernoulli data the pixel means), shape `(batch, *event_shape)`."""
        return self.decoder.mean(inputs.checked_latent(self, z))

    def sample(self, num_samples, seed=0):
        """E[x | z] at z ~ N(0, I), shape `(num_samples, *event_shape)`."""
        num_samples = validation.check_int(num_samples, "num_samples")
        z = mcmc.normal([num_samples, self.latent_dim], [seed, 1], self.compute_dtype)
        return self.decode(z)

    def reconstruct(self, x, refine=True, seed=0):
        """E[x | z] at the encoder mean of `x`, or at z_T if `refine`.

        With `refine=True`, z0 = mean + std * eps is refined by the model's HMC (no
        step-size adaptation) before decoding.
        """
        x = inputs.checked_data(self, x)
        if not refine:
            return self.decode(self.encode(x)[0])
        terms, _ = self.forward(x, mcmc.fold_in([seed, 2], 0), training=False)
        return self.decode(terms.z_t if terms.z_t is not None else terms.z0)

    # ------------------------------------------------------------------ config

    def get_config(self):
        config = super().get_config()
        config.update({key: keras.saving.serialize_keras_object(getattr(self, key))
                       for key in _LAYER_ARGUMENTS})
        config.update({key: getattr(self, key) for key in _PLAIN_ARGUMENTS})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in _LAYER_ARGUMENTS:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`keras.Model.load_weights`; older files load too (`weights_format.current_layout`)."""
        with weights_format.current_layout(filepath) as path:
            super().load_weights(path, skip_mismatch=skip_mismatch, **kwargs)

    @classmethod
    def from_preset(cls, name_or_dir, load_weights=True, **overrides):
        """Same as `keras_vcd.zoo.load`; refuses a preset that does not hold a `cls`.

        Example:

        >>> import keras_vcd as kv
        >>> kv.VCDModel.from_preset("vcd_mnist", load_weights=False).objective
        'vcd'
        """
        from keras_vcd import zoo

        return zoo.load(name_or_dir, load_weights=load_weights, expected_class=cls, **overrides)
