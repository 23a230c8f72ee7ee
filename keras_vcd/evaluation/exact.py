"""The exact log p(x) of a linear Gaussian model, against which the estimators are checked.

With p(z) = N(0, I) and p(x | z) = N(W z + b, diag s^2), the marginal is
N(x; b, C) with C = W W^T + diag s^2. Computed by Woodbury with the K x K matrix
M = I + W^T diag(s^-2) W instead of the D x D one:
C^-1 = S^-1 - S^-1 W M^-1 W^T S^-1 and log|C| = log|S| + log|M|, S = diag s^2.
"""

import numpy as np

from keras_vcd.layers.gaussian_decoder import GaussianDecoder


def linear_gaussian_parameters(decoder):
    """`(W, b, s)` of a `GaussianDecoder` whose network is one linear layer, as float64."""
    layers = getattr(decoder.network, "layers", [decoder.network])
    dense = layers[0] if len(layers) == 1 else None
    if not isinstance(decoder, GaussianDecoder) or dense is None or not hasattr(dense, "kernel") \
            or getattr(dense, "activation", None).__name__ != "linear" \
            or len(decoder.event_shape) != 1:
        raise ValueError(
            "The exact log-likelihood needs a GaussianDecoder whose network is one linear "
            f"Dense layer on flat data (a linear Gaussian model); received {decoder!r}."
        )
    w = np.asarray(dense.kernel.numpy(), np.float64).T  # (D, K)
    b = (np.asarray(dense.bias.numpy(), np.float64) if dense.use_bias
         else np.zeros(w.shape[0]))
    scale = decoder.scale_values().numpy()
    s = np.broadcast_to(np.asarray(scale, np.float64), (w.shape[0],))
    return w, b, s


def exact_log_likelihood(model, x):
    """log p(x) per example of a linear Gaussian model, exactly (float64).

    Args:
        model: a `VCDModel` whose decoder is a `GaussianDecoder` with a linear network
            (`hidden_units=()`) and any scale: fixed (the reference's Gaussian matrix
            factorisation, `gaussian_mf_mnist`), `"learned"` (factor analysis) or
            `"learned_shared"` (probabilistic PCA).
        x: `(N, D)` data.

    Returns:
        `(N,)` log densities.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, ()),
    ...                     kv.GaussianDecoder(output_dim=3, hidden_units=(),
    ...                                        scale="learned_shared"))
    >>> model.build()
    >>> kv.evaluation.exact_log_likelihood(model, np.zeros((4, 3), "float32")).shape
    (4,)
    """
    w, b, s = linear_gaussian_parameters(model.decoder)
    x = model.decoder.check_data(x).astype(np.float64) - b
    inv_var = 1.0 / s**2                                   # S^-1, diagonal
    m = np.eye(w.shape[1]) + (w.T * inv_var) @ w           # I + W^T S^-1 W
    chol = np.linalg.cholesky(m)
    projected = np.linalg.solve(chol, ((x * inv_var) @ w).T)  # L^-1 W^T S^-1 x, (K, N)
    quadratic = (x**2 * inv_var).sum(1) - (projected**2).sum(0)
    log_det = np.log(s**2).sum() + 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (quadratic + log_det + len(s) * np.log(2.0 * np.pi))
