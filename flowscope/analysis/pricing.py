"""Prices: dated tables per billing meter (and region where prices differ), with free tiers.

The only place in flowscope that knows a price. Collectors count quantities per `Meter`;
this module turns them into US dollars. Every figure names its source and the date it was read.

Two ways in:

- ``price(meter, quantity, region=..., kind=..., on=...)``: dollars for a monthly quantity,
  tiers, increments and the monthly free tier applied (what a bill would say for that meter alone);
  ``monthly_bill(quantities, ...)`` the same for several meters, a free tier they share taken once.
- ``price_table(on)`` / ``priced_usage(usage, workflows, on)``: marginal unit prices as an Ibis
  memtable joined on meter in the engine, for costing millions of usage rows. Free tiers are
  account-wide and monthly, so per-step and per-workflow figures use marginal (list) prices.

Sources (read 2026; prices in USD):

- [AWS-SFN] https://aws.amazon.com/step-functions/pricing/ : Standard "$0.025 per 1,000 state
  transitions", "4,000 free state transitions per month", "each retry will be charged as an
  additional state transition"; regional table (US West N. California $0.0279, Sao Paulo $0.0375,
  GovCloud $0.0300, Paris $0.0297, Seoul $0.0271, Mumbai $0.0285 per 1,000; others $0.0250).
  Express: "$1.00 per million" requests (AWS Compute Blog, "Building cost-effective AWS Step
  Functions workflows"); duration "rounded up to the nearest 100ms" and memory "billed in 64-MB
  chunks"; $0.00001667 per GB-second for the first 1,000 GB-hours, $0.00000833 for the next
  4,000 GB-hours, $0.00000456 beyond (tier table as quoted from the pricing page in public notes;
  the AWS workshop's "$0.0000001042 per 100 ms" at 64 MB equals $0.00001667 per GB-second). These are the
  US East rates; no regional Express rate was found in the stored pages (their table is rendered client
  side), so every region is priced at them: `express_cost(region=...)` takes a regional row once one is
  added, and an Express what-if says which rates it used (`express_price_region`).
- [AZ-LA] https://azure.microsoft.com/pricing/details/logic-apps/ and
  https://learn.microsoft.com/azure/logic-apps/logic-apps-pricing : Consumption plan: "an initial
  number of free built-in operations, per Azure subscription" (4,000 per month), built-in actions
  and triggers $0.000025 per execution, standard connector $0.000125, enterprise connector $0.001
  per call; Standard plan (single-tenant, Workflow Standard WS1 = 1 vCPU, 3.5 GB) billed per hour:
  $0.192 per vCPU-hour and $0.0137 per GB-hour, built-in operations included (no per-action charge).
  The Azure per-unit figures are the public East US list prices as widely quoted; the stored
  copies of the pages did not include the rate table, so re-check them against the page.
- [GCP-WF] https://cloud.google.com/workflows/pricing : "Each retry attempt counts as a step
  execution"; monthly free usage "Internal steps 5,000", "External steps 2,000"; internal steps
  $0.01 per 1,000, external steps $0.025 per 1,000 ("You incur charges for increments of 1,000
  internal steps or external steps": the steps past the free tier are charged in whole thousands).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowscope.model import C, Kind, Meter

if TYPE_CHECKING:
    import ibis.expr.types as ir


@dataclass(frozen=True)
class Price:
    meter: Meter
    effective: dt.date                  # first day this price applies
    unit_usd: float                     # per unit of the meter's quantity (marginal, first paid tier)
    region: str | None = None           # None: every region without its own row
    free_per_month: float = 0.0
    tiers: tuple[tuple[float, float], ...] = ()   # (units up to, unit price) after the free tier
    source: str = ""
    free_pool: str = ""                 # meters of one pool share one free tier (else the meter's own)
    increment: float = 0.0              # billable units are charged in whole increments of this many


_D = dt.date(2020, 1, 1)
_AZ_BUILTIN = "azure.logic.builtin_operations"

PRICES: tuple[Price, ...] = (
    # [AWS-SFN] Standard: per state transition ($ per 1,000 / 1,000), 4,000 free per month.
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.025 / 1000, free_per_month=4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0279 / 1000, "us-west-1", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0375 / 1000, "sa-east-1", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0300 / 1000, "us-gov-east-1", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0300 / 1000, "us-gov-west-1", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0297 / 1000, "eu-west-3", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0271 / 1000, "ap-northeast-2", 4000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_STATE_TRANSITION, _D, 0.0285 / 1000, "ap-south-1", 4000, source="AWS-SFN"),
    # [AWS-SFN] Express: $1.00 per million requests; GB-seconds tiered by GB-hours per month.
    Price(Meter.AWS_SFN_EXPRESS_REQUEST, _D, 1.00 / 1_000_000, source="AWS-SFN"),
    Price(Meter.AWS_SFN_EXPRESS_GB_SECOND, _D, 0.00001667,
          tiers=((1000 * 3600.0, 0.00001667), (5000 * 3600.0, 0.00000833), (math.inf, 0.00000456)),
          source="AWS-SFN"),
    # [AZ-LA] Consumption: per operation execution; 4,000 free built-in operations per month, triggers
    # and actions together (one pool: 3,000 trigger runs were billed in full beside free actions).
    Price(Meter.AZURE_LOGIC_BUILTIN_ACTION, _D, 0.000025, free_per_month=4000, source="AZ-LA",
          free_pool=_AZ_BUILTIN),
    Price(Meter.AZURE_LOGIC_BUILTIN_TRIGGER, _D, 0.000025, free_per_month=4000, source="AZ-LA",
          free_pool=_AZ_BUILTIN),
    Price(Meter.AZURE_LOGIC_STANDARD_CONNECTOR, _D, 0.000125, source="AZ-LA"),
    Price(Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR, _D, 0.001, source="AZ-LA"),
    # Definition unknown: priced as a built-in action (the cheapest, its free tier too), so costs are
    # never overstated.
    Price(Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION, _D, 0.000025, free_per_month=4000, source="AZ-LA",
          free_pool=_AZ_BUILTIN),
    # [AZ-LA] Standard plan: per vCPU-hour and per GB-hour of the hosting plan.
    Price(Meter.AZURE_LOGIC_STANDARD_PLAN_VCPU_HOUR, _D, 0.192, source="AZ-LA"),
    Price(Meter.AZURE_LOGIC_STANDARD_PLAN_GB_HOUR, _D, 0.0137, source="AZ-LA"),
    # [GCP-WF] per step; free 5,000 internal and 2,000 external steps per month; the steps past them are
    # charged "for increments of 1,000" (5,001 internal steps: one increment, $0.01).
    Price(Meter.GCP_WORKFLOWS_INTERNAL_STEP, _D, 0.01 / 1000, free_per_month=5000, source="GCP-WF", increment=1000),
    Price(Meter.GCP_WORKFLOWS_EXTERNAL_STEP, _D, 0.025 / 1000, free_per_month=2000, source="GCP-WF", increment=1000),
)

UNCLASSIFIED = Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION
"""A Logic Apps action stored before its definition was read: a built-in action or a connector call, unknown.
Priced as a built-in action (the cheapest, never overstated); on a Standard plan that is $0, which
`collection.unpriced_usage` says, since a managed connector call among them is billed per call."""

# Logic Apps Standard (single-tenant) bills the plan per hour; its built-in operations cost nothing
# per execution [AZ-LA]. Managed (standard/enterprise) connector calls are still billed per call.
STANDARD_PLAN_FREE_METERS = frozenset({
    Meter.AZURE_LOGIC_BUILTIN_ACTION, Meter.AZURE_LOGIC_BUILTIN_TRIGGER, Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION,
})

# Meters billed per operation (a transition, an action or connector call, a step): the units
# retries add to. Express requests/GB-seconds and plan hours are not per operation.
OPERATION_METERS = frozenset({
    Meter.AWS_SFN_STATE_TRANSITION, Meter.AZURE_LOGIC_BUILTIN_ACTION, Meter.AZURE_LOGIC_BUILTIN_TRIGGER,
    Meter.AZURE_LOGIC_STANDARD_CONNECTOR, Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR,
    Meter.AZURE_LOGIC_UNCLASSIFIED_ACTION, Meter.GCP_WORKFLOWS_INTERNAL_STEP, Meter.GCP_WORKFLOWS_EXTERNAL_STEP,
})


def free_per_unit(meter: Meter | str, kind: str | None) -> bool:
    """Whether a unit of `meter` costs nothing for a workflow of `kind`: Logic Apps Standard built-in
    operations, paid in plan hours [AZ-LA]. Such units are neither spend nor billable units."""
    return kind == Kind.LOGICAPP_STANDARD and Meter(meter) in STANDARD_PLAN_FREE_METERS


def retry_units_per_attempt(kind: str | None, cloud: str | None = None, meter: Meter | str | None = None) -> float:
    """Billable units one retry attempt adds, per workflow kind (and the step's meter, when known).

    Step Functions Standard: one state transition ("each retry will be charged as an additional
    state transition" [AWS-SFN]). Express: none (billed per request and duration; a retry only
    adds duration). Logic Apps: one operation execution per try (how the Azure transform meters
    actions, quantity = attempts; re-check against [AZ-LA]). GCP Workflows: one step ("each retry
    attempt counts as a step execution" [GCP-WF]). Unknown kind: one unit, unless the cloud is unknown too.
    A meter `free_per_unit` for the kind (a Standard built-in action's tries): none.
    """
    if kind == Kind.SFN_EXPRESS or (meter is not None and free_per_unit(meter, kind)):
        return 0.0
    if kind in (Kind.SFN_STANDARD, Kind.LOGICAPP_CONSUMPTION, Kind.LOGICAPP_STANDARD, Kind.GCP_WORKFLOWS):
        return 1.0
    return 1.0 if cloud else 0.0


HOURS_PER_MONTH = 730.0  # Azure's convention for monthly figures


def price_day(on: dt.date | None) -> dt.date:
    """The day whose prices apply to `on` (today by default): usage before the list's first date (an
    export from 2018) is priced as of that date, since the list holds no earlier prices (it read no
    price at all and the analyses failed)."""
    return max(on or dt.date.today(), min(p.effective for p in PRICES))


def _lookup(meter: Meter | str, region: str | None, on: dt.date | None) -> Price:
    meter = Meter(meter)
    day = price_day(on)
    rows = [p for p in PRICES if p.meter == meter and p.effective <= day]
    if not rows:
        raise KeyError(f"no price for meter {meter} on {day}")
    regional = [p for p in rows if region is not None and p.region == region]
    pool = regional or [p for p in rows if p.region is None]
    return max(pool, key=lambda p: p.effective)


def unit_price(meter: Meter | str, *, region: str | None = None, kind: str | None = None,
               on: dt.date | None = None) -> float:
    """Marginal price of one unit (first paid tier), as the per-step and per-workflow figures use."""
    if free_per_unit(meter, kind):
        return 0.0
    return _lookup(meter, region, on).unit_usd


def price(meter: Meter | str, quantity: float, *, region: str | None = None, kind: str | None = None,
          on: dt.date | None = None, free_tier: bool = True) -> float:
    """Dollars for `quantity` units of `meter` used in one month: free tier, increments, then tiers.
    A meter whose free tier is shared (`Price.free_pool`) gets all of it here: `monthly_bill` for several."""
    return monthly_bill({meter: quantity}, region=region, kind=kind, on=on, free_tier=free_tier)


def monthly_bill(quantities: Mapping[Meter | str, float], *, region: str | None = None, kind: str | None = None,
                 on: dt.date | None = None, free_tier: bool = True) -> float:
    """Dollars for one month's `quantities` per meter (one account, region and workflow kind): each meter's
    free tier, a free tier shared by a pool of meters taken once (Azure's built-in operations: triggers and
    actions [AZ-LA]), billable units rounded up to the meter's increment [GCP-WF], then its tiers."""
    free_left: dict[str, float] = {}
    total = 0.0
    for meter, quantity in quantities.items():
        if quantity <= 0 or free_per_unit(meter, kind):
            continue
        p = _lookup(meter, region, on)
        free = 0.0
        if free_tier:
            pool = p.free_pool or str(p.meter)
            free = min(quantity, free_left.setdefault(pool, p.free_per_month))
            free_left[pool] -= free
        total += _charge(p, quantity - free)
    return total


def _charge(p: Price, billable: float) -> float:
    """Dollars for `billable` units of `p`'s meter past its free tier."""
    if billable <= 0:
        return 0.0
    if p.increment:
        billable = math.ceil(billable / p.increment) * p.increment
    if not p.tiers:
        return billable * p.unit_usd
    total, floor = 0.0, 0.0
    for upto, usd in p.tiers:
        take = min(billable, upto) - floor
        if take <= 0:
            break
        total += take * usd
        floor = upto
    return total


EXPRESS_BILLING_INCREMENT_MS = 100
"""Express duration is "rounded up to the nearest 100ms" [AWS-SFN]; a run is billed one increment at least."""
EXPRESS_MEMORY_CHUNK_MB = 64
"""Express memory is "billed in 64-MB chunks" [AWS-SFN]; a run uses one chunk at least."""


def express_billed_gb_seconds(duration_ms: float, memory_mb: float | None = None) -> float:
    """GB-seconds one Express run is billed: duration rounded up to 100 ms (100 ms at least),
    memory rounded up to 64 MB chunks (one chunk at least) [AWS-SFN].

    `memory_mb` None: unknown, assumed one 64 MB chunk, which holds for workflows with small
    definitions and payloads (memory = 50 MB + definition + payload x Parallel/Map steps). The one
    rule: the AWS transform meters usage with it, `express_billed_units_expr` is its engine twin.
    """
    increments = max(1, math.ceil(max(duration_ms, 0) / EXPRESS_BILLING_INCREMENT_MS))
    chunks = max(1, math.ceil((memory_mb or 0) / EXPRESS_MEMORY_CHUNK_MB))
    return (increments * EXPRESS_BILLING_INCREMENT_MS / 1000.0) * (chunks * EXPRESS_MEMORY_CHUNK_MB / 1024.0)


EXPRESS_GB_SECONDS_PER_UNIT = (EXPRESS_BILLING_INCREMENT_MS / 1000.0) * (EXPRESS_MEMORY_CHUNK_MB / 1024.0)
"""GB-seconds of one billed unit: 100 ms at one 64 MB chunk."""


def express_billed_units_expr(duration_ms: ir.NumericValue, memory_mb: ir.NumericValue) -> ir.IntegerValue:
    """`express_billed_gb_seconds` as an engine expression over duration and memory columns, in whole
    billed units (100 ms increments x 64 MB chunks; x `EXPRESS_GB_SECONDS_PER_UNIT` = GB-seconds; a null
    memory counts as one chunk). Whole numbers, so a sum over any number of runs is exact in any order:
    a parallel sum of per-run GB-seconds flipped a total's 9th decimal from run to run."""
    increments = (duration_ms.cast("float64").clip(lower=0) / EXPRESS_BILLING_INCREMENT_MS).ceil().clip(lower=1)
    chunks = (memory_mb.cast("float64").fill_null(0.0) / EXPRESS_MEMORY_CHUNK_MB).ceil().clip(lower=1)
    return (increments * chunks).cast("int64")


def express_cost(executions: float, gb_seconds: float, *, region: str | None = None, on: dt.date | None = None,
                 free_tier: bool = False) -> float:
    """What `executions` Express requests and their GB-seconds cost in a month in `region`: its rows of the
    list where it has them (`express_price_region`), else the default (US East) rates. A Standard machine's
    transitions are priced in its region; its Express what-if was priced in US East whatever the region."""
    return (price(Meter.AWS_SFN_EXPRESS_REQUEST, executions, region=region, on=on, free_tier=free_tier)
            + price(Meter.AWS_SFN_EXPRESS_GB_SECOND, gb_seconds, region=region, on=on, free_tier=free_tier))


def priced_region(meter: Meter | str, region: str | None, on: dt.date | None = None) -> str | None:
    """The region whose row of the list prices `meter` in `region`: `region` when it has its own row, None
    when the default row applies (the list holds the regions whose price differs, [AWS-SFN])."""
    return _lookup(meter, region, on).region


def express_price_region(region: str | None, on: dt.date | None = None) -> str | None:
    """`priced_region` of Express (requests and GB-seconds alike; None: the default rates): what an Express
    what-if says beside its figure, since the list has no regional Express rates yet and a region whose
    transitions cost more (Sao Paulo's $0.0375) likely pays more for Express too."""
    regions = {priced_region(m, region, on) for m in (Meter.AWS_SFN_EXPRESS_REQUEST, Meter.AWS_SFN_EXPRESS_GB_SECOND)}
    return region if regions == {region} and region is not None else None


def standard_plan_monthly(vcpu: float, memory_gb: float, *, on: dt.date | None = None,
                          hours: float = HOURS_PER_MONTH) -> float:
    """A Logic Apps Standard plan of `vcpu` and `memory_gb` for a month of `hours` (Azure's 730 by default).
    The analyses pass their own month (`Thresholds.monthly_days` x 24): a plan fee of 730 hours set against
    usage projected over another month compared two months."""
    return (unit_price(Meter.AZURE_LOGIC_STANDARD_PLAN_VCPU_HOUR, on=on) * vcpu
            + unit_price(Meter.AZURE_LOGIC_STANDARD_PLAN_GB_HOUR, on=on) * memory_gb) * hours


# ---------------------------------------------------------------- in the engine

def price_rows(on: dt.date | None = None) -> dict[str, list]:
    """Marginal unit prices in effect on `on` (today by default) as columns: p_meter, p_region ('' for
    the default row), unit_usd, free_std (1 where a Logic Apps Standard workflow pays nothing per unit).
    The one price list both engines read: `price_table` (Ibis) and the dashboard's SQL (`PRICED_USAGE_SQL`)."""
    day = price_day(on)
    rows: dict[tuple[str, str], float] = {}
    for p in sorted(PRICES, key=lambda p: p.effective):
        if p.effective <= day:
            rows[(str(p.meter), p.region or "")] = p.unit_usd
    free = {str(x) for x in STANDARD_PLAN_FREE_METERS}
    return {"p_meter": [m for m, _ in rows], "p_region": [r for _, r in rows], "unit_usd": list(rows.values()),
            "free_std": [1 if m in free else 0 for m, _ in rows]}


def price_table(on: dt.date | None = None) -> ir.Table:
    """`price_rows` as an Ibis memtable, for `priced_usage`."""
    import ibis  # the engine only where an expression is built: billing rules stay light
    return ibis.memtable(price_rows(on), schema={"p_meter": "string", "p_region": "string", "unit_usd": "float64",
                                                 "free_std": "int64"})


PRICED_USAGE_SQL = """
    SELECT u.*, CASE WHEN k.kind = '{standard}' AND d.free_std = 1 THEN 0.0
                ELSE coalesce(r.unit_usd, d.unit_usd, 0.0) END AS unit_usd
    FROM ({{rows}}) u
    LEFT JOIN {{prices}} d ON d.p_meter = u.{meter} AND d.p_region = ''
    LEFT JOIN {{prices}} r ON r.p_meter = u.{meter} AND r.p_region = u.{region}
    LEFT JOIN {{kinds}} k ON k.{cloud} = u.{cloud} AND k.{workflow_id} = u.{workflow_id}
""".format(standard=str(Kind.LOGICAPP_STANDARD), meter=C.meter, region=C.region, cloud=C.cloud,
           workflow_id=C.workflow_id)
"""`priced_usage` as SQL (for DuckDB over a registered `price_rows` table and a table of each workflow's
kind, `{kinds}`: cloud, workflow_id, kind, by the analyses' rule, its definitions' kind, else its runs'):
rows of `{rows}` with `unit_usd`, the marginal unit price; the same rule, regional price first, then the
default, nothing per unit for Logic Apps Standard built-in operations."""


def priced_usage_sql(rows: str, prices: str = "fs_prices", kinds: str = "fs_kinds") -> str:
    """`PRICED_USAGE_SQL` over the usage rows (or per-price-key sums) of the SQL `rows`."""
    return PRICED_USAGE_SQL.format(rows=rows, prices=prices, kinds=kinds)


def priced_usage(usage: ir.Table, kinds: ir.Table, on: dt.date | None = None) -> ir.Table:
    """Usage rows with `usd` (marginal price x quantity), priced in the engine.

    `kinds` maps (cloud, workflow_id) to the workflow's kind (a small table).
    """
    import ibis  # the engine only where an expression is built: billing rules stay light
    pt = price_table(on)
    default = pt.filter(pt.p_region == "").select(d_meter=pt.p_meter, d_usd=pt.unit_usd, d_free=pt.free_std)
    regional = pt.filter(pt.p_region != "").select(r_meter=pt.p_meter, r_region=pt.p_region, r_usd=pt.unit_usd)
    k = kinds.select(k_cloud=kinds[C.cloud], k_wf=kinds[C.workflow_id], k_kind=kinds[C.kind])
    u = usage.left_join(default, usage[C.meter] == default.d_meter)
    u = u.left_join(regional, (u[C.meter] == regional.r_meter) & (u[C.region] == regional.r_region))
    u = u.left_join(k, (u[C.cloud] == k.k_cloud) & (u[C.workflow_id] == k.k_wf))
    unit = ibis.coalesce(u.r_usd, u.d_usd, 0.0)
    free = (u.k_kind == str(Kind.LOGICAPP_STANDARD)) & (u.d_free == 1)
    usd = ibis.ifelse(free.fill_null(False), 0.0, unit * u[C.quantity])
    return u.mutate(usd=usd).drop("d_meter", "d_usd", "d_free", "r_meter", "r_region", "r_usd",
                                  "k_cloud", "k_wf")
