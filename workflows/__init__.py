"""Deterministic workflow code only. ``WORKFLOWS`` is what a worker registers."""

from workflows.launcher import ScheduledSyncWorkflow
from workflows.sync import SyncWorkflow

WORKFLOWS = [SyncWorkflow, ScheduledSyncWorkflow]
