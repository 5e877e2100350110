"""The app ``workbench dashboard`` serves with ``panel serve``: the dashboards of the workspace
named by $WORKBENCH_DASHBOARD_WORKSPACE (or the first argument after ``--args``), with the
register in $WORKBENCH_DASHBOARD_REGISTER and packages written under $WORKBENCH_DASHBOARD_REPORTS
when they are set."""

import os
import sys
from pathlib import Path

from workbench.reference import register
from workbench.store.workspace import Workspace
from workbench.ui import dashboard

_workspace = os.environ.get("WORKBENCH_DASHBOARD_WORKSPACE") or (sys.argv[1] if sys.argv[1:] else None)
_register = os.environ.get("WORKBENCH_DASHBOARD_REGISTER")
_reports = os.environ.get("WORKBENCH_DASHBOARD_REPORTS")

dashboard.template(Workspace(_workspace), register.load(Path(_register) if _register else None),
                   Path(_reports) if _reports else None).servable()
