"""The bike-demand world simulator: hourly rows in the schema of the UCI Bike Sharing `hour.csv`.

The generative model is written down, with every parameter, in `datasets/README.md`; the constants
below carry the same names. In short, per hour t:

    temp      = mu_T + A_T cos(2 pi (doy - 200) / 365.25) + D_T cos(2 pi (h - 15) / 24) + x_T - 0.015 W
    W         wetness, AR(1); weathersit = 1 + [W > 0.404] + [W > 1.39] + [W > 3.58]
    hum       = 0.627 - 0.12 cos(2 pi (h - 15) / 24) + 0.09 W + x_H
    wind km/h = exp(2.45 + daily and seasonal terms + 0.57 noise); below 6 km/h it reads as calm (0)
    lambda    = base * growth(t) * profile[workingday](h) * f_temp(temp) * weather[weathersit]
                * exp(-0.5 (hum - 0.627)) * exp(-0.8 (windspeed - 0.19))
    cnt       ~ Poisson(lambda * Gamma(k, 1 / k))      (negative binomial, mean lambda)

Drift injections change the world (covariate: a feature's distribution, prior: the demand level,
concept: the relation between features and demand); upstream changes only corrupt what the pipeline
receives (Fahrenheit temperatures, missing values, a wrong scale) while the world stays the same.

Weeks are counted from `start`, 0-based: week w holds hours [start + 168 w, start + 168 (w + 1)).
To get some weeks only, simulate and slice by `timestamp` (`pipelines.mlops.sources.window` does
that); `simulate_weeks` is the shorthand. Two years take a few milliseconds, so nothing is cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.holiday import AbstractHolidayCalendar, Holiday, USFederalHolidayCalendar, nearest_workday

__all__ = [
    "COLUMNS",
    "CONCEPT_FEATURES",
    "COVARIATE_FEATURES",
    "DRIFT_PATTERNS",
    "DRIFT_TYPES",
    "UPSTREAM_KINDS",
    "DriftInjection",
    "SimulatorSettings",
    "UpstreamChange",
    "simulate",
    "simulate_weeks",
]

HOURS_PER_WEEK = 168
HOURS_PER_YEAR = 8766.0  # 365.25 days

COLUMNS = (
    "timestamp",
    "season",
    "yr",
    "mnth",
    "hr",
    "holiday",
    "weekday",
    "workingday",
    "weathersit",
    "temp",
    "atemp",
    "hum",
    "windspeed",
    "cnt",
)

DRIFT_TYPES = ("covariate", "prior", "concept")
DRIFT_PATTERNS = ("sudden", "gradual", "incremental", "recurring")
# A covariate injection moves one of the world's continuous weather variables; demand follows it
# through the unchanged response, so P(cnt | features) stays the same while P(features) moves.
COVARIATE_FEATURES = ("temp", "hum", "windspeed")
# A concept injection rewrites one relation: "temp" mirrors the temperature response (riding peaks
# in the cold), "hr" moves the hour-of-day profile two hours later, "workingday" swaps the working-day
# and the weekend profiles.
CONCEPT_FEATURES = ("temp", "hr", "workingday")
UPSTREAM_KINDS = ("fahrenheit", "missing", "scale")

# Standard deviations of the UCI hour.csv columns: a covariate magnitude of 1 moves the feature by
# one of these, whatever the length of the simulation.
FEATURE_STD = {"temp": 0.1926, "hum": 0.1929, "windspeed": 0.1223}
# Normalising divisors of the UCI file (Readme: temp / 41, atemp / 50, hum / 100, windspeed / 67).
TEMP_SCALE = 41.0
ATEMP_SCALE = 50.0
WIND_SCALE = 67.0

# Temperature (normalised units, temp = degrees C / 41).
TEMP_MEAN = 0.497
TEMP_ANNUAL_AMPLITUDE = 0.245
TEMP_PEAK_DAY = 200.0  # about 19 July
TEMP_DAILY_AMPLITUDE = 0.065
TEMP_PEAK_HOUR = 15.0
TEMP_NOISE_STD = 0.065
TEMP_NOISE_PHI = 0.973  # hourly; the UCI residual's autocorrelation is 0.53 at 24 h
TEMP_WETNESS_EFFECT = 0.015
# Felt temperature in degrees C: a least-squares fit on the UCI file.
ATEMP_SLOPE = 1.075
ATEMP_INTERCEPT_C = 1.885
ATEMP_NOISE_C = 1.35

# Wetness W drives humidity and the weather situation.
WETNESS_PHI = 0.95
WEATHERSIT_THRESHOLDS = (0.404, 1.39, 3.58)  # standard normal quantiles of 65.7 %, 91.8 %, 99.98 %
HUM_MEAN = 0.627
HUM_DAILY_AMPLITUDE = 0.12
HUM_WETNESS_EFFECT = 0.09
HUM_NOISE_STD = 0.14
HUM_NOISE_PHI = 0.95

# Wind, in km/h before normalising. The UCI anemometer never reads between 0 and 6 km/h: slower wind
# is recorded as calm (0), which is why about 12.5 % of `windspeed` values are exactly 0.
WIND_LOG_MEAN = 2.41
WIND_LOG_STD = 0.5
WIND_DAILY_AMPLITUDE = 0.2
WIND_PEAK_HOUR = 15.5
WIND_SEASONAL_AMPLITUDE = 0.12
WIND_PEAK_DAY = 75.0  # windiest in March
WIND_NOISE_PHI = 0.7
WIND_HUMIDITY_CORRELATION = -0.35
WIND_CALM_BELOW_KMH = 6.0

# Demand.
# Rentals per hour at profile 1, the best temperature, clear weather and year 0: calibrated so that two
# default years average about 190 an hour, like the UCI file (test_simulator checks it).
DEMAND_BASE = 178.0
DEMAND_DISPERSION = 30.0  # negative binomial k: variance = lambda + lambda^2 / k
TEMP_RESPONSE_OPTIMUM = 0.85  # about 35 degrees C
TEMP_RESPONSE_WIDTH = 0.55
WEATHER_PENALTY = (1.0, 0.88, 0.55, 0.35)  # by weathersit 1..4
HUM_EFFECT = 0.5
WIND_EFFECT = 0.8
WIND_MEAN = 0.19  # normalised, the UCI mean
CONCEPT_HOUR_SHIFT = 2
# Mean rentals per hour of day in the UCI file, working days and other days (holidays, weekends).
# Only their shape and their ratio matter: both are divided by the working-day mean.
PROFILE_WORKING = (37, 17, 9, 5, 5, 25, 102, 291, 477, 242, 135, 158,
                   201, 198, 184, 201, 293, 525, 492, 348, 250, 186, 138, 89)  # fmt: skip
PROFILE_OFF = (91, 70, 53, 26, 8, 9, 19, 43, 106, 172, 256, 315,
               366, 373, 365, 359, 353, 324, 281, 232, 175, 142, 116, 86)  # fmt: skip


@dataclass(frozen=True)
class DriftInjection:
    """A change of the world from `onset_week` (0-based) for `duration_weeks` (None: to the end).

    magnitude, by type:
    - covariate: shift of `feature` in units of its UCI standard deviation (temp 0.1926, hum 0.1929,
      windspeed 0.1223); demand follows the moved feature through the unchanged response.
    - prior: demand level factor, cnt x (1 + magnitude); must be > -1.
    - concept: weight in [0, 1] of the new relation for `feature` (temp: mirrored temperature
      response; hr: hour profile two hours later; workingday: working-day and weekend profiles swap);
      the demand factor is old^(1 - w) x new^w.

    pattern:
    - sudden: full magnitude from onset (back to normal after `duration_weeks` if given).
    - gradual: during the duration each row comes from the new world with a probability rising
      linearly from 0 to 1 (seeded); full magnitude afterwards.
    - incremental: the magnitude rises linearly from 0 to its value over the duration, then stays.
    - recurring: on for `duration_weeks`, off for `duration_weeks`, and so on from onset.
    """

    type: str
    pattern: str = "sudden"
    onset_week: int = 0
    duration_weeks: int | None = None
    magnitude: float = 1.0
    feature: str = "temp"

    def __post_init__(self) -> None:
        if self.type not in DRIFT_TYPES:
            raise ValueError(f"drift type {self.type!r} is not one of {', '.join(DRIFT_TYPES)}")
        if self.pattern not in DRIFT_PATTERNS:
            raise ValueError(f"drift pattern {self.pattern!r} is not one of {', '.join(DRIFT_PATTERNS)}")
        _check_weeks(self.onset_week, self.duration_weeks)
        if self.pattern == "recurring" and self.duration_weeks is None:
            raise ValueError("a recurring drift needs duration_weeks: the length of each on and off period")
        if not isinstance(self.magnitude, int | float) or not math.isfinite(self.magnitude):
            raise ValueError(f"drift magnitude must be a finite number, got {self.magnitude!r}")
        if self.type == "covariate" and self.feature not in COVARIATE_FEATURES:
            raise ValueError(
                f"covariate drift can move {', '.join(COVARIATE_FEATURES)}, not {self.feature!r}"
            )
        if self.type == "concept":
            if self.feature not in CONCEPT_FEATURES:
                raise ValueError(
                    f"concept drift can change the relation of {', '.join(CONCEPT_FEATURES)}, "
                    f"not {self.feature!r}"
                )
            if not 0.0 <= self.magnitude <= 1.0:
                raise ValueError(
                    f"concept drift magnitude is the weight of the new relation, in [0, 1]; got {self.magnitude}"
                )
        if self.type == "prior" and self.magnitude <= -1.0:
            raise ValueError(
                f"prior drift multiplies demand by 1 + magnitude, so it must be > -1; got {self.magnitude}"
            )


@dataclass(frozen=True)
class UpstreamChange:
    """A data bug upstream of the pipeline: the world (and cnt) is unchanged, what arrives is wrong.

    kind:
    - fahrenheit: `column` (temp or atemp) arrives in degrees F over the same divisor:
      value = (C x 9/5 + 32) / 41 for temp, / 50 for atemp.
    - missing: `column` arrives empty (NaN).
    - scale: `column` arrives multiplied by `factor` (e.g. hum in percent: factor 100).
    `share` of the rows from `onset_week` for `duration_weeks` (None: to the end) are affected,
    chosen at random (seeded).
    """

    kind: str
    column: str = "temp"
    onset_week: int = 0
    duration_weeks: int | None = None
    share: float = 1.0
    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in UPSTREAM_KINDS:
            raise ValueError(f"upstream change kind {self.kind!r} is not one of {', '.join(UPSTREAM_KINDS)}")
        _check_weeks(self.onset_week, self.duration_weeks)
        if self.column not in COLUMNS or self.column == "timestamp":
            raise ValueError(
                f"upstream change column {self.column!r} is not a simulator column ({', '.join(COLUMNS[1:])})"
            )
        if self.kind == "fahrenheit" and self.column not in ("temp", "atemp"):
            raise ValueError(f"a Fahrenheit change applies to temp or atemp, not {self.column!r}")
        if self.kind == "scale" and self.column in ("timestamp", "cnt"):
            raise ValueError("a scale change applies to a feature column, not the target cnt")
        if not isinstance(self.share, int | float) or not 0.0 < self.share <= 1.0:
            raise ValueError(f"upstream change share must be in (0, 1], got {self.share!r}")
        if not isinstance(self.factor, int | float) or not math.isfinite(self.factor):
            raise ValueError(f"upstream change factor must be a finite number, got {self.factor!r}")


@dataclass(frozen=True)
class SimulatorSettings:
    """Knobs of the simulated world. Same settings, same frame."""

    start: str = "2011-01-01"
    weeks: int = 104
    seed: int = 0
    seasonal: bool = True  # False: a flat climate, no annual cycle in temperature or wind
    growth_per_year: float = 0.6  # 2011 -> 2012 in the UCI data: mean cnt 144 -> 235
    injections: tuple[DriftInjection, ...] = field(default_factory=tuple)
    upstream_changes: tuple[UpstreamChange, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        try:
            start = pd.Timestamp(self.start)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"simulator start {self.start!r} is not a date (use e.g. 2011-01-01)") from exc
        if start.tzinfo is not None:
            raise ValueError(f"simulator start {self.start!r} must not carry a time zone")
        if not isinstance(self.weeks, int) or isinstance(self.weeks, bool) or self.weeks < 1:
            raise ValueError(f"simulator weeks must be a whole number >= 1, got {self.weeks!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"simulator seed must be a whole number >= 0, got {self.seed!r}")
        if not isinstance(self.growth_per_year, int | float) or not self.growth_per_year > -1.0:
            raise ValueError(f"growth_per_year must be > -1, got {self.growth_per_year!r}")
        # Lists are accepted for convenience and frozen into tuples so that settings stay hashable.
        object.__setattr__(self, "injections", tuple(self.injections))
        object.__setattr__(self, "upstream_changes", tuple(self.upstream_changes))
        for item in self.injections:
            if not isinstance(item, DriftInjection):
                raise ValueError(f"injections must be DriftInjection values, got {item!r}")
        for change in self.upstream_changes:
            if not isinstance(change, UpstreamChange):
                raise ValueError(f"upstream_changes must be UpstreamChange values, got {change!r}")

    @property
    def start_timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.start).floor("h")

    @property
    def hours(self) -> int:
        return self.weeks * HOURS_PER_WEEK


def _check_weeks(onset_week: object, duration_weeks: object) -> None:
    if not isinstance(onset_week, int) or isinstance(onset_week, bool) or onset_week < 0:
        raise ValueError(f"onset_week must be a whole number >= 0, got {onset_week!r}")
    if duration_weeks is not None and (
        not isinstance(duration_weeks, int) or isinstance(duration_weeks, bool) or duration_weeks < 1
    ):
        raise ValueError(
            f"duration_weeks must be None (to the end) or a whole number >= 1, got {duration_weeks!r}"
        )


class _DCHolidayCalendar(AbstractHolidayCalendar):
    """US federal holidays plus DC Emancipation Day, the holidays the UCI file marks."""

    rules = [  # noqa: RUF012  (pandas reads this class attribute)
        *USFederalHolidayCalendar.rules,
        Holiday("DC Emancipation Day", month=4, day=16, observance=nearest_workday, start_date="2005-01-01"),
    ]


def _ar1(noise: np.ndarray, phi: float, std: float) -> np.ndarray:
    """Stationary AR(1) with marginal standard deviation `std` driven by standard normal `noise`."""
    innovations = noise * (std * math.sqrt(1.0 - phi * phi))
    innovations[0] = noise[0] * std  # start in the stationary distribution
    from scipy.signal import lfilter  # scipy.signal takes seconds to import: only when simulating

    return lfilter([1.0], [1.0, -phi], innovations)


def _activation(
    drift: DriftInjection | UpstreamChange,
    week_float: np.ndarray,
    total_weeks: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-row strength in [0, 1] of an injection at each hour (week_float = hours since start / 168)."""
    onset = float(drift.onset_week)
    duration = float(drift.duration_weeks) if drift.duration_weeks is not None else None
    after = week_float >= onset
    pattern = getattr(drift, "pattern", "sudden")
    if pattern == "sudden":
        active = after if duration is None else after & (week_float < onset + duration)
        return active.astype(float)
    if pattern == "recurring":
        assert duration is not None
        period = np.floor((week_float - onset) / duration)
        return (after & (period % 2 == 0)).astype(float)
    span = duration if duration is not None else max(total_weeks - onset, 1e-9)
    ramp = np.clip((week_float - onset) / span, 0.0, 1.0) * after
    if pattern == "incremental":
        return ramp
    # gradual: each row is drawn from the new world with probability `ramp`
    return (rng.random(week_float.shape[0]) < ramp).astype(float)


