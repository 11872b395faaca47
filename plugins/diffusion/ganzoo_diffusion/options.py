"""The ``ddpm`` variant's options: the denoiser's size, the noise schedule and the sampler.

Kept apart from the models so that registering the plugin (every ``ganzoo`` command does it)
never imports diffusers; only building a model does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ganzoo.plugin import Options

Sampler = Literal["ddim", "ddpm"]


class DDPMOptions(Options):
    """A small UNet for 28/32 px images (CPU-trainable), Ho et al.'s linear schedule, DDIM sampling."""

    widths: list[int] = Field([32, 64, 64], min_length=1, max_length=6,
                              description="channels of the UNet's resolution levels, full size first")
    layers_per_block: int = Field(1, ge=1, le=4, description="ResNet blocks per level")
    attention: bool = Field(True, description="self-attention at the lowest resolution")
    norm_groups: int = Field(8, ge=1, le=64, description="GroupNorm groups; every width must divide by it")
    train_timesteps: int = Field(1000, ge=2, le=10_000, description="T: steps of the forward (noising) process")
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = Field(
        "linear", description="the noise schedule: Ho et al.'s linear betas, or the cosine one (Nichol & Dhariwal)")
    beta_start: float = Field(1e-4, gt=0, lt=1, description="beta_1 of a linear schedule")
    beta_end: float = Field(0.02, gt=0, lt=1, description="beta_T of a linear schedule")
    sampler: Sampler = Field("ddim", description="ddim: deterministic DDIM (eta 0) in `steps` steps; "
                                                 "ddpm: the full ancestral chain of train_timesteps steps")
    steps: int = Field(50, ge=1, le=10_000, description="DDIM steps per image (sampler ddim)")

    @model_validator(mode="after")
    def _consistent(self) -> DDPMOptions:
        if any(width % self.norm_groups for width in self.widths):
            raise ValueError(f"every width in {self.widths} must be divisible by norm_groups {self.norm_groups}")
        if self.steps > self.train_timesteps:
            raise ValueError(f"steps {self.steps} exceeds train_timesteps {self.train_timesteps}: DDIM samples a "
                             "subsequence of the training timesteps")
        if self.beta_start >= self.beta_end:
            raise ValueError(f"beta_start {self.beta_start} must be below beta_end {self.beta_end}")
        return self
