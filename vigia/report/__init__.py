"""``vigia report``: one self-contained HTML file that tells how a model is doing.

sources   where the data comes from: the prediction store (SQLAlchemy) and Prometheus
          (range queries), each behind a small interface
analysis  pure computations on those data: confusion in counts, confident mistakes,
          drift per feature over time, trends, canary history, importance, fairness
figures   matplotlib figures rendered to inline SVG (no JavaScript, no fonts, no CDN)
page      the HTML: sections in business terms, every figure inline
build     wires them: ``build_report`` and ``write_report``
"""