def _calendar(timestamps: pd.DatetimeIndex, start: pd.Timestamp) -> dict[str, np.ndarray]:
    month = timestamps.month.to_numpy()
    day = timestamps.day.to_numpy()
    month_day = month * 100 + day
    # Astronomical seasons as in the UCI file: 1 winter from 21 Dec, 2 spring from 21 Mar,
    # 3 summer from 21 Jun, 4 autumn from 23 Sep.
    season = np.select(
        [month_day < 321, month_day < 621, month_day < 923, month_day < 1221], [1, 2, 3, 4], default=1
    )
    dates = timestamps.normalize()
    holidays = _DCHolidayCalendar().holidays(dates.min(), dates.max())
    holiday = dates.isin(holidays).astype(np.int64)
    weekday = (timestamps.day_of_week.to_numpy() + 1) % 7  # UCI: 0 Sunday .. 6 Saturday
    workingday = ((weekday >= 1) & (weekday <= 5) & (holiday == 0)).astype(np.int64)
    return {
        "season": season.astype(np.int64),
        "yr": (timestamps.year.to_numpy() - start.year).astype(np.int64),
        "mnth": month.astype(np.int64),
        "hr": timestamps.hour.to_numpy().astype(np.int64),
        "holiday": holiday,
        "weekday": weekday.astype(np.int64),
        "workingday": workingday,
    }


