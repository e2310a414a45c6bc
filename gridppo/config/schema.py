"""The schema: every setting gridppo knows, section by section, declared once.

Each entry is a :class:`~gridppo.config.fields.Field` with its default, type, valid
range and a one-line help text. ``gridppo/config/default.yaml`` mirrors the schema with
a comment above every key, and its values are the defaults declared here (a test keeps
the two in step). The ``nodes`` list is not here: each node type declares its own
parameters (see :mod:`gridppo.config.node_specs`).

The ``reward`` section is declared here but read in one place only,
:mod:`gridppo.grid.penalty`, which owns what its settings mean.
"""

from __future__ import annotations

from gridppo.config.fields import Field

__all__ = ["SCHEMA"]

# The whole schema, section by section. `nodes` is validated by the node types.
SCHEMA: dict[str, dict[str, Field]] = {
    "": {
        "seed": Field(0, "int", "Seed for profiles, initial states, networks and sampling.", 0),
    },
    "grid": {
        "network": Field(
            "case14",
            "str",
            "The pandapower net: case14, case30, case57, case118, cigre_mv or a JSON path.",
        ),
        "min_vm_pu": Field(
            None, "float_or_none", "Lower bus voltage limit (p.u.); null: the net's.", 0.8, 1.0
        ),
        "max_vm_pu": Field(
            None, "float_or_none", "Upper bus voltage limit (p.u.); null: the net's.", 1.0, 1.2
        ),
        "max_loading_percent": Field(
            100.0, "float", "Branch loading limit, lines and transformers (%).", 10.0, 200.0
        ),
        "ext_grid_vm_pu": Field(
            None,
            "float_or_none",
            "Voltage setpoint of the slack (upstream grid) bus (p.u.); null: the net's.",
            0.9,
            1.1,
        ),
        "branch_rating_margin": Field(
            1.1,
            "float",
            "Branch rating = margin x planning-case flow, where the net has no rating.",
            1.0,
            10.0,
        ),
        "min_branch_rating_mva": Field(
            15.0,
            "float",
            "Smallest branch rating, for lightly used branches (MVA).",
            1.0,
            1000.0,
            low_exclusive=True,
        ),
        "power_flow_backend": Field(
            "fast", "choice", "Power-flow solver.", choices=("fast", "pandapower")
        ),
        "max_iterations": Field(30, "int", "Newton-Raphson iteration limit.", 1, 1000),
        "tolerance_pu": Field(
            1e-10,
            "float",
            "Newton-Raphson mismatch tolerance (p.u. of 1 MVA base).",
            0.0,
            1e-3,
            low_exclusive=True,
        ),
    },
    "time": {
        "steps_per_day": Field(
            24, "int", "Steps per day (24 = hourly, 96 = 15 minutes); must divide 1440.", 1, 1440
        ),
        "train_days": Field(200, "int", "Number of distinct training days.", 1, 100000),
        "validation_days": Field(
            10, "int", "Held-out days that choose best.pt (never reported).", 1, 10000
        ),
        "test_days": Field(20, "int", "Held-out days every reported number comes from.", 1, 10000),
        "forecast_steps": Field(3, "int", "Steps of price forecast in each observation.", 0, 24),
        "profiles_csv": Field(
            None, "path", "CSV of load/pv/price profiles to use instead of the generator."
        ),
    },
    "profiles": {
        "load_day_sigma": Field(0.05, "float", "Day-to-day spread of the load level.", 0.0, 0.5),
        "load_noise_sigma": Field(0.02, "float", "Step-to-step load noise.", 0.0, 0.5),
        "price_base_eur_per_mwh": Field(
            20.0, "float", "Night-time energy price (EUR/MWh).", 0.0, 1000.0
        ),
        "price_peak_eur_per_mwh": Field(
            75.0, "float", "Evening-peak energy price (EUR/MWh).", 0.0, 5000.0
        ),
        "price_pv_discount_eur_per_mwh": Field(
            15.0, "float", "Price drop at full midday sun (EUR/MWh).", 0.0, 1000.0
        ),
        "price_noise_sigma": Field(3.0, "float", "Price noise (EUR/MWh).", 0.0, 100.0),
    },
    "reward": {
        "grid_penalty_weight": Field(
            1.0, "float", "Weight of the shared grid penalty in every agent's reward.", 0.0, 1e4
        ),
        "voltage_penalty_eur_per_pu": Field(
            100000.0,
            "float",
            "Penalty per p.u. of voltage outside the limits, summed over buses.",
            0.0,
            1e7,
        ),
        "overload_penalty_eur_per_percent": Field(
            1000.0,
            "float",
            "Penalty per % of loading above the limit, summed over branches.",
            0.0,
            1e6,
        ),
        "nonconvergence_penalty_eur": Field(
            5000.0,
            "float",
            "Fixed penalty when the power flow fails, on top of the rest of the day's "
            "demand priced at the value of lost load.",
            0.0,
            1e8,
        ),
        "value_of_lost_load_eur_per_mwh": Field(
            10000.0,
            "float",
            "Value of lost load: the price of demand left unserved when a day fails (EUR/MWh).",
            0.0,
            1e6,
        ),
    },
    "ppo": {
        "parameter_sharing": Field(
            "none",
            "choice",
            "none: one network per node (IPPO); per_type: one network per node type.",
            choices=("none", "per_type"),
        ),
        "critic": Field(
            "local",
            "choice",
            "local: each critic sees its agent's observation (IPPO); centralised: every "
            "agent's observation (MAPPO). Actors always see their own.",
            choices=("local", "centralised"),
        ),
        "constraint": Field(
            "none",
            "choice",
            "none: overloads and voltage violations cost the fixed reward-section prices; "
            "lagrangian: they are constraints priced by learned Lagrange multipliers.",
            choices=("none", "lagrangian"),
        ),
        "overload_limit_percent": Field(
            0.02,
            "float",
            "Lagrangian: allowed mean overload per step (percent above the limit, summed "
            "over branches).",
            0.0,
            1e4,
        ),
        "voltage_limit_pu": Field(
            0.0002,
            "float",
            "Lagrangian: allowed mean voltage violation per step (p.u. outside the band, "
            "summed over buses).",
            0.0,
            100.0,
        ),
        "lagrange_init": Field(
            1.0,
            "float",
            "Lagrangian: each multiplier's start, as a multiple of the fixed price each agent "
            "pays (grid_penalty_weight x the reward section's price).",
            0.0,
            1e6,
        ),
        "lagrange_lr": Field(
            1e-3,
            "float",
            "Lagrangian: multiplier step per EUR a step's violation above its limit costs "
            "at the reward section's price.",
            0.0,
            1e3,
        ),
        "hidden_sizes": Field(
            [32, 32], "int_list", "Hidden layer widths of actor and critic.", 1, 4096
        ),
        "lr": Field(1e-3, "float", "Adam learning rate.", 0.0, 1.0, low_exclusive=True),
        "anneal_lr": Field(True, "bool", "Decay the learning rate linearly to 0 over training."),
        "gamma": Field(0.99, "float", "Discount factor.", 0.0, 1.0),
        "gae_lambda": Field(0.95, "float", "GAE lambda (bias-variance trade-off).", 0.0, 1.0),
        "clip_coef": Field(
            0.2, "float", "PPO clip range for the probability ratio.", 0.0, 1.0, low_exclusive=True
        ),
        "clip_vloss": Field(False, "bool", "Clip the value loss around the old values."),
        "ent_coef": Field(0.0, "float", "Entropy bonus coefficient.", 0.0, 1.0),
        "vf_coef": Field(0.5, "float", "Value loss coefficient.", 0.0, 10.0),
        "max_grad_norm": Field(
            0.5, "float", "Global gradient-norm clip.", 0.0, 100.0, low_exclusive=True
        ),
        "update_epochs": Field(4, "int", "Passes over each rollout per update.", 1, 100),
        "num_minibatches": Field(
            4, "int", "Minibatches per epoch (at most num_days x rollout_steps).", 1, 1024
        ),
        "target_kl": Field(
            None, "float_or_none", "Stop an update early above this KL (null: never).", 0.0, 10.0
        ),
        "norm_adv": Field(True, "bool", "Normalise advantages per minibatch."),
        "norm_obs": Field(True, "bool", "Normalise observations with running statistics."),
        "norm_reward": Field(True, "bool", "Scale rewards by the running std of the return."),
        "init_log_std": Field(
            -1.0, "float", "Initial log standard deviation of the actions.", -5.0, 2.0
        ),
    },
    "train": {
        "total_updates": Field(100, "int", "Number of PPO updates (rollout + learning).", 1, 10**7),
        "num_days": Field(64, "int", "Days simulated in parallel (B).", 1, 4096),
        "rollout_steps": Field(
            24,
            "int",
            "Steps per rollout: time.steps_per_day, a divisor of it or a multiple of it.",
            1,
            10000,
        ),
        "eval_interval": Field(10, "int", "Evaluate every this many updates.", 1, 10**7),
        "checkpoint_interval": Field(25, "int", "Keep a numbered checkpoint this often.", 1, 10**7),
        "log_dir": Field("logs", "str", "Where run logs go (one folder per run)."),
        "checkpoint_dir": Field("checkpoints", "str", "Where checkpoints go (one folder per run)."),
        "tensorboard": Field(True, "bool", "Also write TensorBoard event files."),
        "torch_threads": Field(
            1,
            "int",
            "CPU threads for torch; 1 is fastest and safe when other programs share the cores.",
            1,
            256,
        ),
    },
}
