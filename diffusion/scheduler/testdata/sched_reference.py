"""Reference trajectories for package diffusion/scheduler.

Regenerate (from the repository root):

    /usr/bin/python3 diffusion/scheduler/testdata/sched_reference.py

diffusers is not installed where these goldens were made, so the schedulers
below are a PyTorch reimplementation of diffusers' DDIMScheduler,
PNDMScheduler (PLMS, skip_prk_steps), EulerDiscreteScheduler,
EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler
(dpmsolver++/dpmsolver, midpoint/heun, orders 1–3, Karras sigmas) and
LCMScheduler, written from their source (schedulers/scheduling_*.py) with
the same float32 tensors and numpy float64 steps, so that rounding follows
diffusers. Each case builds a scheduler from a config dict the way
Scheduler.from_config does (fields it lacks take the class's defaults),
draws the initial latents with torch.randn on a CPU generator, multiplies
by init_noise_sigma, then runs the pipeline loop with a synthetic model
(a fixed function of the scaled input and t, standing in for the UNet),
passing the same generator to step as StableDiffusionPipeline does. The
latents after every step go to trajectories.json.
"""
import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def betas_for_alpha_bar(n, max_beta=0.999):
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    return torch.tensor([min(1 - f((i + 1) / n) / f(i / n), max_beta) for i in range(n)], dtype=torch.float32)


def rescale_zero_terminal_snr(betas):
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    s = ac.sqrt()
    s0, sT = s[0].clone(), s[-1].clone()
    s -= sT
    s *= s0 / (s0 - sT)
    ab = s**2
    alphas = torch.cat([ab[0:1], ab[1:] / ab[:-1]])
    return 1 - alphas


COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
              prediction_type="epsilon", steps_offset=0, rescale_betas_zero_snr=False)
DEFAULTS = {
    "ddim": dict(COMMON, clip_sample=True, set_alpha_to_one=True, clip_sample_range=1.0, timestep_spacing="leading"),
    "pndm": {k: v for k, v in dict(COMMON, skip_prk_steps=False, set_alpha_to_one=False, timestep_spacing="leading").items()
             if k != "rescale_betas_zero_snr"},
    "euler": dict(COMMON, interpolation_type="linear", use_karras_sigmas=False, timestep_spacing="linspace", final_sigmas_type="zero"),
    "euler-a": dict(COMMON, timestep_spacing="linspace"),
    "dpm++2m": dict(COMMON, solver_order=2, algorithm_type="dpmsolver++", solver_type="midpoint", lower_order_final=True,
                    euler_at_final=False, use_karras_sigmas=False, final_sigmas_type="zero", timestep_spacing="linspace"),
    "lcm": dict(COMMON, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", original_inference_steps=50,
                clip_sample=False, clip_sample_range=1.0, set_alpha_to_one=True, timestep_spacing="leading", timestep_scaling=10.0),
}


class Base:
    def __init__(self, kind, config):
        c = dict(DEFAULTS[kind])
        c.update({k: v for k, v in config.items() if k in c})
        self.c = c
        n = c["num_train_timesteps"]
        if c["trained_betas"] is not None:
            betas = torch.tensor(c["trained_betas"], dtype=torch.float32)
        elif c["beta_schedule"] == "linear":
            betas = torch.linspace(c["beta_start"], c["beta_end"], n, dtype=torch.float32)
        elif c["beta_schedule"] == "scaled_linear":
            betas = torch.linspace(c["beta_start"] ** 0.5, c["beta_end"] ** 0.5, n, dtype=torch.float32) ** 2
        else:
            betas = betas_for_alpha_bar(n)
        if c.get("rescale_betas_zero_snr"):
            betas = rescale_zero_terminal_snr(betas)
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        if c.get("rescale_betas_zero_snr") and kind in ("euler", "euler-a", "dpm++2m"):
            self.alphas_cumprod[-1] = 2**-24
        self.init_noise_sigma = 1.0

    def scale_model_input(self, sample, t):
        return sample

    def set_begin_index(self, i):
        self.i = i

    def add_noise(self, x, noise, i):
        """DDPM-style add_noise at self.timesteps[i] (DDIM, PNDM, LCM)."""
        t = int(self.timesteps[i])
        a = self.alphas_cumprod[t]
        return a**0.5 * x + (1 - a) ** 0.5 * noise