def simulate(settings: SimulatorSettings | None = None) -> pd.DataFrame:
    """Simulate `settings.weeks` weeks of hourly bike demand; deterministic per seed."""
    settings = settings or SimulatorSettings()
    start = settings.start_timestamp
    n = settings.hours
    timestamps = pd.date_range(start, periods=n, freq="h")
    calendar = _calendar(timestamps, start)
    hour = calendar["hr"].astype(float) + timestamps.minute.to_numpy() / 60.0
    day_of_year = timestamps.day_of_year.to_numpy() - 1 + hour / 24.0
    week_float = np.arange(n) / HOURS_PER_WEEK
    seasonal = 1.0 if settings.seasonal else 0.0

    # All base noise is drawn first and in a fixed order, so injections never change the weather
    # before their onset and the same seed gives the same world with or without them.
    rng = np.random.default_rng(settings.seed)
    temp_noise = _ar1(rng.standard_normal(n), TEMP_NOISE_PHI, TEMP_NOISE_STD)
    wetness = _ar1(rng.standard_normal(n), WETNESS_PHI, 1.0)
    hum_noise = _ar1(rng.standard_normal(n), HUM_NOISE_PHI, HUM_NOISE_STD)
    wind_noise = _ar1(rng.standard_normal(n), WIND_NOISE_PHI, 1.0)
    atemp_noise = rng.standard_normal(n) * ATEMP_NOISE_C
    demand_gamma = rng.standard_gamma(DEMAND_DISPERSION, n) / DEMAND_DISPERSION
    # Counts come from the Poisson quantile of a uniform drawn here, row by row, so an injection that
    # changes demand in some hours leaves every other hour's count exactly as it was.
    demand_uniform = np.maximum(rng.random(n), np.finfo(float).tiny)

    total_weeks = float(settings.weeks)
    activations = [
        _activation(drift, week_float, total_weeks, np.random.default_rng([settings.seed, 1 + i]))
        for i, drift in enumerate(settings.injections)
    ]

    def covariate_shift(feature: str) -> np.ndarray:
        shift = np.zeros(n)
        for drift, act in zip(settings.injections, activations, strict=True):
            if drift.type == "covariate" and drift.feature == feature:
                shift += drift.magnitude * FEATURE_STD[feature] * act
        return shift

    daily = np.cos(2 * np.pi * (hour - TEMP_PEAK_HOUR) / 24.0)
    temp_c = (
        TEMP_MEAN
        + seasonal * TEMP_ANNUAL_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - TEMP_PEAK_DAY) / 365.25)
        + TEMP_DAILY_AMPLITUDE * daily
        + temp_noise
        - TEMP_WETNESS_EFFECT * wetness
    )
    # The normalisation's range is the world's range: values are clipped to [0, 1] as in UCI.
    temp = np.clip(temp_c + covariate_shift("temp"), 0.0, 1.0)
    atemp = np.clip(
        (ATEMP_SLOPE * temp * TEMP_SCALE + ATEMP_INTERCEPT_C + atemp_noise) / ATEMP_SCALE, 0.0, 1.0
    )

    # 1 + how many thresholds the wetness exceeds (right=True: bins[i-1] < W <= bins[i]).
    weathersit = 1 + np.digitize(wetness, WEATHERSIT_THRESHOLDS, right=True).astype(np.int64)
    hum = np.clip(
        HUM_MEAN
        - HUM_DAILY_AMPLITUDE * daily
        + HUM_WETNESS_EFFECT * wetness
        + hum_noise
        + covariate_shift("hum"),
        0.0,
        1.0,
    )

    wind_latent = (
        WIND_HUMIDITY_CORRELATION * hum_noise / HUM_NOISE_STD
        + math.sqrt(1.0 - WIND_HUMIDITY_CORRELATION**2) * wind_noise
    )
    wind_kmh = np.exp(
        WIND_LOG_MEAN
        + WIND_DAILY_AMPLITUDE * np.cos(2 * np.pi * (hour - WIND_PEAK_HOUR) / 24.0)
        + seasonal * WIND_SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - WIND_PEAK_DAY) / 365.25)
        + WIND_LOG_STD * wind_latent
    )
    wind_kmh = np.maximum(wind_kmh + covariate_shift("windspeed") * WIND_SCALE, 0.0)
    wind_reported = np.where(wind_kmh < WIND_CALM_BELOW_KMH, 0.0, np.minimum(np.round(wind_kmh), WIND_SCALE))
    windspeed = np.round(wind_reported / WIND_SCALE, 4)

    # Rounded like the UCI file, before demand, so the model sees exactly what drove it.
    temp = np.round(temp, 2)
    atemp = np.round(atemp, 4)
    hum = np.round(hum, 2)

    demand = _demand(settings, calendar, temp, weathersit, hum, windspeed, activations, np.arange(n))
    from scipy.stats import poisson  # imported when simulating, not by every reader of the settings

    cnt = poisson.ppf(demand_uniform, demand * demand_gamma).astype(np.int64)

    frame = pd.DataFrame(
        {
            "timestamp": timestamps,
            **calendar,
            "weathersit": weathersit.astype(np.int64),
            "temp": temp,
            "atemp": atemp,
            "hum": hum,
            "windspeed": windspeed,
            "cnt": cnt,
        },
        columns=list(COLUMNS),
    )
    return _apply_upstream(frame, settings, week_float)


