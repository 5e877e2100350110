"""The privacy policy's checkable claims (``config/policy/claims.toml``) as typed models.

Each ``[claim.<id>]`` names its check type in ``check``; the check type decides which parameters
the claim takes (:data:`ClaimModel` is the union of one model per check type, told apart by
``check``), so a parameter of another check, a missing one or a regular expression that does not
compile is reported with the file and key, all problems of the file in one
:class:`~workbench.configuration.ConfigError`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, StrictBool, StrictInt, model_validator

from workbench.configuration import ConfigModel, Regex, Text

Severity = Literal["low", "medium", "high"]


Texts = Annotated[list[Text], Field(min_length=1)]
Patterns = Annotated[list[Regex], Field(min_length=1)]


class _Model(ConfigModel):
    """TOML gives exact types, so none is coerced."""

    model_config = ConfigDict(strict=True)


class _Claim(_Model):
    """What every claim says: the policy's sentence, what it asserts, and how a failure weighs."""

    quote: Text
    asserts: Text
    severity: Severity
    source: Text
    suggestion: Text

    def params(self) -> dict[str, Any]:
        """The check's own parameters, as the check reads them; those not given are left out."""
        common = set(_Claim.model_fields) | {"check"}
        return self.model_dump(exclude=common, exclude_none=True)


class SystemsNamed(_Claim):
    check: Literal["systems_named"]


class ProcessorAgreements(_Claim):
    check: Literal["processor_agreements"]


class RetentionAges(_Claim):
    check: Literal["retention_ages"]
    year_end: StrictBool | None = None
    inactive_years: StrictInt | None = None


class ResponseTimes(_Claim):
    check: Literal["response_times"]
    days: StrictInt


class ErasureLog(_Claim):
    check: Literal["erasure_log"]


class ForbiddenUses(_Claim):
    check: Literal["forbidden_uses"]
    forbidden: Texts


class CategoryStatement(_Claim):
    check: Literal["category_statement"]
    policy_says: Literal["personal", "not_personal"]
    categories: Texts
    reasoning: Text


class TransfersNamed(_Claim):
    check: Literal["transfers_named"]
    transfer_patterns: Patterns
    safeguard_patterns: Patterns


class Element(_Model):
    """One Art. 13/14 element: found when one of ``patterns`` matches, or every one of ``all``."""

    id: Text
    label: Text
    article: Text
    patterns: Patterns | None = None
    all: Patterns | None = None
    section: Text | None = None
    suggestion: Text | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Element:
        if (self.patterns is None) == (self.all is None):
            raise ValueError("give exactly one of patterns, all")
        return self


class Completeness(_Claim):
    check: Literal["completeness"]
    elements: Annotated[list[Element], Field(min_length=1)]


class LogsHoldIps(_Claim):
    check: Literal["logs_hold_ips"]


ClaimModel = Annotated[SystemsNamed | ProcessorAgreements | RetentionAges | ResponseTimes | ErasureLog
                       | ForbiddenUses | CategoryStatement | TransfersNamed | Completeness | LogsHoldIps,
                       Field(discriminator="check")]
CHECK_TYPES = tuple(get_args(m.model_fields["check"].annotation)[0] for m in (
    SystemsNamed, ProcessorAgreements, RetentionAges, ResponseTimes, ErasureLog, ForbiddenUses,
    CategoryStatement, TransfersNamed, Completeness, LogsHoldIps))


class ClaimsFile(_Model):
    policy: dict[str, Any] = {}
    processors: dict[str, Text] = {}  # register processor key -> the name the policy uses
    claim: Annotated[dict[str, ClaimModel], Field(min_length=1)]
