#!/usr/bin/python3
"""Reference gradients of the spiking trainer (issue 18), written by PyTorch autograd into
tests/data/train/ for the C tests (llm.c's habit): a small feed-forward spiking network, its loss and
the gradients of every weight, bias and threshold, for each neuron model and surrogate.

The network (the semantics SpikeFormer's runtime runs, so that a trained model evaluates the same):
  i_1      = x W_1^T + b_1                        (x: the analog input, the same current every step)
  layer l  u_t = beta v_(t-1) + i_t               (v_0 = theta / 2; beta 1: IF)
           k_t = sum_(j=1..K) H(u_t - j theta)    (K = 1: one spike at most; K > 1: a burst)
           v_t = u_t - theta k_t                  (reset by subtraction; detached: the term carries
                                                   no gradient, as snnTorch and SpikingJelly do)
           s_t = theta k_t                        (the spike carries theta into the next layer)
           i_(l+1),t = s_t W_(l+1)^T + b_(l+1)
  readout  logits = (1/T) sum_t i_L,t             (the membrane decoder: the mean output current)
  loss     cross-entropy, mean over the batch, plus (rate_penalty lambda) lambda times the spikes per
           neuron per step, sum_(l,t) k / (B T N) (N: the neurons of all layers)
  surrogate dH(z)/dz replaced by g(z) (z = u - j theta):
           fast_sigmoid  1 / (1 + k |z|)^2                  (k = slope)
           atan          (a / 2) / (1 + (pi / 2 a z)^2)     (a = slope)
           sigmoid       k e^(-k z) / (1 + e^(-k z))^2
           triangle      max(0, a - a^2 |z|)                (SpikingJelly's PiecewiseQuadratic)
           straight_through  1

Writes one .npy per array: case_<name>_{x,y,w1,b1,...,theta1,...,loss,dw1,db1,...,dtheta1,...}.npy
kd_{z,t,loss,dz}.npy (distillation), qcfs_{loss,logits,dw*,db*,dtheta*}.npy (the ANN with QCFS
activations on case if_fast's weights, thresholds as clip levels, x and y), and cases.json (the settings of each case). Run: /usr/bin/python3 models/make_train_fixtures.py
"""
import json
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # the reference in double; the C side runs float
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "data", "train")


def surrogate(name, slope):
    def g(z):
        if name == "fast_sigmoid":
            return 1.0 / (1.0 + slope * z.abs()) ** 2
        if name == "atan":
            return (slope / 2) / (1 + (math.pi / 2 * slope * z) ** 2)
        if name == "sigmoid":
            e = torch.exp(-slope * z)
            return slope * e / (1 + e) ** 2
        if name == "triangle":
            return torch.clamp(slope - slope * slope * z.abs(), min=0)
        if name == "straight_through":
            return torch.ones_like(z)
        raise ValueError(name)

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return (z >= 0).to(z.dtype)

        @staticmethod
        def backward(ctx, gout):
            (z,) = ctx.saved_tensors
            return gout * g(z)

    return Spike.apply


