"""Separate credentials per namespace on one PostgreSQL: row-level security on the log.

Every row of the prediction log carries its namespace; the servers and retraining Jobs
filter on it themselves. With one credential for every namespace, though, whoever holds
the store Secret reads everyone's features and labels. With these policies, each
namespace's Secret holds a login role that is a member of ``vigia_ns_<namespace>`` and
PostgreSQL itself shows and accepts only that namespace's rows (docs/security.md).

An administrator (the tables' owner) runs ``row_security_sql()`` once, after the tables
exist, and ``namespace_role_sql()`` for each namespace.
"""

from __future__ import annotations

from typing import Final

from .store import feedback, predictions

NAMESPACE_ROLE_PREFIX: Final = "vigia_ns_"
POLICY: Final = "vigia_namespace"

# The namespaces whose group role the current login is a member of (directly or not).
_MEMBER_OF: Final = (
    f"namespace IN (SELECT substr(rolname::text, {len(NAMESPACE_ROLE_PREFIX) + 1}) "
    f"FROM pg_roles WHERE starts_with(rolname::text, '{NAMESPACE_ROLE_PREFIX}') "
    "AND pg_has_role(current_user, oid, 'MEMBER'))"
)
# A label is visible where its prediction is (that subquery is itself under the policy).
_OWN_PREDICTION: Final = (
    f"EXISTS (SELECT 1 FROM {predictions.name} p "
    f"WHERE p.id = {feedback.name}.prediction_id)"
)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def namespace_role(namespace: str) -> str:
    return f"{NAMESPACE_ROLE_PREFIX}{namespace}"


def row_security_sql() -> list[str]:
    """Turn on row-level security for both tables (run by their owner, once)."""
    statements = []
    for table, rule in ((predictions.name, _MEMBER_OF), (feedback.name, _OWN_PREDICTION)):
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"CREATE POLICY {POLICY} ON {table} USING ({rule}) WITH CHECK ({rule})",
        ]
    return statements


def namespace_role_sql(namespace: str, login: str, password: str) -> list[str]:
    """The group role of ``namespace`` and one login in it, allowed what the server
    (insert, read, prune) and the retraining Job (read) do: nothing else."""
    group = quote_ident(namespace_role(namespace))
    return [
        f"CREATE ROLE {group} NOLOGIN",
        f"GRANT SELECT, INSERT, DELETE ON {predictions.name}, {feedback.name} TO {group}",
        f"CREATE ROLE {quote_ident(login)} LOGIN PASSWORD {quote_literal(password)} "
        f"IN ROLE {group}",
    ]
