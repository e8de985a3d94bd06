"""Golden vectors for qtl's quantization-aware training (include/qtl/qat/) from torch autograd.

    python tests/golden/qat_vectors.py [--out DIR]

Writes qat.qtlg. Exits 77 (skip) when torch is not installed at its pinned version
(tests/golden/requirements-torch.txt).

Each method is written here in torch the way QAT code writes it: the forward of the paper,
the straight-through estimator as `x + (q(x) - x).detach()` (or torch's own
fake_quantize_per_channel_affine for the clipped estimator), and autograd for every
gradient, of the input and of the method's learned parameters. The inputs are float32 from
numpy's default_rng and are stored with the results (`<case>/x`, `<case>/dy` the upstream
gradient), so the C++ test (tests/qat/qat_golden_test.cpp) feeds the same numbers. One thread.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the QAT golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("torch")


def ste(x, q):
    """q's value, x's gradient."""
    return x + (q - x).detach()


def sign(x):
    """The binary networks' sign: +1 at 0."""
    return torch.where(x >= 0, 1.0, -1.0)


def straight_through_clipped(x, scale):
    """torch's own clipped estimator: int4 symmetric (codes -7..7) in groups of 32, the
    group scales given (narrower than the data, so some elements clip)."""
    groups = x.reshape(-1, 32)
    zero = torch.zeros(groups.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(groups, scale, zero, 0, -7, 7).reshape(x.shape)


def lsq(x, s, beta, lowest, highest, features):
    """LSQ / LSQ+ as the LSQ paper's listing writes it (gradient scale on s and β, round
    through the straight-through estimator, clamp passing the gradient at its bounds)."""
    g = 1.0 / np.sqrt(features * highest)
    s = (s - s * g).detach() + s * g
    beta = (beta - beta * g).detach() + beta * g
    v = torch.clamp((x - beta) / s, lowest, highest)
    return ste(v, torch.round(v)) * s + beta


def pact(x, alpha, bits):
    """PACT: y = clamp(x, 0, α) as the paper's piecewise form, quantized with the step α / (2^b - 1)
    held constant (the paper's straight-through estimator)."""
    y = torch.where(x >= alpha, alpha, torch.where(x >= 0, x, torch.zeros_like(x)))
    step = (alpha / (2 ** bits - 1)).detach()
    return ste(y, torch.round(y / step) * step)


def quantize_unit(r, bits):
    levels = float(2 ** bits - 1)
    return ste(r, torch.round(r * levels) / levels)


def dorefa_weights(x, bits):
    if bits == 1:
        return ste(x, sign(x) * x.abs().mean().detach())
    t = torch.tanh(x)
    r = t / t.abs().max() * 0.5 + 0.5
    return 2 * quantize_unit(r, bits) - 1


def dorefa_activations(x, bits):
    return quantize_unit(torch.clamp(x, 0.0, 1.0), bits)


def dorefa_gradients(g, noise, bits):
    levels = float(2 ** bits - 1)
    m = g.abs().amax(dim=1, keepdim=True)
    v = torch.clamp(g / m * 0.5 + 0.5 + noise / levels, 0.0, 1.0)
    return (torch.round(v * levels) / levels - 0.5) * m * 2


def bitnet_weights(w):
    """BitNet b1.58's weight_quant with the straight-through estimator."""
    scale = 1.0 / w.abs().mean().clamp(min=1e-5)
    return ste(w, (w * scale).round().clamp(-1, 1) / scale)


def bitnet_activations(x):
    """BitNet b1.58's activation_quant (per token) with the straight-through estimator."""
    scale = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return ste(x, (x * scale).round().clamp(-128, 127) / scale)


def xnor(x):
    """β · sign(x) per row, β = mean|x| (differentiated), sign's estimator clipped to |x| <= 1."""
    clipped = torch.clamp(x, -1.0, 1.0)
    return x.abs().mean(dim=1, keepdim=True) * ste(clipped, sign(x))


def abc_net(x, bases):
    """Σ α_i sign(x - mean + u_i std), α from least squares (constant), each sign straight through."""
    flat = x.detach().reshape(-1)
    mean, std = flat.mean(), flat.std(unbiased=False)
    u = [0.0] if bases == 1 else [-1.0 + 2.0 * i / (bases - 1) for i in range(bases)]
    b = torch.stack([sign(flat - mean + ui * std) for ui in u], dim=1)
    alpha = torch.linalg.lstsq(b.double(), flat.double().unsqueeze(1)).solution.squeeze(1)
    y = sum(float(a) * ste(x, sign(x - mean + ui * std)) for a, ui in zip(alpha, u))
    return y, alpha


def twn(x):
    delta = 0.7 * x.abs().mean()
    kept = x.abs() > delta
    alpha = x.abs()[kept].mean()
    return ste(x, torch.where(kept, alpha * sign(x), torch.zeros_like(x)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(21)
    arrays = {}

    def tensor(shape, scale=1.0, shift=0.0):
        return (rng.standard_normal(shape) * scale + shift).astype(np.float32)

    def record(name, x, forward, params=(), **extra):
        """Runs forward on x (and the learned params), backpropagates a random dy, stores all."""
        xt = torch.from_numpy(x).requires_grad_(True)
        pt = [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in params]
        y = forward(xt, *pt)
        dy = tensor(x.shape)
        y.backward(torch.from_numpy(dy))
        arrays[f"{name}/x"] = x
        arrays[f"{name}/dy"] = dy
        arrays[f"{name}/y"] = y.detach().numpy()
        arrays[f"{name}/dx"] = xt.grad.numpy()
        if pt:
            arrays[f"{name}/dparams"] = np.array([p.grad.item() for p in pt], dtype=np.float32)
        arrays.update({f"{name}/{k}": v for k, v in extra.items()})

    # The clipped straight-through estimator over given group scales (0.6 x absmax / 7).
    x = tensor((8, 64))
    scale = (np.abs(x.reshape(-1, 32)).max(axis=1) * 0.6 / 7).astype(np.float32)
    record("ste_int4_g32_clipped", x, lambda v: straight_through_clipped(v, torch.from_numpy(scale)), scale=scale)

    # LSQ: signed 3-bit weights, its initial step; LSQ+: unsigned 4-bit activations with an offset.
    x = tensor((16, 32), 0.05)
    step = np.float32(2 * np.abs(x).astype(np.float64).mean() / np.sqrt(3))
    record("lsq_w3", x, lambda v, s: lsq(v, s, torch.tensor(0.0), -4, 3, x.size), params=(step,))
    x = tensor((8, 48), 1.0, 0.3)
    record("lsq_plus_a4", x, lambda v, s, b: lsq(v, s, b, 0, 15, x.size), params=(np.float32(0.17), np.float32(-1.1)))

    # PACT, 4 bits, α = 1.5: negative, inside and above α.
    x = tensor((8, 48), 1.2, 0.4)
    record("pact_a4", x, lambda v, a: pact(v, a, 4), params=(np.float32(1.5),))

    # DoReFa: weights at 1, 2 and 4 bits (tanh saturates on the outliers), activations, gradients.
    for bits in (1, 2, 4):
        x = tensor((12, 40), 0.8)
        x[0, :3] = [4.0, -4.0, 4.0]  # three ties for max|tanh|: torch splits that gradient evenly
        record(f"dorefa_w{bits}", x, lambda v, b=bits: dorefa_weights(v, b))
    x = tensor((8, 48), 0.6, 0.4)
    record("dorefa_a3", x, lambda v: dorefa_activations(v, 3))
    g = tensor((6, 40), 1e-3)
    noise = (rng.random((6, 40)) - 0.5).astype(np.float32)
    arrays["dorefa_g4/x"] = g
    arrays["dorefa_g4/noise"] = noise
    arrays["dorefa_g4/y"] = dorefa_gradients(torch.from_numpy(g), torch.from_numpy(noise), 4).numpy()

    # BitNet b1.58.
    record("bitnet_weights", tensor((32, 64), 0.02), bitnet_weights)
    record("bitnet_activations", tensor((8, 64), 2.0), bitnet_activations)

    # Binary and ternary.
    record("xnor", tensor((8, 48), 0.8), xnor)
    for bases in (1, 3, 5):
        x = tensor((16, 32), 0.1)
        alphas = {}

        def abc(v, m=bases):
            y, alpha = abc_net(v, m)
            alphas["a"] = alpha
            return y
        record(f"abc_net_{bases}", x, abc)
        arrays[f"abc_net_{bases}/alphas"] = alphas["a"].numpy()
    record("twn", tensor((16, 32), 0.1), twn)
    x = tensor((16, 32), 0.1)

    record("ttq", x, ttq_latent, params=(np.float32(0.8), np.float32(1.2)))

    # LoRA on a frozen base: int8 codes times a per-row scale (exact in float32), rank 4, alpha 8.
    codes = rng.integers(-127, 128, (24, 40)).astype(np.int8)
    row_scale = (rng.random(24) * 0.01 + 0.001).astype(np.float32)
    base = torch.from_numpy(codes.astype(np.float32) * row_scale[:, None])
    bias = torch.from_numpy(tensor(24, 0.1))
    lora_a, lora_b = tensor((4, 40), 0.1), tensor((24, 4), 0.1)
    a = torch.from_numpy(lora_a).requires_grad_(True)
    b = torch.from_numpy(lora_b).requires_grad_(True)
    x = torch.from_numpy(tensor((6, 40))).requires_grad_(True)
    y = torch.nn.functional.linear(x, base, bias) + (x @ a.T @ b.T) * (8.0 / 4)
    dy = tensor((6, 24))
    y.backward(torch.from_numpy(dy))
    arrays.update({"lora/codes": codes, "lora/row_scale": row_scale, "lora/bias": bias.numpy(), "lora/a": lora_a,
                   "lora/b": lora_b, "lora/x": x.detach().numpy(), "lora/dy": dy, "lora/y": y.detach().numpy(),
                   "lora/dx": x.grad.numpy(), "lora/da": a.grad.numpy(), "lora/db": b.grad.numpy()})

    # INQ, 5 bits: portions 0.5, 0.75, 0.875, 1; between steps the free weights shrink by 0.9.
    w = tensor((16, 32), 0.1)
    arrays["inq_5/x"] = w.copy()
    frozen = np.zeros(w.size, bool)
    s = np.abs(w).max()
    n1 = int(np.floor(np.log2(4 * s / 3)))
    n2 = n1 + 1 - 2 ** (5 - 1) // 2
    levels = 2.0 ** np.arange(n2, n1 + 1)
    for step, portion in enumerate((0.5, 0.75, 0.875, 1.0)):
        flat = w.reshape(-1)
        free = np.flatnonzero(~frozen)
        order = free[np.argsort(-np.abs(flat[free]), kind="stable")]
        now = min(len(free), int(round(portion * w.size)) - int(frozen.sum()))
        for i in order[:now]:
            a = abs(float(flat[i]))
            fits = [b for b in levels if a >= 0.75 * b]
            level = max(fits) if fits else (levels[0] if a >= levels[0] / 2 else 0.0)
            flat[i] = np.float32(np.copysign(level, flat[i]))
            frozen[i] = True
        arrays[f"inq_5/w{step}"] = w.copy()
        arrays[f"inq_5/frozen{step}"] = frozen.reshape(w.shape).astype(np.uint8)
        w[~frozen.reshape(w.shape)] *= np.float32(0.9)

    write_golden(os.path.join(args.out, "qat.qtlg"), arrays)


def ttq_latent(v, wp, wn):
    """TTQ: Wp above Δ, -Wn below -Δ, 0 between; the latent weights' gradient scaled by Wp, 1, Wn."""
    delta = 0.05 * v.abs().max().detach()
    pos, neg = (v > delta).float(), (v < -delta).float()
    mid = 1.0 - pos - neg
    # value: Wp·pos - Wn·neg; gradient of v: Wp·pos + mid + Wn·neg (the paper's eq. 8)
    through = v * (wp.detach() * pos + mid + wn.detach() * neg)
    return (wp * pos - wn * neg) + through - through.detach()


if __name__ == "__main__":
    main()