class DDIM(Base):
    def __init__(self, config):
        super().__init__("ddim", config)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.c["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, n):
        c = self.c
        T = c["num_train_timesteps"]
        self.n = n
        if c["timestep_spacing"] == "linspace":
            ts = np.linspace(0, T - 1, n).round()[::-1].copy().astype(np.int64)
        elif c["timestep_spacing"] == "leading":
            ts = (np.arange(0, n) * (T // n)).round()[::-1].copy().astype(np.int64) + c["steps_offset"]
        else:
            ts = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
        self.timesteps = torch.from_numpy(ts)

    def step(self, out, t, sample, generator, eta=0.0):
        c = self.c
        prev_t = t - c["num_train_timesteps"] // self.n
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t = 1 - a_t
        if c["prediction_type"] == "epsilon":
            x0 = (sample - b_t ** (0.5) * out) / a_t ** (0.5)
            eps = out
        elif c["prediction_type"] == "sample":
            x0 = out
            eps = (sample - a_t ** (0.5) * x0) / b_t ** (0.5)
        else:
            x0 = (a_t**0.5) * sample - (b_t**0.5) * out
            eps = (a_t**0.5) * out + (b_t**0.5) * sample
        if c["clip_sample"]:
            x0 = x0.clamp(-c["clip_sample_range"], c["clip_sample_range"])
        variance = ((1 - a_prev) / b_t) * (1 - a_t / a_prev)
        std = eta * variance ** (0.5)
        direction = (1 - a_prev - std**2) ** (0.5) * eps
        prev = a_prev ** (0.5) * x0 + direction
        if eta > 0:
            prev = prev + std * torch.randn(out.shape, generator=generator, dtype=out.dtype)
        return prev


class PNDM(Base):
    def __init__(self, config):
        super().__init__("pndm", config)
        assert self.c["skip_prk_steps"]
        self.final_alpha_cumprod = torch.tensor(1.0) if self.c["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, n):
        c = self.c
        T = c["num_train_timesteps"]
        self.n = n
        if c["timestep_spacing"] == "linspace":
            ts = np.linspace(0, T - 1, n).round().astype(np.int64)
        elif c["timestep_spacing"] == "leading":
            ts = (np.arange(0, n) * (T // n)).round() + c["steps_offset"]
        else:
            ts = np.round(np.arange(T, 0, -T / n))[::-1].astype(np.int64) - 1
        plms = np.concatenate([ts[:-1], ts[-2:-1], ts[-1:]])[::-1].copy()
        self.timesteps = torch.from_numpy(plms.astype(np.int64))
        self.ets = []
        self.counter = 0
        self.cur_sample = None

    def step(self, out, t, sample, generator):
        ratio = self.c["num_train_timesteps"] // self.n
        prev_t = t - ratio
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(out)
        else:
            prev_t = t
            t = t + ratio
        e = self.ets
        if len(e) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(e) == 1 and self.counter == 1:
            out = (out + e[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(e) == 2:
            out = (3 * e[-1] - e[-2]) / 2
        elif len(e) == 3:
            out = (23 * e[-1] - 16 * e[-2] + 5 * e[-3]) / 12
        else:
            out = (1 / 24) * (55 * e[-1] - 59 * e[-2] + 37 * e[-3] - 9 * e[-4])
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t, b_prev = 1 - a_t, 1 - a_prev
        if self.c["prediction_type"] == "v_prediction":
            out = (a_t**0.5) * out + (b_t**0.5) * sample
        coeff = (a_prev / a_t) ** (0.5)
        denom = a_t * b_prev ** (0.5) + (a_t * b_t * a_prev) ** (0.5)
        self.counter += 1
        return coeff * sample - (a_prev - a_t) * out / denom


def spaced_float_timesteps(c, n):
    T = c["num_train_timesteps"]
    if c["timestep_spacing"] == "linspace":
        return np.linspace(0, T - 1, n, dtype=np.float32)[::-1].copy()
    if c["timestep_spacing"] == "leading":
        ts = (np.arange(0, n) * (T // n)).round()[::-1].copy().astype(np.float32)
        return ts + c["steps_offset"]
    ts = (np.arange(T, 0, -T / n)).round().copy().astype(np.float32)
    return ts - 1


def karras(in_sigmas, n):
    smin, smax = in_sigmas[-1].item(), in_sigmas[0].item()
    rho = 7.0
    ramp = np.linspace(0, 1, n)
    return (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho


def sigma_to_t(sigma, log_sigmas):
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high = low + 1
    lo, hi = log_sigmas[low], log_sigmas[high]
    w = np.clip((lo - log_sigma) / (lo - hi), 0, 1)
    return ((1 - w) * low + w * high).reshape(sigma.shape)


class Euler(Base):
    def __init__(self, config, kind="euler"):
        super().__init__(kind, config)

    def set_timesteps(self, n):
        c = self.c
        ts = spaced_float_timesteps(c, n)
        sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        log_sigmas = np.log(sigmas)
        if c.get("interpolation_type", "linear") == "log_linear":
            sigmas = torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), n + 1).exp().numpy()
        else:
            sigmas = np.interp(ts, np.arange(0, len(sigmas)), sigmas)
        if c.get("use_karras_sigmas"):
            sigmas = karras(sigmas, n)
            ts = np.array([sigma_to_t(s, log_sigmas) for s in sigmas])
        last = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5 if c.get("final_sigmas_type") == "sigma_min" else 0
        sigmas = np.concatenate([sigmas, [last]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sigmas).to(dtype=torch.float32)
        self.timesteps = torch.from_numpy(ts.astype(np.float32))
        self.init_noise_sigma = self.sigmas.max() if c["timestep_spacing"] in ("linspace", "trailing") else (self.sigmas.max() ** 2 + 1) ** 0.5
        self.i = 0

    def scale_model_input(self, sample, t):
        return sample / ((self.sigmas[self.i] ** 2 + 1) ** 0.5)

    def add_noise(self, x, noise, i):
        return x + noise * self.sigmas[i]

    def step(self, out, t, sample, generator):
        sigma = self.sigmas[self.i]
        sample = sample.to(torch.float32)
        if self.c["prediction_type"] == "epsilon":
            x0 = sample - sigma * out
        elif self.c["prediction_type"] == "v_prediction":
            x0 = out * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        else:
            x0 = out
        derivative = (sample - x0) / sigma
        dt = self.sigmas[self.i + 1] - sigma
        self.i += 1
        return sample + derivative * dt


class EulerAncestral(Euler):
    def __init__(self, config):
        super().__init__(config, "euler-a")

    def set_timesteps(self, n):
        c = self.c
        ts = spaced_float_timesteps(c, n)
        sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        sigmas = np.interp(ts, np.arange(0, len(sigmas)), sigmas)
        sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sigmas)
        self.timesteps = torch.from_numpy(ts)
        self.init_noise_sigma = self.sigmas.max() if c["timestep_spacing"] in ("linspace", "trailing") else (self.sigmas.max() ** 2 + 1) ** 0.5
        self.i = 0

    def step(self, out, t, sample, generator):
        sigma = self.sigmas[self.i]
        sample = sample.to(torch.float32)
        if self.c["prediction_type"] == "epsilon":
            x0 = sample - sigma * out
        else:
            x0 = out * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        s_from, s_to = self.sigmas[self.i], self.sigmas[self.i + 1]
        s_up = (s_to**2 * (s_from**2 - s_to**2) / s_from**2) ** 0.5
        s_down = (s_to**2 - s_up**2) ** 0.5
        derivative = (sample - x0) / sigma
        prev = sample + derivative * (s_down - sigma)
        noise = torch.randn(out.shape, generator=generator, dtype=out.dtype)
        self.i += 1
        return prev + noise * s_up


class DPMSolver(Base):
    def __init__(self, config):
        super().__init__("dpm++2m", config)

    def set_timesteps(self, n):
        c = self.c
        T = c["num_train_timesteps"]
        last = T  # lambda_min_clipped = -inf
        if c["timestep_spacing"] == "linspace":
            ts = np.linspace(0, last - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif c["timestep_spacing"] == "leading":
            ts = (np.arange(0, n + 1) * (last // (n + 1))).round()[::-1][:-1].copy().astype(np.int64) + c["steps_offset"]
        else:
            ts = np.arange(last, 0, -T / n).round().copy().astype(np.int64) - 1
        sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        log_sigmas = np.log(sigmas)
        if c["use_karras_sigmas"]:
            sigmas = np.flip(sigmas).copy()
            sigmas = karras(sigmas, n)
            ts = np.array([sigma_to_t(s, log_sigmas) for s in sigmas])
            if c["beta_schedule"] != "squaredcos_cap_v2":
                ts = ts.round()
        else:
            sigmas = np.interp(ts, np.arange(0, len(sigmas)), sigmas)
        last_sigma = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5 if c["final_sigmas_type"] == "sigma_min" else 0
        self.sigmas = torch.from_numpy(np.concatenate([sigmas, [last_sigma]]).astype(np.float32))
        self.timesteps = torch.from_numpy(ts).to(dtype=torch.int64)
        self.outputs = [None] * c["solver_order"]
        self.lower = 0
        self.i = 0

    def set_begin_index(self, i):
        self.i = i

    def add_noise(self, x, noise, i):
        a, s = self.at(self.sigmas[i])
        return a * x + s * noise

    def at(self, sigma):
        a = 1 / ((sigma**2 + 1) ** 0.5)
        return a, sigma * a

    def convert(self, out, sample):
        c = self.c
        a, s = self.at(self.sigmas[self.i])
        if c["algorithm_type"] == "dpmsolver++":
            if c["prediction_type"] == "epsilon":
                return (sample - s * out) / a
            if c["prediction_type"] == "sample":
                return out
            return a * sample - s * out
        if c["prediction_type"] == "epsilon":
            return out
        if c["prediction_type"] == "sample":
            return (sample - a * out) / s
        return a * out + s * sample

    def step(self, out, t, sample, generator):
        c = self.c
        i, n = self.i, len(self.timesteps)
        lof = (i == n - 1) and (c["euler_at_final"] or (c["lower_order_final"] and n < 15) or c["final_sigmas_type"] == "zero")
        los = (i == n - 2) and c["lower_order_final"] and n < 15
        out = self.convert(out, sample)
        for k in range(c["solver_order"] - 1):
            self.outputs[k] = self.outputs[k + 1]
        self.outputs[-1] = out
        sample = sample.to(torch.float32)
        pp = c["algorithm_type"] == "dpmsolver++"
        sg = self.sigmas
        a_t, s_t = self.at(sg[i + 1])
        a_s0, s_s0 = self.at(sg[i])
        lam = lambda a, s: torch.log(a) - torch.log(s)  # noqa: E731
        l_t, l_s0 = lam(a_t, s_t), lam(a_s0, s_s0)
        h = l_t - l_s0
        if c["solver_order"] == 1 or self.lower < 1 or lof:
            if pp:
                x = (s_t / s_s0) * sample - (a_t * (torch.exp(-h) - 1.0)) * out
            else:
                x = (a_t / a_s0) * sample - (s_t * (torch.exp(h) - 1.0)) * out
        elif c["solver_order"] == 2 or self.lower < 2 or los:
            a_s1, s_s1 = self.at(sg[i - 1])
            l_s1 = lam(a_s1, s_s1)
            m0, m1 = self.outputs[-1], self.outputs[-2]
            h0 = l_s0 - l_s1
            r0 = h0 / h
            D0, D1 = m0, (1.0 / r0) * (m0 - m1)
            if pp and c["solver_type"] == "midpoint":
                x = (s_t / s_s0) * sample - (a_t * (torch.exp(-h) - 1.0)) * D0 - 0.5 * (a_t * (torch.exp(-h) - 1.0)) * D1
            elif pp:
                x = (s_t / s_s0) * sample - (a_t * (torch.exp(-h) - 1.0)) * D0 + (a_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1
            elif c["solver_type"] == "midpoint":
                x = (a_t / a_s0) * sample - (s_t * (torch.exp(h) - 1.0)) * D0 - 0.5 * (s_t * (torch.exp(h) - 1.0)) * D1
            else:
                x = (a_t / a_s0) * sample - (s_t * (torch.exp(h) - 1.0)) * D0 - (s_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1
        else:
            a_s1, s_s1 = self.at(sg[i - 1])
            a_s2, s_s2 = self.at(sg[i - 2])
            l_s1, l_s2 = lam(a_s1, s_s1), lam(a_s2, s_s2)
            m0, m1, m2 = self.outputs[-1], self.outputs[-2], self.outputs[-3]
            h0, h1 = l_s0 - l_s1, l_s1 - l_s2
            r0, r1 = h0 / h, h1 / h
            D0 = m0
            D1_0, D1_1 = (1.0 / r0) * (m0 - m1), (1.0 / r1) * (m1 - m2)
            D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)
            D2 = (1.0 / (r0 + r1)) * (D1_0 - D1_1)
            if pp:
                x = ((s_t / s_s0) * sample - (a_t * (torch.exp(-h) - 1.0)) * D0
                     + (a_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * D1 - (a_t * ((torch.exp(-h) - 1.0 + h) / h**2 - 0.5)) * D2)
            else:
                x = ((a_t / a_s0) * sample - (s_t * (torch.exp(h) - 1.0)) * D0
                     - (s_t * ((torch.exp(h) - 1.0) / h - 1.0)) * D1 - (s_t * ((torch.exp(h) - 1.0 - h) / h**2 - 0.5)) * D2)
        if self.lower < c["solver_order"]:
            self.lower += 1
        self.i += 1
        return x


class LCM(Base):
    def __init__(self, config):
        super().__init__("lcm", config)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.c["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, n):
        c = self.c
        orig = c["original_inference_steps"]
        k = c["num_train_timesteps"] // orig
        origin = np.asarray(list(range(1, orig + 1))) * k - 1
        origin = origin[::-1].copy()
        idx = np.floor(np.linspace(0, len(origin), num=n, endpoint=False)).astype(np.int64)
        self.timesteps = torch.from_numpy(origin[idx]).to(dtype=torch.long)
        self.n = n
        self.i = 0

    def step(self, out, t, sample, generator):
        c = self.c
        prev_i = self.i + 1
        prev_t = self.timesteps[prev_i] if prev_i < len(self.timesteps) else t
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t, b_prev = 1 - a_t, 1 - a_prev
        st = t * c["timestep_scaling"]
        c_skip = 0.5**2 / (st**2 + 0.5**2)
        c_out = st / (st**2 + 0.5**2) ** 0.5
        if c["prediction_type"] == "epsilon":
            x0 = (sample - b_t.sqrt() * out) / a_t.sqrt()
        elif c["prediction_type"] == "sample":
            x0 = out
        else:
            x0 = a_t.sqrt() * sample - b_t.sqrt() * out
        if c["clip_sample"]:
            x0 = x0.clamp(-c["clip_sample_range"], c["clip_sample_range"])
        denoised = c_out * x0 + c_skip * sample
        if self.i != self.n - 1:
            noise = torch.randn(out.shape, generator=generator, dtype=denoised.dtype)
            prev = a_prev.sqrt() * denoised + b_prev.sqrt() * noise
        else:
            prev = denoised
        self.i += 1
        return prev


CLASSES = {"ddim": DDIM, "pndm": PNDM, "euler": Euler, "euler-a": EulerAncestral, "dpm++2m": DPMSolver, "lcm": LCM}


def model(x, t):
    """The synthetic denoiser: a smooth function of the scaled input and t."""
    t = float(t)
    return (0.9 + 0.05 * math.cos(t / 300.0)) * x + 0.1 * torch.sin(2.0 * x + t / 100.0)


SD15 = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
        "steps_offset": 1, "trained_betas": None, "clip_sample": False}
SD21 = {"_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
        "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}

CASES = [
    ("pndm", SD15, 10, 0, {}),
    ("pndm", SD21, 7, 1, {}),
    ("pndm", dict(SD15, timestep_spacing="linspace"), 6, 2, {}),
    ("pndm", dict(SD15, timestep_spacing="trailing", rescale_betas_zero_snr=True), 5, 2, {}),
    ("ddim", SD15, 10, 0, {}),
    ("ddim", SD21, 8, 3, {}),
    ("ddim", dict(SD15, timestep_spacing="trailing", clip_sample=True), 6, 4, {}),
    ("ddim", dict(SD15, timestep_spacing="linspace", set_alpha_to_one=True), 5, 4, {"eta": 0.7}),
    ("ddim", dict(SD15, beta_schedule="squaredcos_cap_v2", rescale_betas_zero_snr=True, timestep_spacing="trailing",
                    prediction_type="v_prediction"), 6, 5, {}),
    ("euler", SD15, 10, 0, {}),
    ("euler", SD21, 8, 6, {}),
    ("euler", dict(SD15, timestep_spacing="leading"), 7, 7, {}),
    ("euler", dict(SD15, use_karras_sigmas=True), 9, 7, {}),
    ("euler", dict(SD15, timestep_spacing="trailing", final_sigmas_type="sigma_min"), 6, 7, {}),
    ("euler-a", SD15, 10, 0, {}),
    ("euler-a", SD21, 8, 8, {}),
    ("euler-a", dict(SD15, timestep_spacing="leading"), 6, 9, {}),
    ("dpm++2m", SD15, 10, 0, {}),
    ("dpm++2m", SD21, 8, 10, {}),
    ("dpm++2m", dict(SD15, use_karras_sigmas=True), 12, 11, {}),
    ("dpm++2m", dict(SD15, timestep_spacing="leading", solver_order=3), 9, 12, {}),
    ("dpm++2m", dict(SD15, solver_type="heun", lower_order_final=False, timestep_spacing="trailing"), 6, 12, {}),
    ("dpm++2m", dict(SD15, algorithm_type="dpmsolver", final_sigmas_type="sigma_min"), 7, 13, {}),
    ("dpm++2m", dict(SD21, rescale_betas_zero_snr=True, timestep_spacing="trailing"), 5, 13, {}),
    ("dpm++2m", dict(SD15, final_sigmas_type="sigma_min", euler_at_final=True), 16, 13, {}),
    ("lcm", SD15, 4, 0, {}),
    ("lcm", dict(SD15, original_inference_steps=50, clip_sample=True), 6, 14, {}),
    ("lcm", SD21, 3, 15, {}),
]


IMG2IMG = [
    ("pndm", SD15, 10, 0.6, 20),
    ("ddim", SD15, 10, 0.75, 21),
    ("ddim", SD21, 8, 0.5, 22),
    ("euler", SD15, 10, 0.6, 23),
    ("euler-a", SD15, 9, 0.45, 24),
    ("dpm++2m", SD15, 12, 0.8, 25),
    ("dpm++2m", dict(SD15, use_karras_sigmas=True), 10, 0.3, 26),
]


def img2img(shape):
    """diffusers' img2img loop: get_timesteps, set_begin_index, add_noise of
    fixed clean latents with fresh torch.randn noise, then the usual steps."""
    out = []
    n = 1
    for d in shape:
        n *= d
    clean = torch.tensor([math.sin(0.37 * j) * 1.5 for j in range(n)], dtype=torch.float32).reshape(shape)
    for kind, config, steps, strength, seed in IMG2IMG:
        s = CLASSES[kind](config)
        s.set_timesteps(steps)
        init_timestep = min(int(steps * strength), steps)
        t_start = max(steps - init_timestep, 0)
        timesteps = s.timesteps[t_start:]
        s.set_begin_index(t_start)
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(shape, generator=g, dtype=torch.float32)
        latents = s.add_noise(clean, noise, t_start)
        traj = [[float(v) for v in latents.flatten().tolist()]]
        for t in timesteps:
            eps = model(s.scale_model_input(latents, t), t)
            if kind == "ddim":
                latents = s.step(eps, int(t), latents, g)
            elif kind in ("pndm", "lcm"):
                latents = s.step(eps, int(t), latents, g)
            else:
                latents = s.step(eps, t, latents, g)
            traj.append([float(v) for v in latents.flatten().tolist()])
        out.append({"scheduler": kind, "config": config, "steps": steps, "strength": strength, "seed": seed,
                    "t_start": t_start, "latents": traj})
    return out


def main():
    torch.set_num_threads(1)
    out = []
    shape = [1, 4, 4, 4]
    for kind, config, steps, seed, kw in CASES:
        s = CLASSES[kind](config)
        s.set_timesteps(steps)
        g = torch.Generator().manual_seed(seed)
        latents = torch.randn(shape, generator=g, dtype=torch.float32) * float(s.init_noise_sigma)
        traj = []
        for t in s.timesteps:
            x_in = s.scale_model_input(latents, t)
            eps = model(x_in, t)
            if kind == "ddim":
                latents = s.step(eps, int(t), latents, g, **kw)
            elif kind in ("pndm", "lcm"):
                latents = s.step(eps, int(t), latents, g)
            else:
                latents = s.step(eps, t, latents, g)
            traj.append([float(v) for v in latents.flatten().tolist()])
        out.append({
            "scheduler": kind, "config": config, "steps": steps, "seed": seed, "eta": kw.get("eta", 0.0),
            "timesteps": [float(t) for t in s.timesteps.tolist()],
            "sigmas": [float(v) for v in s.sigmas.tolist()] if hasattr(s, "sigmas") else None,
            "init_noise_sigma": float(s.init_noise_sigma), "latents": traj,
        })
    with open(os.path.join(HERE, "trajectories.json"), "w") as f:
        json.dump({"shape": shape, "cases": out, "img2img": img2img(shape)}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
