"""A training step's state changes, from one all-reduce over the replicas.

After each replica's compiled share of a step (`gradients.replica_gradients`), the
model's state moves: the HMC step size, the weights, the control variates, the
metrics. Under a strategy with several replicas each needs sums over the global
batch; a collective costs a round trip between workers whatever its size, so all
the sums travel in one `replicas.sum_over_replicas` (docs/distribute.md measures
it). With one replica the sums are this replica's own and the arithmetic is the
single-device step's, bit for bit.
"""

import tensorflow as tf

from keras_vcd import optimizers
from keras_vcd.distribute import replicas
from keras_vcd.models import metrics, objectives


def apply(model, terms, losses, info, grads, index, batch_size):
    """Moves `model`'s state by one training step; returns the step's metric values.

    Args:
        model: the `VCDModel`.
        terms, losses, info, grads: this replica's `replica_gradients` results.
        index: the batch's training-set indices (None without local control variates).
        batch_size: this replica's number of examples.

    Returns:
        `metrics.step_values` over the global batch (the same on every replica).
    """
    multi_replica = replicas.is_multi_replica()
    # The optimizers reduce the gradients themselves unless compile() let the step.
    sum_here = multi_replica and model._optimizers_take_summed_gradients
    values = metrics.step_values(terms, losses, info, batch_size)
    shares = {"not_finite": replicas.num_not_finite(grads + [losses.encoder, losses.decoder]),
              "gradients": grads if sum_here else [],
              "metrics": metrics.examples_weighted(values, batch_size) if multi_replica else {}}
    if info is not None:
        shares["step_size"] = replicas.batch_sum_and_count(info["step_size"])
    control_variate = model.control_variate_layer
    if control_variate is not None:
        f = tf.stop_gradient(objectives.f_of_z_t(terms))
        shares["control_variate"] = replicas.batch_sum_and_count(f)
    totals = replicas.sum_over_replicas(shares)
    if info is not None:
        model.refiner.update_step_size(info["step_size"], totals["step_size"])
    grads = replicas.zero_unless_all_finite(totals["gradients"] if sum_here else grads,
                                            totals["not_finite"])
    optimizers.apply_group_gradients(model.parameter_groups(), grads)
    if control_variate is not None:
        control_variate.update(f, index, totals["control_variate"])
    return metrics.global_values(totals["metrics"]) if multi_replica else values
