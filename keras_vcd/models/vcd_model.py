"""`VCDModel`: a VAE whose latent samples are refined by HMC, trained by VCD."""

import contextlib

import numpy as np
import keras
import tensorflow as tf

from keras_vcd import mcmc, optimizers, validation
from keras_vcd.layers import Decoder, GaussianEncoder, HMCRefine
from keras_vcd.models import objectives
from keras_vcd.models.control_variates import make_control_variate
from keras_vcd.models.metrics import LastValue
from keras_vcd.distribute import keras_workarounds
from keras_vcd.distribute.replicas import all_replicas_true, replica_id

_HMC_METRICS = ("log_lik_qt", "stoch_vcd", "hmc_accept_rate")
# Steps run per call into the compiled function: removes the per-step host round trip.
DEFAULT_STEPS_PER_EXECUTION = 10


def split_inputs(data):
    """Returns `(x, index)` from a batch: an array, `(x,)`, or `{"x", "index"}`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict):
        if "x" not in x:
            raise ValueError(f"A dict batch needs the key 'x'; received keys {sorted(x)}.")
        return x["x"], x.get("index")
    return x, None


@keras.saving.register_keras_serializable(package="keras_vcd")
class VCDModel(keras.Model):
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
            `"vcd"` only.
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
        if objective not in objectives.OBJECTIVES:
            raise ValueError(
                f"Unknown objective {objective!r}; expected one of {list(objectives.OBJECTIVES)}."
            )
        if not isinstance(encoder, GaussianEncoder):
            raise ValueError(
                f"encoder must be a keras_vcd.GaussianEncoder, received {encoder!r}. To use "
                "your own network, wrap it: GaussianEncoder(latent_dim=..., "
                "mean_network=my_net, std_network=my_other_net)."
            )
        if not isinstance(decoder, Decoder):
            raise ValueError(
                f"decoder must be a keras_vcd.layers.Decoder, received {decoder!r}. Wrap "
                "your network in one (e.g. BernoulliDecoder(output_shape=..., "
                "network=my_net)) or subclass Decoder for another likelihood."
            )
        self.encoder = encoder
        self.decoder = decoder
        self.refiner = refiner if refiner is not None else HMCRefine()
        self.objective = objective
        self.control_variate_kind = control_variate
        self.num_train_examples = num_train_examples
        self.local_warmup_steps = local_warmup_steps
        self.control_variate_decay = control_variate_decay
        self.seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
        cv = make_control_variate(
            control_variate, num_train_examples, local_warmup_steps, control_variate_decay
        )
        self.control_variate = cv if objective == "vcd" else None
        self._trackers = [keras.metrics.Mean(name="loss"), keras.metrics.Mean(name="elbo")]
        if objective != "elbo":
            self._trackers += [keras.metrics.Mean(name=n) for n in _HMC_METRICS]
            self._trackers.append(LastValue(name="hmc_step_size"))
        self.event_shape = decoder.event_shape
        self.input_dim = decoder.output_dim
        self.latent_dim = encoder.latent_dim
        # Counts random draws; saved with the weights, so a resumed run continues the
        # same random stream.
        self.rng_counter = self.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False,
            name="rng_counter", aggregation="only_first_replica",
        )
        # Counts validation batches within one evaluation, which draws from a stream
        # of its own, so that validating never moves the training stream.
        self._validation_counter = self.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False,
            name="validation_counter", aggregation="only_first_replica",
        )

    # ------------------------------------------------------------------ building

    def build(self, input_shape=None):
        sublayers = [
            (self.encoder, (None, *self.event_shape)),
            (self.decoder, (None, self.latent_dim)),
            (self.refiner, (None, self.latent_dim)),
            (self.control_variate, None),
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

    def _parameter_groups(self):
        """{group name: (optimizer, variables)}: "decoder", "encoder_mean", "encoder_std"."""
        return {
            "decoder": (self.decoder_optimizer, self.decoder.trainable_variables),
            "encoder_mean": (self.encoder_mean_optimizer,
                             self.encoder.mean_network.trainable_variables),
            "encoder_std": (self.encoder_std_optimizer,
                            self.encoder.std_network.trainable_variables),
        }

    def _build_optimizers(self):
        if not (self.built or self.encoder.built) or not hasattr(self, "decoder_optimizer"):
            return
        for optimizer, variables in self._parameter_groups().values():
            optimizer.build(variables)

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

        Under a `tf.distribute` strategy with more than one replica (model made
        and compiled in `strategy.scope()`), `jit_compile` compiles each replica's
        share of the step (encoder, HMC chain, losses, gradients) with XLA, and the
        reductions between replicas run outside it: XLA cannot compile them on CPUs.
        One step runs per execution there, with a warning if more were asked for:
        Keras's multi-step loop fails under `MirroredStrategy`
        (keras-team/keras#19246). The values asked for are what
        `get_compile_config` saves, so a model loaded on one device gets them back.
        """
        per_group = {"decoder": decoder_optimizer, "encoder_mean": encoder_mean_optimizer,
                     "encoder_std": encoder_std_optimizer}
        if optimizer is not None and any(v is not None for v in per_group.values()):
            raise ValueError(
                "Give optimizer (one for all groups, or a dict keyed by group) or the "
                "per-group decoder_optimizer/encoder_mean_optimizer/encoder_std_optimizer, "
                "not both."
            )
        if optimizer is None:
            optimizer = {group: value for group, value in per_group.items()
                         if value is not None}
        groups = optimizers.group_optimizers(optimizer)
        self.decoder_optimizer = groups["decoder"]
        self.encoder_mean_optimizer = groups["encoder_mean"]
        self.encoder_std_optimizer = groups["encoder_std"]
        execution, replica_jit = keras_workarounds.distributed_execution(
            self.distribute_strategy, steps_per_execution, jit_compile)
        super().compile(optimizer=self.decoder_optimizer, **execution,
                        run_eagerly=run_eagerly)
        self._replica_step = (tf.function(self._gradients, jit_compile=True)
                              if replica_jit and not run_eagerly else self._gradients)
        self._vcd_compile_config = {
            "decoder_optimizer": self.decoder_optimizer,
            "encoder_mean_optimizer": self.encoder_mean_optimizer,
            "encoder_std_optimizer": self.encoder_std_optimizer,
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
        }
        self._build_optimizers()

    def get_compile_config(self):
        if not getattr(self, "_vcd_compile_config", None):
            return None
        return {k: keras.saving.serialize_keras_object(v)
                for k, v in self._vcd_compile_config.items()}

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})

    def summary(self, *args, **kwargs):
        """`keras.Model.summary`, plus the parameters of all three groups' optimizers.

        Keras knows one optimizer per model (`model.optimizer`, here the decoder's),
        so its "Optimizer params" line counts that one only.
        """
        super().summary(*args, **kwargs)
        if getattr(self, "decoder_optimizer", None) is None:
            return
        counts = {group: sum(int(np.prod(v.shape)) for v in optimizer.variables)
                  for group, (optimizer, _) in self._parameter_groups().items()}
        print_fn = kwargs.get("print_fn") or print
        print_fn(f" Optimizer params, all three groups: {sum(counts.values()):,} ("
                 + ", ".join(f"{group} {count:,}" for group, count in counts.items()) + ")")

    @property
    def metrics(self):
        return list(self._trackers)

    # ------------------------------------------------------------------ the model

    def log_joint(self, x, z):
        """log p(x, z) per example: the decoder's likelihood plus the standard normal prior."""
        return objectives.log_joint(self.decoder.log_likelihood(x, z), z)

    def _next_seed(self):
        """A fresh seed per step and replica; the counter is saved, so resumes repeat."""
        seed = mcmc.fold_in(mcmc.fold_in([self.seed, 0], self.rng_counter), replica_id())
        self.rng_counter.assign_add(1)
        return seed

    def _next_validation_seed(self):
        """A seed per validation batch and replica, from the training position.

        It reads `rng_counter` without moving it, so an evaluation between epochs
        leaves later training steps unchanged, and the same evaluation at the same
        point of training (in a resumed run too) draws the same noise.
        """
        seed = mcmc.fold_in(mcmc.fold_in([self.seed, 1], self.rng_counter),
                            self._validation_counter)
        self._validation_counter.assign_add(1)
        return mcmc.fold_in(seed, replica_id())

    def forward(self, x, seed, training=False, tape=None):
        """One forward pass of the objective: encoder, reparameterised z0, HMC to z_T.

        Training, evaluation and the diagnostics all compute their terms here.

        Args:
            x: `(batch, input_dim)` data.
            seed: shape-`[2]` integer seed of this pass's noise (eps and HMC).
            training: adapt the HMC step size along the chain (and run layers in
                training mode). The adapted value is returned, not stored:
                `train_step` stores it with `refiner.update_step_size`.
            tape: the `tf.GradientTape` recording this call, if any; the HMC chain is
                kept off it (z_T is a constant for every loss).

        Returns:
            `(terms, info)`: an `objectives.ForwardTerms` and the refiner's info
            dict (see `HMCRefine.refine`), both with `None` for the HMC parts under
            `objective="elbo"`.

        Example:

        >>> import numpy as np, keras_vcd as kv
        >>> model = kv.zoo.load("vcd_mnist", load_weights=False)
        >>> terms, info = model.forward(np.zeros((2, 784), "float32"), seed=[0, 1])
        >>> tuple(terms.z_t.shape), sorted(info)
        ((2, 10), ['accept_rate', 'step_size', 'target_log_prob'])
        """
        mean, std = self.encoder(x, training=training)
        eps = mcmc.normal(tf.shape(mean), mcmc.fold_in(seed, 0), mean.dtype)
        z0 = mean + std * eps
        log_joint_z0 = self.log_joint(x, z0)
        if self.objective == "elbo":
            return objectives.ForwardTerms(mean, std, eps, z0, log_joint_z0, None, None), None
        # z_T is a constant for everything that follows: keep the sampler off the
        # gradient tape (recording its while loop would also break XLA compilation).
        with tape.stop_recording() if tape is not None else contextlib.nullcontext():
            z_t, info = self.refiner.refine(
                z0, lambda z: self.log_joint(x, z), mcmc.fold_in(seed, 1), adapt=training,
            )
        terms = objectives.ForwardTerms(
            mean, std, eps, z0, log_joint_z0, z_t, self.log_joint(x, z_t)
        )
        return terms, info

    def _objective_losses(self, terms, index, batch_size):
        if self.control_variate is None:
            control_variate = tf.zeros([batch_size])
        else:
            control_variate = self.control_variate.lookup(index, batch_size)
        return objectives.LOSS_FUNCTIONS[self.objective](terms, control_variate)

    def _update_metrics(self, terms, losses, info, batch_size):
        values = {
            "loss": losses.total / tf.cast(batch_size, losses.total.dtype),
            "elbo": tf.reduce_mean(objectives.elbo_per_example(terms)),
        }
        if info is not None:
            values.update(
                log_lik_qt=tf.reduce_mean(terms.log_joint_zt),
                stoch_vcd=tf.reduce_mean(objectives.stochastic_vcd(terms)),
                hmc_accept_rate=info["accept_rate"],
                hmc_step_size=self.refiner.step_size,
            )
        for tracker in self._trackers:
            tracker.update_state(values[tracker.name])
        return {tracker.name: tracker.result() for tracker in self._trackers}

    def _check_index(self, index):
        if self.control_variate_kind == "local" and self.objective == "vcd" and index is None:
            raise ValueError(
                "control_variate='local' needs each example's index in the training set; "
                "fit on keras_vcd.datasets.with_indices(x) (a dict {'x': ..., 'index': ...})."
            )

    def train_step(self, data):
        x, index = split_inputs(data)
        self._check_index(index)
        x = tf.cast(x, self.compute_dtype)
        batch_size = tf.shape(x)[0]
        terms, losses, info, gradients = self._replica_step(x, index, self._next_seed())
        # What follows changes state and, under a strategy, talks to the other
        # replicas: it stays outside the replica's compiled step.
        if info is not None:
            self.refiner.update_step_size(info["step_size"])
        gradients = _zero_if_not_finite(gradients, [losses.encoder, losses.decoder])
        start = 0
        for optimizer, variables in self._parameter_groups().values():
            optimizer.apply(gradients[start:start + len(variables)], variables)
            start += len(variables)
        if self.control_variate is not None:
            self.control_variate.update(tf.stop_gradient(objectives.f_of_z_t(terms)), index)
        logs = self._update_metrics(terms, losses, info, batch_size)
        return keras_workarounds.reducible_logs(logs)

    def _gradients(self, x, index, seed):
        """One replica's share of a training step, without side effects.

        The forward pass, the losses and the gradients of every parameter group (in
        `_parameter_groups` order). It reads the model's state and changes none, and
        holds no cross-replica reduction, so under a multi-replica strategy it runs
        XLA-compiled on each replica (`_replica_step`).
        """
        batch_size = tf.shape(x)[0]
        with tf.GradientTape(persistent=True) as tape:
            terms, info = self.forward(x, seed, training=True, tape=tape)
            losses = self._objective_losses(terms, index, batch_size)
        groups = self._parameter_groups()
        decoder_variables = groups["decoder"][1]
        encoder_variables = groups["encoder_mean"][1] + groups["encoder_std"][1]
        if losses.shared:
            gradients = tape.gradient(losses.encoder, decoder_variables + encoder_variables)
        else:
            gradients = (tape.gradient(losses.decoder, decoder_variables)
                         + tape.gradient(losses.encoder, encoder_variables))
        del tape
        return terms, losses, info, gradients

    def test_step(self, data):
        x, _ = split_inputs(data)
        x = tf.cast(x, self.compute_dtype)
        batch_size = tf.shape(x)[0]
        terms, info = self.forward(x, self._next_validation_seed(), training=False)
        # Validation examples have no training-set index: local control variates
        # report with their mean.
        losses = self._objective_losses(terms, None, batch_size)
        logs = self._update_metrics(terms, losses, info, batch_size)
        return keras_workarounds.reducible_logs(logs)

    def call(self, inputs, training=False):
        """The decoder's outputs (e.g. Bernoulli logits) at the encoder mean of `x`."""
        x, _ = split_inputs(inputs)
        mean, _ = self.encoder(x, training=training)
        return self.decoder(mean, training=training)

    # ------------------------------------------------------------------ fit & co.

    def _prepare(self, x, name):
        """Validates user data by the decoder's support; returns it ready for Keras."""
        if isinstance(x, tf.data.Dataset):
            x = self.decoder.check_dataset(x, name=name)
            if self.control_variate_kind == "local" and isinstance(x.element_spec, dict) \
                    and "index" in x.element_spec:
                x = validation.check_dataset_indices(x, self.num_train_examples, name=name)
            return x
        if isinstance(x, dict):
            if "x" not in x:
                raise ValueError(f"{name} as a dict needs the key 'x'; received {sorted(x)}.")
            checked = dict(x, x=self.decoder.check_data(x["x"], name=f"{name}['x']"))
            if "index" in x and self.control_variate_kind == "local":
                checked["index"] = validation.check_indices(
                    x["index"], self.num_train_examples, len(checked["x"]), name=f"{name}['index']"
                )
            return checked
        return self.decoder.check_data(x, name=name)

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` on unlabelled data (arrays, dicts or `tf.data`), validated first."""
        batch_size = kwargs.get("batch_size")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"batch_size must be an int >= 1, received {batch_size!r}.")
        x = self._prepare(x, "x")
        if validation_data is not None:
            validation_data = self._prepare(validation_data, "validation_data")
        if isinstance(x, dict) and self.control_variate_kind == "local" and "index" not in x:
            self._check_index(None)
        self._build_in_scope()
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """`keras.Model.evaluate` on unlabelled data, validated first."""
        x = self._prepare(x, "x")
        self._build_in_scope()
        self._validation_counter.assign(0)
        return super().evaluate(x, y, **kwargs)

    # ------------------------------------------------------------------ weights files

    def _saved_variables(self):
        # The validation counter restarts with every evaluation: it is not training
        # state, and leaving it out keeps every weights file written before it loading.
        return [v for v in self._trainable_variables + self._non_trainable_variables
                if v is not self._validation_counter]

    def save_own_variables(self, store):
        for i, variable in enumerate(self._saved_variables()):
            store[str(i)] = variable

    def load_own_variables(self, store):
        variables = self._saved_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"{self.name} expected {len(variables)} variables of its own "
                f"({[v.name for v in variables]}), but the weights file has "
                f"{len(store.keys())}; it was written by another model."
            )
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])

    def _build_in_scope(self):
        """Builds the weights (and optimizer slots) under the model's strategy, if any."""
        if not self.built:
            with self.distribute_strategy.scope():
                self.build()

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (TF backend, under a strategy) builds from a first batch that it reduces
        # with strategy.reduce, which fails on dict batches under
        # MultiWorkerMirroredStrategy. fit/evaluate have built everything already.
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ------------------------------------------------------------------ helpers

    # Every entry point validates before anything is built, so that a wrong call
    # raises a clear error and leaves the model as it was.

    def _checked_latent(self, z):
        z = tf.convert_to_tensor(z, self.compute_dtype)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (num_codes, {self.latent_dim}); received shape {z.shape}."
            )
        self._build_in_scope()
        return z

    def encode(self, x):
        """`(mean, std)` of q(z | x)."""
        x = self.decoder.check_data(x)
        self._build_in_scope()
        return self.encoder(tf.convert_to_tensor(x, self.compute_dtype))

    def decode(self, z):
        """E[x | z] (for Bernoulli data the pixel means), shape `(batch, *event_shape)`."""
        return self.decoder.mean(self._checked_latent(z))

    def sample(self, num_samples, seed=0):
        """E[x | z] at z ~ N(0, I), shape `(num_samples, *event_shape)`."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, received {num_samples!r}.")
        z = mcmc.normal([int(num_samples), self.latent_dim], [seed, 1], self.compute_dtype)
        return self.decode(z)

    def predict(self, x, **kwargs):
        """The decoder's outputs at the encoder mean (see `call`), validated first."""
        x = self._prepare(x, "x")
        self._build_in_scope()
        return super().predict(x, **kwargs)

    def reconstruct(self, x, refine=True, seed=0):
        """E[x | z] at the encoder mean of `x`, or at z_T if `refine`.

        With `refine=True`, z0 = mean + std * eps is refined by the model's HMC (no
        step-size adaptation) before decoding.
        """
        x = self.decoder.check_data(x)
        self._build_in_scope()
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if not refine:
            return self.decode(self.encode(x)[0])
        terms, _ = self.forward(x, mcmc.fold_in([seed, 2], 0), training=False)
        return self.decode(terms.z_t if terms.z_t is not None else terms.z0)

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            refiner=keras.saving.serialize_keras_object(self.refiner),
            objective=self.objective,
            control_variate=self.control_variate_kind,
            num_train_examples=self.num_train_examples,
            local_warmup_steps=self.local_warmup_steps,
            control_variate_decay=self.control_variate_decay,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_preset(cls, name_or_dir, load_weights=True, **overrides):
        """Same as `keras_vcd.zoo.load`: a preset's model with verified weights.

        Example:

        >>> import keras_vcd as kv
        >>> kv.VCDModel.from_preset("vcd_mnist", load_weights=False).objective
        'vcd'
        """
        from keras_vcd import zoo

        return zoo.load(name_or_dir, load_weights=load_weights, **overrides)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "refiner"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _zero_if_not_finite(gradients, losses):
    """Drops a whole update (all gradients zero) if any gradient or loss is NaN or Inf.

    One bad batch (e.g. an overflow in exp) then costs one step instead of poisoning
    every weight. A zero gradient leaves the weights where they are under
    `ReferenceRMSprop` (only its running average decays).
    """
    finite = tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(t)) for t in list(gradients) + list(losses)]
    )
    # Under tf.distribute every replica drops the update if any replica must, as one
    # device would on the whole global batch.
    finite = all_replicas_true(finite)
    return [tf.where(finite, g, tf.zeros_like(g)) for g in gradients]