def _demand(
    settings: SimulatorSettings,
    calendar: dict[str, np.ndarray],
    temp: np.ndarray,
    weathersit: np.ndarray,
    hum: np.ndarray,
    windspeed: np.ndarray,
    activations: list[np.ndarray],
    hours_since_start: np.ndarray,
) -> np.ndarray:
    working = np.asarray(PROFILE_WORKING, dtype=float)
    off = np.asarray(PROFILE_OFF, dtype=float)
    scale = working.mean()
    working, off = working / scale, off / scale
    hr = calendar["hr"]
    is_working = calendar["workingday"] == 1

    profile = np.where(is_working, working[hr], off[hr])
    temp_response = _temp_response(temp)
    level = np.ones_like(temp)
    for drift, act in zip(settings.injections, activations, strict=True):
        if drift.type == "prior":
            level *= 1.0 + drift.magnitude * act
        elif drift.type == "concept":
            weight = drift.magnitude * act
            if drift.feature == "temp":
                temp_response = temp_response ** (1.0 - weight) * _temp_response(1.0 - temp) ** weight
            else:
                if drift.feature == "hr":
                    shifted = (hr - CONCEPT_HOUR_SHIFT) % 24
                    new_profile = np.where(is_working, working[shifted], off[shifted])
                else:  # workingday: the two profiles swap
                    new_profile = np.where(is_working, off[hr], working[hr])
                profile = profile ** (1.0 - weight) * new_profile**weight

    growth = (1.0 + settings.growth_per_year) ** (hours_since_start / HOURS_PER_YEAR)
    weather = np.asarray(WEATHER_PENALTY)[weathersit - 1]
    return (
        DEMAND_BASE
        * growth
        * profile
        * temp_response
        * weather
        * np.exp(-HUM_EFFECT * (hum - HUM_MEAN))
        * np.exp(-WIND_EFFECT * (windspeed - WIND_MEAN))
        * level
    )


