"""Experiment template: a small denoising diffusion model (DDPM, Ho, Jain & Abbeel 2020) learns a
2D point cloud; how close its samples come to held-out points of the same cloud is the measure.

The model is an MLP that predicts the noise added to a training point at a diffusion step
(``Model(x_t, t)``, x_t [batch, 2], t [batch] integers in [0, DIFFUSION_STEPS)); training
minimises ``loss_fn`` for ``rung["steps"]`` steps on random batches of the training points;
the fixed part then draws ``SAMPLES`` points by ancestral sampling (Ho et al. 2020, algorithm 2)
through all the diffusion steps of the schedule, and returns them with the parameter count. The
host scores the samples against held-out points that never enter the container (a k-nearest-
neighbour KL estimate) and tests them for copies of the training points.

In a campaign only the code between ``# >>> EDIT <name>`` and ``# <<< EDIT <name>`` changes, by
SEARCH/REPLACE edits; everything else is fixed, and the host's static check keeps the blocks
from rebinding what the fixed part uses. The machinery that checks training changes only what
the optimizer trains, that sampling changes nothing, and that counts the parameters is
``template_fixed`` (mounted beside the runner).
"""

import math  # noqa: F401  (for the blocks: math.log, math.pi, ...)

import template_fixed
import torch
import torch.nn.functional as F
from torch import nn

# >>> EDIT hyperparameters
HIDDEN = 64
LAYERS = 3
LR = 3e-3
WEIGHT_DECAY = 0.0
BATCH = 256
DIFFUSION_STEPS = 100
BETA_START = 1e-4
BETA_END = 0.02
# <<< EDIT hyperparameters


# >>> EDIT schedule
def make_schedule(steps):
    """The noise variances beta_1 .. beta_T [steps]: linear, as in Ho et al. (2020)."""
    return torch.linspace(BETA_START, BETA_END, steps)


# <<< EDIT schedule


# >>> EDIT model
class Model(nn.Module):
    """Predicts the noise in x_t [batch, 2] at steps t [batch]: an MLP over the point and the
    step scaled to [0, 1)."""

    def __init__(self):
        super().__init__()
        layers = [nn.Linear(3, HIDDEN), nn.SiLU()]
        for _ in range(LAYERS - 1):
            layers.extend([nn.Linear(HIDDEN, HIDDEN), nn.SiLU()])
        layers.append(nn.Linear(HIDDEN, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, x, t):
        time = (t.float() / DIFFUSION_STEPS).unsqueeze(1)
        return self.net(torch.cat([x, time], dim=1))


# <<< EDIT model


# >>> EDIT optimizer
def make_optimizer(model):
    """AdamW over every parameter."""
    return torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)


# <<< EDIT optimizer


# >>> EDIT loss
def loss_fn(predicted, noise, t, x0, model):
    """The training loss of one batch: the mean squared error of the predicted noise
    (predicted, noise [batch, 2]; t [batch] the steps; x0 [batch, 2] the clean points)."""
    return F.mse_loss(predicted, noise)


# <<< EDIT loss

# ---- fixed from here on: the checked schedule, the training loop, the sampler ----
SAMPLES = 1000  # points drawn after training, scored against the host's held-out points
MAX_DIFFUSION_STEPS = 1000  # the sampler's budget: one pass of the model over SAMPLES per step
MAX_BATCH = 4096


def checked_setting(name, value, low, high):
    """``value`` as an int in [low, high], or ``RuleBroken`` naming the setting."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise template_fixed.RuleBroken(
            f"{name} is {value!r}; it must be an int in [{low}, {high}] (the budget)"
        )
    return value


def checked_schedule(steps):
    """``make_schedule(steps)`` as float64 betas [steps], each finite and in (0, 1)."""
    betas = make_schedule(steps)
    if not isinstance(betas, torch.Tensor) or tuple(betas.shape) != (steps,):
        raise ValueError(f"make_schedule({steps}) must return a tensor of shape [{steps}]")
    betas = betas.detach().to(torch.float64)
    if not bool(torch.isfinite(betas).all()) or not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError("make_schedule must give betas strictly between 0 and 1")
    return betas


def noised(x0, t, noise, alpha_bar):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise (the forward process)."""
    a = alpha_bar[t].unsqueeze(1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def sample(model, betas, generator):
    """Ancestral sampling from pure noise through every step of the schedule, sigma_t^2 =
    beta_t (Ho et al. 2020, algorithm 2). Returns float32 points [SAMPLES, 2]."""
    alphas = 1 - betas
    alpha_bar = torch.cumprod(alphas, 0)
    x = torch.randn((SAMPLES, 2), generator=generator, dtype=torch.float64)
    for step in range(len(betas) - 1, -1, -1):
        t = torch.full((SAMPLES,), step, dtype=torch.long)
        eps = model(x.float(), t)
        if not isinstance(eps, torch.Tensor) or tuple(eps.shape) != (SAMPLES, 2):
            raise ValueError(f"the model must return the noise as a [{SAMPLES}, 2] tensor")
        eps = eps.to(torch.float64)
        x = (x - betas[step] / (1 - alpha_bar[step]).sqrt() * eps) / alphas[step].sqrt()
        if step > 0:
            x = x + betas[step].sqrt() * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x.float()


def train_and_predict(inputs, rung, seed, checks):
    """Train for ``rung["steps"]`` steps on ``inputs["x_train"]`` [n, 2], then sample. Returns
    ({"samples": [SAMPLES, 2] float32}, the parameter count). ``checks["steps"]``: the training
    steps the host drew for the full check of ``template_fixed.Watch``."""
    steps = checked_setting("rung steps", int(rung["steps"]), 0, 10**7)
    diffusion_steps = checked_setting("DIFFUSION_STEPS", DIFFUSION_STEPS, 1, MAX_DIFFUSION_STEPS)
    batch = checked_setting("BATCH", BATCH, 1, MAX_BATCH)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x_train = torch.as_tensor(inputs["x_train"], dtype=torch.float32)
    betas = checked_schedule(diffusion_steps)
    alpha_bar = torch.cumprod(1 - betas, 0).float()
    model = Model()
    optimizer = make_optimizer(model)
    watch = template_fixed.Watch(model, optimizer, checks.get("steps", ()), SCRIPT)
    for step in range(steps):
        rows = torch.randint(len(x_train), (batch,), generator=generator)
        t = torch.randint(diffusion_steps, (batch,), generator=generator)
        noise = torch.randn((batch, 2), generator=generator)
        x0 = x_train[rows]
        xt = noised(x0, t, noise, alpha_bar)
        model.train()
        watch.before_step(step)
        loss = loss_fn(model(xt, t), noise, t, x0, model)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a tensor holding one number")
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(f"the training loss is {loss.item()} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        watch.after_backward()
        optimizer.step()
        watch.after_step(step)
    watch.after_step(steps, full=True)
    samples = template_fixed.guarded(model, lambda: sample(model, betas, generator), SCRIPT)
    return {"samples": samples.numpy()}, template_fixed.count_parameters(model, optimizer, SCRIPT)


SCRIPT = train_and_predict.__globals__  # the script's namespace, where the blocks' objects live
