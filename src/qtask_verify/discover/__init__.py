"""`qtask-verify discover`: what a deployment looks like, against the contract, as a draft profile.

    discovery = await discover(environment)     # read-only, within 5 s
    render_profile(discovery, "staging")          # TOML to append to environments.toml
    render_table(discovery)                       # contract | found | assessment

A profile adopts only what the contract leaves open (names of the enum, indexes, foreign key,
revision, queue and dead-letter route); a violation stays a violation.
"""

from .discovery import discover
from .findings import Assessment, Discovery, Draft, DraftIndex, Finding, Unreachable
from .profile import render_profile
from .table import render_table

__all__ = [
    "Assessment",
    "Discovery",
    "Draft",
    "DraftIndex",
    "Finding",
    "Unreachable",
    "discover",
    "render_profile",
    "render_table",
]