def _temp_response(temp: np.ndarray) -> np.ndarray:
    return np.exp(-(((temp - TEMP_RESPONSE_OPTIMUM) / TEMP_RESPONSE_WIDTH) ** 2))


def _apply_upstream(frame: pd.DataFrame, settings: SimulatorSettings, week_float: np.ndarray) -> pd.DataFrame:
    if not settings.upstream_changes:
        return frame
    frame = frame.copy()
    for j, change in enumerate(settings.upstream_changes):
        rng = np.random.default_rng([settings.seed, 1000 + j])
        affected = _activation(change, week_float, float(settings.weeks), rng) > 0
        if change.share < 1.0:
            affected &= rng.random(len(frame)) < change.share
        values = frame[change.column].to_numpy(dtype=float, copy=True)
        if change.kind == "fahrenheit":
            divisor = TEMP_SCALE if change.column == "temp" else ATEMP_SCALE
            values[affected] = (values[affected] * divisor * 9.0 / 5.0 + 32.0) / divisor
        elif change.kind == "scale":
            values[affected] = values[affected] * change.factor
        else:
            values[affected] = np.nan
        original = frame[change.column]
        if original.dtype.kind in "iu" and change.kind != "missing" and np.all(values == np.round(values)):
            frame[change.column] = values.astype(original.dtype)
        else:
            frame[change.column] = values
    return frame


def simulate_weeks(settings: SimulatorSettings, first_week: int, last_week: int) -> pd.DataFrame:
    """Weeks first_week..last_week (0-based, inclusive) of the world `settings` describes.

    The whole world is simulated and sliced, so a week's rows are the same whatever slice asks.
    """
    if not 0 <= first_week <= last_week < settings.weeks:
        raise ValueError(f"weeks {first_week}..{last_week} are outside the simulated 0..{settings.weeks - 1}")
    frame = simulate(settings)
    rows = slice(first_week * HOURS_PER_WEEK, (last_week + 1) * HOURS_PER_WEEK)
    return frame.iloc[rows].reset_index(drop=True)


if __name__ == "__main__":
    import time

    simulate(SimulatorSettings(weeks=1))  # warm up imports
    began = time.perf_counter()
    world = simulate(SimulatorSettings())
    print(f"simulate(104 weeks): {len(world):,} rows in {time.perf_counter() - began:.3f} s")
