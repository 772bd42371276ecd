"""Status as typed sections (``sections``), merged (``compose``) and written once per
reconcile by the one writer (``writer``), which posts Events from differences
(``events``). The serving section is ``serving``; the registry lists every section."""