def run(case, x, y, params, thetas):
    spike = surrogate(case["surrogate"], case["slope"])
    T, K, beta, detach = case["timesteps"], case["levels"], case["beta"], case["detach_reset"]
    Ws, bs = params[0::2], params[1::2]
    B = x.shape[0]
    i = x @ Ws[0].T + bs[0]                       # layer 1's current: the same every step
    vs = [th.expand(B, -1) / 2 for th in thetas]  # v_0 = theta / 2 (per neuron channel)
    out = 0
    count = 0
    for t in range(T):
        cur = i
        for l, th in enumerate(thetas):
            u = beta * vs[l] + cur
            k = sum(spike(u - j * th) for j in range(1, K + 1))
            count = count + k.sum()
            reset = th * k
            vs[l] = u - (reset.detach() if detach else reset)
            s = th * k
            cur = s @ Ws[l + 1].T + bs[l + 1]
        out = out + cur
    logits = out / T
    loss = torch.nn.functional.cross_entropy(logits, y)
    # the rate penalty: lambda times the spikes per neuron per step
    rate = case.get("rate_penalty", 0.0)
    if rate:
        loss = loss + rate * count / (B * T * sum(th.numel() for th in thetas))
    return loss, logits


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(7)
    sizes = [12, 9, 7, 5]   # input, two neuron layers, classes
    B = 4
    cases = [
        {"name": "if_fast", "beta": 1.0, "levels": 1, "surrogate": "fast_sigmoid", "slope": 5.0, "timesteps": 4, "detach_reset": True},
        {"name": "lif_fast", "beta": 0.9, "levels": 1, "surrogate": "fast_sigmoid", "slope": 5.0, "timesteps": 5, "detach_reset": True},
        {"name": "lif_attached", "beta": 0.8, "levels": 1, "surrogate": "fast_sigmoid", "slope": 3.0, "timesteps": 4, "detach_reset": False},
        {"name": "burst_atan", "beta": 1.0, "levels": 3, "surrogate": "atan", "slope": 2.0, "timesteps": 3, "detach_reset": True},
        {"name": "if_sigmoid", "beta": 1.0, "levels": 1, "surrogate": "sigmoid", "slope": 4.0, "timesteps": 4, "detach_reset": True},
        {"name": "lif_triangle", "beta": 0.95, "levels": 1, "surrogate": "triangle", "slope": 1.0, "timesteps": 4, "detach_reset": True},
        {"name": "if_straight", "beta": 1.0, "levels": 1, "surrogate": "straight_through", "slope": 1.0, "timesteps": 3, "detach_reset": True},
        {"name": "lif_rate", "beta": 0.9, "levels": 2, "surrogate": "fast_sigmoid", "slope": 4.0, "timesteps": 4, "detach_reset": False,
         "rate_penalty": 0.5},
    ]
    x = torch.tensor(rng.rand(B, sizes[0]))
    y = torch.tensor(rng.randint(0, sizes[-1], size=B))
    base = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        base.append(torch.tensor(rng.randn(b, a) * (1.5 / math.sqrt(a))))
        base.append(torch.tensor(rng.randn(b) * 0.3 + 0.2))
    base_th = [torch.tensor(rng.rand(n) * 0.5 + 0.6) for n in sizes[1:-1]]
    for case in cases:
        params = [p.clone().requires_grad_(True) for p in base]
        thetas = [t.clone().requires_grad_(True) for t in base_th]
        loss, logits = run(case, x, y, params, thetas)
        loss.backward()
        arrays = {"x": x, "y": y.to(torch.int64), "loss": loss.detach().reshape(1), "logits": logits.detach()}
        for l in range(len(sizes) - 1):
            arrays["w%d" % (l + 1)] = base[2 * l]
            arrays["b%d" % (l + 1)] = base[2 * l + 1]
            arrays["dw%d" % (l + 1)] = params[2 * l].grad
            arrays["db%d" % (l + 1)] = params[2 * l + 1].grad
        for l in range(len(thetas)):
            arrays["theta%d" % (l + 1)] = base_th[l]
            arrays["dtheta%d" % (l + 1)] = thetas[l].grad
        for k, v in arrays.items():
            v = v.detach().numpy()
            np.save(os.path.join(OUT, "case_%s_%s.npy" % (case["name"], k)), v.astype(np.int64 if k == "y" else np.float32))
        case["loss"] = float(loss)
        print(case["name"], "loss %.6f" % float(loss), "|dw1| %.4g" % float(params[0].grad.abs().max()))
    # qcfs (Bu et al. 2022): the same weights, thresholds as the clip levels lambda, the ANN with
    # h = lambda clip(floor(z L / lambda + 1/2) / L, 0, 1), the floor's gradient straight through
    # (floor(v) = v + (floor(v) - v).detach(), as their code's autograd), L = qcfs["levels"]
    qcfs = {"levels": 6}
    Lq = qcfs["levels"]
    params = [p.clone().requires_grad_(True) for p in base]
    lams = [t.clone().requires_grad_(True) for t in base_th]
    h = x
    margin = 1.0
    for l in range(len(sizes) - 1):
        z = h @ params[2 * l].T + params[2 * l + 1]
        if l == len(sizes) - 2:
            break
        v = z * Lq / lams[l] + 0.5
        margin = min(margin, float((v - torch.round(v)).abs().min()))  # (floor ties: none near)
        q = (v + (torch.floor(v) - v).detach()) / Lq
        h = lams[l] * torch.clamp(q, 0, 1)
    qloss = torch.nn.functional.cross_entropy(z, y)
    qloss.backward()
    print("qcfs loss %.6f, closest floor tie %.3g" % (float(qloss), margin))
    arrays = {"loss": qloss.detach().reshape(1), "logits": z.detach()}
    for l in range(len(sizes) - 1):
        arrays["dw%d" % (l + 1)] = params[2 * l].grad
        arrays["db%d" % (l + 1)] = params[2 * l + 1].grad
    for l in range(len(lams)):
        arrays["dtheta%d" % (l + 1)] = lams[l].grad
    for k, v in arrays.items():
        np.save(os.path.join(OUT, "qcfs_%s.npy" % k), v.detach().numpy().astype(np.float32))
    # the optimizers: three steps of PyTorch's AdamW and SGD (momentum, weight decay) on one tensor
    p0 = rng.randn(6)
    grads = rng.randn(3, 6)
    optims = {"adamw": (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}), "sgd": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01})}
    np.save(os.path.join(OUT, "optim_p0.npy"), p0.astype(np.float32))
    np.save(os.path.join(OUT, "optim_grads.npy"), grads.astype(np.float32))
    for name, (cls, kw) in optims.items():
        p = torch.tensor(p0.astype(np.float32).astype(np.float64), requires_grad=True)
        o = cls([p], **kw)
        for g in grads.astype(np.float32).astype(np.float64):
            p.grad = torch.tensor(g)
            o.step()
        np.save(os.path.join(OUT, "optim_%s_p3.npy" % name), p.detach().numpy().astype(np.float32))
    # distillation: alpha tau^2 KL(softmax(t / tau) || softmax(z / tau)), the mean over the batch
    # (torch.nn.functional.kl_div with reduction "batchmean"), and its gradient in the student's logits
    kd = {"alpha": 0.7, "temperature": 3.0}
    z = torch.tensor((rng.randn(5, 4) * 3).astype(np.float32).astype(np.float64), requires_grad=True)
    t = torch.tensor((rng.randn(5, 4) * 3).astype(np.float32).astype(np.float64))
    tau = kd["temperature"]
    kl = torch.nn.functional.kl_div(torch.log_softmax(z / tau, 1), torch.softmax(t / tau, 1), reduction="batchmean")
    kd_loss = kd["alpha"] * tau * tau * kl
    kd_loss.backward()
    for k, v in {"z": z.detach(), "t": t, "loss": kd_loss.detach().reshape(1), "dz": z.grad}.items():
        np.save(os.path.join(OUT, "kd_%s.npy" % k), v.numpy().astype(np.float32))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"sizes": sizes, "batch": B, "cases": cases, "optimizers": {k: v[1] for k, v in optims.items()}, "distillation": kd, "qcfs": qcfs}, f, indent=1)


if __name__ == "__main__":
    main()
